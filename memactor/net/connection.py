"""One client connection on the server: handshake, then pipelined requests answered out of order.

Before authentication a connection may send one frame of at most ``max_handshake`` bytes (checked on its
length prefix, decoded with small container limits) within ``handshake_timeout`` seconds. After it, a
reader task splits frames and starts one handler per request, at most ``max_in_flight`` requests and
``max_in_flight_bytes`` bytes at once; beyond either it stops reading, so a client that floods requests
only slows itself. Replies go
through a bounded outbox to one sender task; a client that stops reading fills it, its handlers wait, and
after ``send_timeout`` its connection is closed. No other connection waits for it at any point.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteStream, TaskGroup

from ..errors import AccessDeniedError, CodecError, MemactorError
from .budget import ByteBudget
from .frames import FrameReader, Outbox
from .guard import execute_as
from .payloads import decode_query_request, encode_value
from .scope import FULL_ACCESS, authenticate, check_query, filter_result, visible_statistics
from .sessions import Session, Sessions
from .streams import StreamLanes
from .wire import (
    HANDSHAKE_MAX_FRAME,
    HANDSHAKE_MAX_ITEMS,
    HEADER_SIZE,
    PROTOCOL_VERSION,
    FrameTooLargeError,
    Message,
    MessageType,
    error_to_wire,
    pack_frame,
    unpack_message,
)

if TYPE_CHECKING:
    from ..actor.memory import Memory
    from .scope import Token

__all__ = ["Limits", "ServerConnection", "Shared"]

log = logging.getLogger("memactor.net.server")
_MAX_SESSION_CHARS = 64


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits.

    Attributes:
        max_in_flight: Requests of one connection handled at once; beyond it the server stops reading.
        max_in_flight_bytes: Bytes of requests of one connection handled at once; beyond it the server
            stops reading (one larger request is still taken, alone).
        max_frame: Largest frame accepted after the handshake, in bytes (default 64 MiB); a larger length
            prefix closes the connection before any of the frame is buffered.
        max_handshake: Largest ``HELLO`` frame, in bytes: all an unauthenticated peer may make the server
            buffer and decode.
        handshake_timeout: Seconds a new connection has to send its ``HELLO``.
        send_timeout: Seconds one write to a client may block before the connection is closed.
    """

    max_in_flight: int = 128
    max_in_flight_bytes: int = 64 * 1024 * 1024
    max_frame: int = 64 * 1024 * 1024
    max_handshake: int = HANDSHAKE_MAX_FRAME
    handshake_timeout: float = 5.0
    send_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Shared:
    """What every connection of one server shares: the small context a connection needs, not the server.

    Attributes:
        memory: The open handle that serves every request.
        tokens: Accepted tokens; empty when none is required.
        limits: Per-connection limits.
        sessions: Client sessions (retried writes' outcomes).
        write_budget: Bytes of write commands waiting for or in the writer, all connections together.
        instance: This server process's id, sent in the welcome (see `memactor.net.client`).
    """

    memory: Memory
    tokens: tuple[Token, ...]
    limits: Limits
    sessions: Sessions
    write_budget: ByteBudget
    instance: str


