"""`Server`: one memory file served to many processes over a socket (``memactor serve``).

The server owns no writer of its own: it serves a `Memory` handle, so every client's writes go through
that handle's single writer actor and share its group commits, and reads go to its read pool. Each
connection runs in its own tasks (see `memactor.net.connection`); the accept loop survives any one of them.
Connections that have not yet authenticated are few (``max_unauthenticated``: past it, each new one
closes the oldest still waiting, so a flood of idle peers cannot lock out a client that handshakes at
once) and short-lived (``Limits.handshake_timeout``), and may send only a few KiB, so peers without a
token cannot make the server hold much memory. Writes queued toward the writer by all connections together
hold at most ``max_queued_write_bytes`` bytes; beyond it they wait.
Shutting down stops accepting, stops reading requests, answers those in flight, and closes connections;
leaving the `Memory` handle then commits everything queued. `Server.wait_idle` tells when no client has been
connected for a while (``memactor serve --idle-exit``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import SocketListener, TaskStatus

from ..actor.memory import Memory
from ..errors import InvalidInputError
from .budget import ByteBudget
from .connection import Limits, ServerConnection, Shared
from .endpoint import Endpoint
from .scope import Token
from .sessions import Sessions

__all__ = ["Limits", "Server", "serving"]

log = logging.getLogger("memactor.net.server")


class Server:
    """Serves one open `Memory` on one endpoint.

    Args:
        memory: An open handle; the server neither opens nor closes it.
        listen: ``unix:///path/to.sock`` or ``tcp://127.0.0.1:PORT`` (port 0: any free port).
        tokens: Accepted tokens. Required for TCP; optional for a Unix socket, whose mode 0600 already
            limits it to this user. When given, every connection must present one.
        allow_remote: Allow TCP on a non-loopback address.
        max_connections: Connections served at once; more are closed on accept.
        max_unauthenticated: Connections not yet authenticated at once; past it, each new connection
            closes the one that has waited longest.
        max_queued_write_bytes: Bytes of write commands waiting for or in the writer, all connections
            together; more wait.
        limits: Per-connection limits.
        sessions: Where client sessions (retried writes' outcomes) are kept; default `Sessions()`.
    """

    def __init__(
        self,
        memory: Memory,
        listen: str,
        *,
        tokens: Sequence[Token] = (),
        allow_remote: bool = False,
        max_connections: int = 4096,
        max_unauthenticated: int = 64,
        max_queued_write_bytes: int = 256 * 1024 * 1024,
        limits: Limits | None = None,
        sessions: Sessions | None = None,
    ) -> None:
        self.memory = memory
        self.endpoint = Endpoint.parse(listen)
        if self.endpoint.scheme == "tcp" and not tokens:
            raise InvalidInputError(
                "TCP needs at least one token (--token-file FILE or MEMACTOR_TOKENS); a Unix socket does not"
            )
        self.tokens = tuple(tokens)
        self.limits = limits or Limits()
        self.sessions = sessions if sessions is not None else Sessions()
        self.write_budget = ByteBudget(max_queued_write_bytes)
        # Tells clients whether a reconnect reached the same server process (see `memactor.net.client`).
        self.instance = secrets.token_hex(16)
        self._allow_remote = allow_remote
        self._max_connections = max_connections
        self._max_unauthenticated = max_unauthenticated
        # Insertion-ordered: the first is the one that has waited longest for its handshake.
        self._unauthenticated: dict[ServerConnection, None] = {}
        self._listener: SocketListener | None = None
        self._connections: set[ServerConnection] = set()
        self._accepting = anyio.CancelScope()
        self._stopping = False
        self._drained = anyio.Event()
        self._stopped = anyio.Event()
        self._grace = 10.0
        self._serving = False
        # Set (and replaced) on every connect and disconnect: restarts `wait_idle`'s timer.
        self._activity = anyio.Event()
        self._shared = Shared(self.memory, self.tokens, self.limits, self.sessions, self.write_budget, self.instance)

    @property
    def url(self) -> str:
        """Where clients connect (with the real port once bound)."""
        return self.endpoint.url

    async def bind(self) -> str:
        """Start listening; returns the URL clients connect to.

        Raises:
            OSError: the address is taken (a live server answers on the socket file) or not bindable.
            InvalidInputError: a non-loopback TCP address without ``allow_remote``.
        """
        self._listener, self.endpoint = await self.endpoint.listen(allow_remote=self._allow_remote)
        return self.url

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Accept and serve connections until `shutdown` (binding first if `bind` was not called)."""
        if self._listener is None:
            await self.bind()
        assert self._listener is not None
        self._serving = True
        try:
            async with anyio.create_task_group() as connections:
                task_status.started(self.url)
                with self._accepting:
                    await self._accept(self._listener, connections)
                # Shutting down: replies in flight get `grace` seconds, then every connection is closed.
                with anyio.move_on_after(self._grace):
                    await self._drained.wait()
                connections.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._listener.aclose()
            self.endpoint.remove()
            self._stopped.set()

    async def _accept(self, listener: SocketListener, connections: anyio.abc.TaskGroup) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # e.g. out of file descriptors: back off, never die
                log.warning("accept failed: %s", exc)
                await anyio.sleep(0.1)
                continue
            if len(self._connections) >= self._max_connections:
                log.warning("refusing a connection: %d already open", len(self._connections))
                await stream.aclose()
                continue
            connection = ServerConnection(self._shared, stream)
            if len(self._unauthenticated) >= self._max_unauthenticated:
                oldest = next(iter(self._unauthenticated))
                del self._unauthenticated[oldest]
                oldest.abandon_handshake()
            self._unauthenticated[connection] = None
            connections.start_soon(self._serve_one, connection)

    async def _serve_one(self, connection: ServerConnection) -> None:
        self._connections.add(connection)
        self._activity.set()
        try:
            await connection.run(lambda: self._unauthenticated.pop(connection, None))
        except Exception:
            log.exception("a connection failed")
        finally:
            self._unauthenticated.pop(connection, None)
            self._connections.discard(connection)
            self._activity.set()
            if self._stopping and not self._connections:
                self._drained.set()

    async def wait_idle(self, seconds: float) -> None:
        """Return once no connection has been open for ``seconds`` in a row.

        Every connect and every disconnect starts the count again, so a client that comes and goes keeps
        the server up as surely as one that stays.
        """
        while True:
            self._activity = activity = anyio.Event()
            if self._connections:
                await activity.wait()
                continue
            with anyio.move_on_after(seconds) as timer:
                await activity.wait()
            if timer.cancelled_caught:
                return

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting and reading; answer requests in flight; close every connection; wait for `serve`.

        Args:
            grace: Seconds to wait for replies to be sent before connections are closed regardless.
        """
        self._grace = grace
        self._stopping = True
        self._accepting.cancel()
        for connection in list(self._connections):
            connection.stop_reading()
        if not self._connections:
            self._drained.set()
        if self._serving:
            await self._stopped.wait()


@asynccontextmanager
async def serving(memory: Memory, listen: str, **options: Any) -> AsyncIterator[Server]:
    """Serve ``memory`` in the background for the duration of the block (tests, embedding).

    Yields:
        The running `Server`; its ``url`` is bound.
    """
    server = Server(memory, listen, **options)
    await server.bind()
    async with anyio.create_task_group() as group:
        await group.start(server.serve)
        try:
            yield server
        finally:
            await server.shutdown()
