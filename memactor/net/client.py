"""`connect`: a handle on a memory served by ``memactor serve``, with the same API as `memactor.open`.

`RemoteMemory` implements the `Backend` protocol (``execute`` and ``query``) over a socket, so the very
same stores and batch of `memactor.actor.stores` and `memactor.actor.batch` run on it: code written against
``open()`` works unchanged. Errors come back as the same classes.

Lost connections: a request waiting on a connection that fails is sent again on a new one, with
backoff, for up to ``retry_window`` seconds, then raises `ConnectionLostError`. Writes are sent again only
when that cannot apply them twice: every write carries a session-scoped id, so the same server process
answers a retry with the first attempt's outcome; after a server restart, only idempotent writes (adds,
whose ids are client-generated) are re-sent, and any other write in flight raises `ConnectionLostError`
(it may or may not have been committed before the server died). A handle given ``start_server`` (see
`memactor.net.autostart`) calls it when nobody listens at its address, and connects where it says a server
now answers.

Embeddings: ``connect(url, embedder=...)`` makes vectors here, in this process, with the same coalescer
and stores as `memactor.open`, and sends them in the commands (and the query's vector in `Search`); the
server only stores and searches them. On connect the handle sends `SetEmbedder`, so the file records the
embedder, or refuses another one with `EmbedderMismatchError` (a read-only token only checks it).

The token: ``connect(url, token=...)``, or, when ``token`` is not given, the environment variable
``MEMACTOR_TOKEN`` (so the secret need not appear in code or on a command line).

Streams: every page of one stream goes to one read lane of the server (hence, on PostgreSQL with replicas,
to one replica), as in process: the handle numbers its streams and sends the number with each page.

Closing: `RemoteMemory.close` may be called from any task (not only the one that opened the handle),
any number of times, also concurrently; every call returns once the handle is closed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal

import anyio

from ..actor.aio import require_asyncio
from ..actor.batch import BatchContext
from ..actor.blocking import SyncHandle
from ..actor.items import ItemStore
from ..actor.readpool import ReadPool, current_affinity
from ..actor.stores import EpisodeStore, FactStore, SkillStore
from ..codec import encode
from ..embed.coalesce import Coalescer
from ..embed.protocol import Embedder, check_embedder
from ..errors import ClosedError, ConnectionLostError
from ..model.commands import AddRecords, Batch, Command, Ping, SetEmbedder, SetQuota
from ..model.itemops import GetItems, SearchItems
from ..model.queries import Page, Query
from ..model.stats import Statistics
from .channel import Channel
from .endpoint import Endpoint
from .payloads import encode_query
from .scope import Grant, check_query, filter_result
from .wire import PROTOCOL_VERSION, MessageType

__all__ = ["TOKEN_ENV", "RemoteMemory", "connect", "connect_sync"]

# Where `connect` finds the token when none is passed.
TOKEN_ENV = "MEMACTOR_TOKEN"

_FIRST_DELAY = 0.02
_MAX_DELAY = 1.0


class RemoteMemory:
    """A handle on a served memory: ``episodes``, ``facts``, ``skills``, ``items``, ``batch()``, ``statistics()``.

    Use it as ``async with memactor.connect(url) as mem:``; see `connect` for the options, and for one
    more: ``start_server``, a coroutine function called when nobody listens at ``url``, which returns the
    URL where a server answers now (`memactor.net.autostart` passes one that starts the file's server).

    Attributes:
        url: The server's address.
        path: The memory file on the server's machine (known once connected).
        readonly: The token allows no writes.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        local_reads: bool = False,
        retry_window: float = 5.0,
        connect_timeout: float = 5.0,
        read_connections: int = 1,
        start_server: Callable[[], Awaitable[str]] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.url = url
        self._endpoint = Endpoint.parse(url)
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        self._local_reads = local_reads
        self._retry_window = retry_window
        self._connect_timeout = connect_timeout
        self._read_connections = read_connections
        self._start_server = start_server
        # Vectors are made in this process, before a command is sent: the server never embeds.
        self.embedding = None if embedder is None else Coalescer(check_embedder(embedder))
        self._session = secrets.token_hex(16)
        self._channel: Channel | None = None
        self._connecting = anyio.Lock()
        self._closing: asyncio.Future[None] | None = None
        self._pool: ReadPool | None = None
        self._grant = Grant("remote")
        self._statistics: Statistics | None = None
        self._next_write = 1
        self._next_stream = 1
        self._stream_lanes = False
        self._unanswered: dict[int, None] = {}
        self._state: Literal["new", "open", "closed"] = "new"
        self.path = ""
        self.readonly = False
        self.episodes = EpisodeStore(self, self.embedding)
        self.facts = FactStore(self, self.embedding)
        self.skills = SkillStore(self, self.embedding)
        self.items = ItemStore(self)

    async def __aenter__(self) -> RemoteMemory:
        require_asyncio("memactor.connect")
        if self._state != "new":
            raise ClosedError("a RemoteMemory handle can be opened once")
        self._state = "open"
        try:
            await self._connect(anyio.current_time() + self._retry_window)
            if self.embedding is not None:
                embedder = self.embedding.embedder
                await self.execute(SetEmbedder(embedder.name, embedder.dim, check_only=self.readonly))
            if self._local_reads:
                self._pool = ReadPool(self.path, self._read_connections)
                await self._pool.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection and the local read pool.

        Any task may call it, any number of times, also concurrently: every call returns once the handle
        is closed. Cancelling a call stops only its wait; the closing itself runs to its end.
        """
        self._state = "closed"
        if self._closing is None:
            # A task of its own: a cancelled caller (asyncio cancels through shields) cannot cut it short.
            self._closing = asyncio.ensure_future(self._close_now())
        await asyncio.shield(self._closing)

    async def _close_now(self) -> None:
        try:
            if self._channel is not None:
                await self._channel.close()
        finally:
            if self._pool is not None:
                await self._pool.close()

    async def execute(self, command: Command) -> Any:
        """Send one write command to the server and wait until it is committed.

        Returns:
            The command's result.

        Raises:
            ClosedError: the handle is not open.
            ConnectionLostError: no answer within ``retry_window`` of losing the server, or the server
                restarted while a write other than an add was in flight (outcome unknown).
            ReadOnlyError: the token is read-only.
            AccessDeniedError: the command touches a namespace outside the token's.
            CommandError: the command was rejected.
            StorageError: SQLite failed on the server; nothing of its batch was committed.
        """
        self._check_open()
        frame = encode(command)
        write_id = self._next_write
        self._next_write += 1
        self._unanswered[write_id] = None
        try:
            return await self._request(
                MessageType.EXECUTE, lambda: (write_id, self._done_below(), frame), _idempotent(command)
            )
        finally:
            del self._unanswered[write_id]

    async def query(self, query: Query) -> Any:
        """Answer one read query, on the server or (``local_reads``) on this process's own read pool.

        Raises:
            ClosedError: the handle is not open.
            ConnectionLostError: no answer within ``retry_window`` of losing the server.
            AccessDeniedError: the query names a namespace outside the token's.
        """
        self._check_open()
        # An item read that refreshes TTLs goes to the server, whose handle queues the refresh (a write).
        refreshes = isinstance(query, (GetItems, SearchItems)) and query.refresh
        if self._pool is not None and not refreshes:
            # The server's acknowledgement comes after COMMIT, so a read begun after it sees the write.
            query = check_query(self._grant, query)
            return filter_result(self._grant, query, await self._pool.run(query))
        stream = self._stream_key(query)
        # The key only to a server that takes it: an older one refuses a Page with an extra field.
        return await self._request(
            MessageType.QUERY, lambda: encode_query(query, stream if self._stream_lanes else None), True
        )

    def _stream_key(self, query: Query) -> int | None:
        """The key of the stream ``query`` is a page of (`memactor.actor.readpool.same_lane`), if any."""
        affinity = current_affinity()
        if affinity is None or not isinstance(query, Page):
            return None
        if affinity.key is None:
            affinity.key = self._next_stream
            self._next_stream += 1
        return affinity.key

    def batch(self) -> BatchContext:
        """Collect writes in an ``async with`` block and commit them as one atomic command on exit."""
        return BatchContext(self)

    async def set_max_size(self, max_size: int | None) -> None:
        """Set, raise or lift (None) the server's ``max_size`` quota, in bytes."""
        await self.execute(SetQuota(max_size))

    def statistics(self) -> Statistics:
        """The server's statistics as last fetched (at connect, or by `refresh_statistics`)."""
        assert self._statistics is not None, "the handle is not open"
        return self._statistics

    async def refresh_statistics(self) -> Statistics:
        """Fetch a fresh snapshot of the server's statistics, and return it."""
        self._check_open()
        self._statistics = await self._request(MessageType.STATS, lambda: None, True)
        return self._statistics

    def _check_open(self) -> None:
        if self._state != "open":
            raise ClosedError(f"the handle on {self.url} is {self._state}")

    def _done_below(self) -> int:
        return next(iter(self._unanswered), self._next_write)

    async def _request(self, kind: MessageType, payload: Callable[[], Any], idempotent: bool) -> Any:
        deadline: float | None = None
        sent_to: str | None = None
        while True:
            channel = await self._connect(deadline)
            if sent_to is not None and channel.instance != sent_to and not idempotent:
                raise ConnectionLostError(
                    f"the server at {self.url} restarted while a write was in flight: it may or may not have been "
                    "committed"
                )
            sent_to = channel.instance
            try:
                return await channel.call(kind, payload())
            except ConnectionLostError:
                if deadline is None:
                    deadline = anyio.current_time() + self._retry_window

    async def _connect(self, deadline: float | None) -> Channel:
        """The live channel, opening one if needed: once, or with backoff until ``deadline``."""
        if self._channel is not None and not self._channel.dead:
            return self._channel
        async with self._connecting:
            if self._channel is not None and not self._channel.dead:
                return self._channel
            delay = _FIRST_DELAY
            started = False
            while True:
                self._check_open()
                try:
                    return await self._open_channel(await self._handshake())
                except (OSError, TimeoutError, ConnectionLostError) as exc:
                    if self._start_server is not None and isinstance(exc, (ConnectionRefusedError, FileNotFoundError)):
                        self.url = await self._start_server()
                        self._endpoint = Endpoint.parse(self.url)
                        if not started:  # a server answered just now: try it at once, even without a deadline
                            started = True
                            continue
                    if deadline is None or anyio.current_time() + delay > deadline:
                        raise ConnectionLostError(
                            f"cannot reach the memactor server at {self.url} ({str(exc) or type(exc).__name__}); check"
                            " that `memactor serve` is running and listens at that address"
                        ) from exc
                await anyio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)

    async def _handshake(self) -> Channel:
        hello = {"protocol": PROTOCOL_VERSION, "token": self._token, "session": self._session}
        return await Channel.open(self._endpoint, hello, self._connect_timeout)

    async def _open_channel(self, channel: Channel) -> Channel:
        if self._state != "open":
            await channel.close()  # closed while this connection was being made: close() did not see it
            self._check_open()
        welcome = channel.welcome
        namespaces = welcome.get("namespaces")
        self._grant = Grant(
            "remote", bool(welcome.get("readonly")), None if namespaces is None else frozenset(namespaces)
        )
        self.readonly = self._grant.readonly
        self.path = str(welcome.get("path"))
        self._statistics = welcome.get("statistics")
        self._stream_lanes = welcome.get("stream_lanes") is True
        self._channel = channel
        return channel