class ServerConnection:
    """Serves one accepted connection until it closes or the server stops."""

    def __init__(self, shared: Shared, stream: ByteStream) -> None:
        self._shared = shared
        self._stream = stream
        self._limits = shared.limits
        self._reader = FrameReader(stream, self._limits.max_frame)
        # Plain asyncio tasks and semaphore on the hot path: an anyio task spawn costs ~35 us here, an
        # asyncio one ~6 us (memactor is asyncio-only anyway, see `memactor.actor.lane`).
        self._slots = asyncio.Semaphore(self._limits.max_in_flight)
        self._in_flight = ByteBudget(self._limits.max_in_flight_bytes)
        self._handlers: set[asyncio.Task[None]] = set()
        self._read_scope = anyio.CancelScope()
        self._handshake_scope = anyio.CancelScope()
        self._grant = FULL_ACCESS
        self._session: Session | None = None
        self._streams = StreamLanes()

    def abandon_handshake(self) -> None:
        """Close the connection if it has not authenticated yet (the server needs its place)."""
        self._handshake_scope.cancel()

    def stop_reading(self) -> None:
        """Take no more requests; the ones in flight are still answered."""
        self._read_scope.cancel()

    async def run(self, on_welcome: Callable[[], object] = lambda: None) -> None:
        """Handshake, then serve requests until the client leaves, misbehaves, or the server stops.

        Args:
            on_welcome: Called once the client is authenticated and welcomed.
        """
        try:
            await self._run(on_welcome)
        finally:
            if self._session is not None:
                self._shared.sessions.detach(self._session)

    async def _run(self, on_welcome: Callable[[], object]) -> None:
        async with self._stream:
            welcomed = False
            with self._read_scope:
                with self._handshake_scope, anyio.move_on_after(self._limits.handshake_timeout):
                    welcomed = await self._handshake()
                if not welcomed:
                    return
            on_welcome()
            self._outbox = Outbox(self._limits.max_in_flight)
            async with anyio.create_task_group() as connection:
                connection.start_soon(self._send, connection)
                try:
                    with self._read_scope:
                        await self._read()
                    if self._handlers:
                        await asyncio.wait(set(self._handlers))
                finally:
                    for handler in self._handlers:
                        handler.cancel()  # only if the connection is being torn down: writes run on regardless
                    self._outbox.close()

    async def _handshake(self) -> bool:
        try:
            body = await self._reader.next(self._limits.max_handshake)
            if body is None:
                return False
            message = unpack_message(body, max_items=HANDSHAKE_MAX_ITEMS)
            welcome = self._welcome(message)
        except MemactorError as exc:
            await self._refuse(exc)
            return False
        except (anyio.BrokenResourceError, OSError):
            return False
        await self._stream.send(pack_frame(0, MessageType.WELCOME, welcome, default=encode_value))
        return True

    def _welcome(self, message: Message) -> dict[str, Any]:
        hello = message.payload
        if message.type is not MessageType.HELLO or not isinstance(hello, dict):
            raise CodecError("the first message must be HELLO")
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise MemactorError(f"protocol version {hello.get('protocol')!r} is not served; this server speaks 1")
        session = hello.get("session")
        if not isinstance(session, str) or not 0 < len(session) <= _MAX_SESSION_CHARS:
            raise CodecError("HELLO needs a session id of 1-64 characters")
        shared = self._shared
        grant = authenticate(shared.tokens, hello.get("token")) if shared.tokens else FULL_ACCESS
        if grant is None:
            raise AccessDeniedError("the server refused the token (missing or wrong)")
        self._grant = grant
        self._session = shared.sessions.attach(grant.name, session)
        return {
            "protocol": PROTOCOL_VERSION,
            "instance": shared.instance,
            "path": shared.memory.path,
            "readonly": grant.readonly,
            "namespaces": None if grant.namespaces is None else sorted(grant.namespaces),
            "max_in_flight": self._limits.max_in_flight,
            "max_frame": self._limits.max_frame,
            "statistics": visible_statistics(grant, shared.memory.statistics()),
            "stream_lanes": True,  # a Page may carry its stream's key (see `memactor.net.payloads`)
        }

    async def _refuse(self, exc: BaseException) -> None:
        with anyio.move_on_after(1.0):
            try:
                await self._stream.send(pack_frame(0, MessageType.ERROR, error_to_wire(exc)))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass

    async def _read(self) -> None:
        while True:
            try:
                body = await self._reader.next()
            except FrameTooLargeError as exc:
                await self._outbox.put(pack_frame(0, MessageType.ERROR, error_to_wire(exc)))
                return  # the rest of that frame cannot be skipped safely: close the connection
            except CodecError:
                return  # the client closed in the middle of a frame
            except (anyio.BrokenResourceError, OSError):
                return
            if body is None:
                return
            await self._slots.acquire()
            await self._in_flight.acquire(len(body))
            handler = asyncio.get_running_loop().create_task(self._handle(body))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    async def _handle(self, body: bytes) -> None:
        try:
            reply = await self._answer(body)
            await self._outbox.put(reply)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the connection is closing; a write already handed to the writer still commits
        finally:
            self._in_flight.release(len(body))
            self._slots.release()

    async def _answer(self, body: bytes) -> bytes:
        request_id = 0
        try:
            message = unpack_message(body)
            request_id = message.request_id
            value = await self._dispatch(message)
            reply = pack_frame(request_id, MessageType.RESULT, value, default=encode_value)
            if len(reply) - HEADER_SIZE > self._limits.max_frame:
                raise CodecError(f"the result is {len(reply)} bytes, over the frame limit {self._limits.max_frame}")
            return reply
        except MemactorError as exc:
            return pack_frame(request_id, MessageType.ERROR, error_to_wire(exc))
        except Exception as exc:
            log.exception("request %d failed unexpectedly", request_id)
            return pack_frame(request_id, MessageType.ERROR, error_to_wire(exc))

    async def _dispatch(self, message: Message) -> Any:
        match message.type:
            case MessageType.EXECUTE:
                return await self._execute(message.payload)
            case MessageType.QUERY:
                query, stream = decode_query_request(message.payload)
                query = check_query(self._grant, query)
                with self._streams.reading(stream):  # this request's task only: its context is its own
                    result = await self._shared.memory.query(query)
                return filter_result(self._grant, query, result)
            case MessageType.STATS:
                return visible_statistics(self._grant, self._shared.memory.statistics())
        raise CodecError(f"a client may not send {message.type.name}")

    async def _execute(self, payload: Any) -> Any:
        if (
            not isinstance(payload, tuple)
            or len(payload) != 3
            or not all(type(n) is int for n in payload[:2])
            or not isinstance(payload[2], bytes)
        ):
            raise CodecError("EXECUTE takes [write_id, done_below, command bytes]")
        write_id, done_below, frame = payload
        assert self._session is not None
        self._session.prune(done_below)
        memory = self._shared.memory
        if self._grant is FULL_ACCESS:
            apply = functools.partial(memory.execute_encoded, frame)
        else:
            apply = functools.partial(execute_as, self._grant, memory, frame)
        return await self._session.run(write_id, functools.partial(self._write, len(frame), apply))

    async def _write(self, size: int, apply: Callable[[], Awaitable[Any]]) -> Any:
        # Bytes queued toward the writer by every connection share one budget: past it, writes wait here
        # (backpressure) rather than grow the writer's mailbox by count alone.
        async with self._shared.write_budget.hold(size):
            return await apply()

    async def _send(self, connection: TaskGroup) -> None:
        try:
            await self._outbox.run(self._stream, self._limits.send_timeout)
        except (TimeoutError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        # The client is gone or stalled: stop reading too. Shielded writes still finish and commit.
        connection.cancel_scope.cancel()