def _idempotent(command: Command) -> bool:
    """Whether applying ``command`` twice leaves the same state and result as applying it once."""
    if isinstance(command, Batch):
        return all(_idempotent(inner) for inner in command.commands)
    return isinstance(command, (AddRecords, Ping, SetEmbedder, SetQuota))


def connect(
    url: str,
    *,
    token: str | None = None,
    local_reads: bool = False,
    retry_window: float = 5.0,
    connect_timeout: float = 5.0,
    read_connections: int = 1,
    embedder: Embedder | None = None,
) -> RemoteMemory:
    """A handle on the memory served at ``url``; use the result as ``async with``.

    Args:
        url: ``unix:///path/to.sock`` or ``tcp://host:port``, as given to ``memactor serve --listen``.
        token: The secret of a token the server accepts (required for TCP). When None, the value of the
            environment variable ``MEMACTOR_TOKEN`` is used, if set.
        local_reads: Read the file directly through this process's own read-only pool (same machine,
            file readable); writes still go to the server. Read-your-writes holds: a write returns only
            after its COMMIT, which every read begun afterwards sees.
        retry_window: Seconds to keep trying to reach the server after losing it, before a request raises
            `ConnectionLostError` (also how long opening waits for a server that is starting).
        connect_timeout: Seconds one connection attempt (connect and handshake) may take.
        read_connections: Size of the local read pool (``local_reads`` only).
        embedder: Makes vectors for vector and hybrid search, in this process (see `memactor.open`). The
            server's file records its name and dimension on first use.

    Raises:
        ConnectionLostError: (on entering) no server answered within ``retry_window``.
        AccessDeniedError: (on entering) the server refused the token.
        EmbedderMismatchError: (on entering) the file records another embedder.
    """
    return RemoteMemory(
        url,
        token=token,
        local_reads=local_reads,
        retry_window=retry_window,
        connect_timeout=connect_timeout,
        read_connections=read_connections,
        embedder=embedder,
    )


def connect_sync(url: str, **options: Any) -> SyncHandle:
    """`connect` for blocking code; takes the same options.

    The handle is open on return. Use it in a ``with`` block, or keep it and call ``close()`` when done;
    one never closed is closed at interpreter exit.

    Returns:
        A blocking `RemoteMemory`: the same stores and methods, each call blocking until done.

    Raises:
        As `connect`, on connecting; `ClosedError` on every use after ``close()``.
    """
    remote = RemoteMemory(url, **options)

    async def opener() -> RemoteMemory:
        return remote

    return SyncHandle(opener, f"the handle on {url}")
