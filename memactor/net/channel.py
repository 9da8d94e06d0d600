"""`Channel`: one live client connection, with many requests in flight matched to replies by id.

A receiver task resolves each request's future when its reply arrives (in any order); a sender task
writes queued requests in coalesced writes. The channel owns both tasks (it starts them; `close` stops
them and waits for them), so any task may close it, not only the one that opened it. When the
connection fails, the channel is dead: every request waiting on it, and every later one, gets
`ConnectionLostError`, and `memactor.net.client` opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketStream

from ..errors import CodecError, ConnectionLostError, InvalidInputError, MemactorError
from .endpoint import Endpoint
from .frames import FrameReader, Outbox
from .payloads import decode_value, encode_value
from .wire import DEFAULT_MAX_FRAME, HEADER_SIZE, MessageType, error_from_wire, pack_frame, unpack_message

__all__ = ["Channel"]

# How long `Channel.close` waits for its tasks to leave on their own before cancelling them (seconds).
_CLOSE_GRACE_S = 5.0

# Largest reply a client accepts unless the server announces a larger frame limit.
_MAX_REPLY = 1024 * 1024 * 1024


class Channel:
    """A handshaken connection to a server.

    Attributes:
        welcome: The server's ``WELCOME`` payload (instance, path, the token's scope, limits).
        instance: The server process's random id: a new one means the server restarted.
        dead: True once the connection failed or was closed.
    """

    def __init__(self, stream: SocketStream, reader: FrameReader, welcome: dict[str, Any]) -> None:
        self._stream = stream
        self._reader = reader
        self.welcome = welcome
        self.instance = str(welcome.get("instance"))
        self.max_frame = int(welcome.get("max_frame") or DEFAULT_MAX_FRAME)
        max_in_flight = int(welcome.get("max_in_flight") or 1)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._outbox = Outbox(max_in_flight)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self.dead = False

    @classmethod
    async def open(cls, endpoint: Endpoint, hello: dict[str, Any], timeout: float) -> Channel:
        """Connect, handshake, and start the channel's tasks.

        Raises:
            OSError: nothing listens at ``endpoint``.
            TimeoutError: no ``WELCOME`` within ``timeout`` seconds.
            AccessDeniedError: the server refused the token.
            ConnectionLostError: the server closed the connection during the handshake.
            MemactorError: the server refused the handshake otherwise (e.g. a protocol version mismatch).
        """
        with anyio.fail_after(timeout):
            stream = await endpoint.connect()
            try:
                reader = FrameReader(stream, _MAX_REPLY)
                await stream.send(pack_frame(0, MessageType.HELLO, hello))
                welcome = await _welcome(reader)
            except (anyio.BrokenResourceError, anyio.EndOfStream, anyio.ClosedResourceError, CodecError) as exc:
                await anyio.aclose_forcefully(stream)
                raise ConnectionLostError(f"the handshake with the server failed: {exc!r}") from exc
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
        channel = cls(stream, reader, welcome)
        loop = asyncio.get_running_loop()
        channel._tasks = [loop.create_task(channel._receive()), loop.create_task(channel._send())]
        return channel

    async def call(self, kind: MessageType, payload: Any) -> Any:
        """Send one request and wait for its reply.

        Returns:
            The reply's value.

        Raises:
            ConnectionLostError: the connection failed before the reply arrived.
            InvalidInputError: the request is larger than the server's frame limit.
            MemactorError: the server answered with an error (re-raised as the same class).
        """
        async with self._slots:
            request_id = next(self._ids)
            frame = pack_frame(request_id, kind, payload, default=encode_value)
            if len(frame) - HEADER_SIZE > self.max_frame:
                raise InvalidInputError(f"the request is {len(frame)} bytes; the server takes at most {self.max_frame}")
            # No await between this check and registering the future: a failure after it will see the future.
            if self.dead:
                raise ConnectionLostError("the connection to the server was lost")
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._pending[request_id] = future
            try:
                await self._outbox.put(frame)
                return await future
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                raise ConnectionLostError("the connection to the server was lost") from None
            finally:
                self._pending.pop(request_id, None)
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # seen here, or by the caller above: never "never retrieved"

    async def close(self) -> None:
        """Close the connection and wait for its tasks; requests still waiting get `ConnectionLostError`."""
        self._fail_all()
        self._outbox.close(drop=True)
        self._shut_down()
        if self._tasks:
            # Both tasks leave by themselves once the socket is shut down; cancelling is only the fallback.
            _, pending = await asyncio.wait(self._tasks, timeout=_CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await anyio.aclose_forcefully(self._stream)

    async def _receive(self) -> None:
        try:
            while (body := await self._reader.next()) is not None:
                message = unpack_message(body, use_list=True, ext_hook=decode_value)
                future = self._pending.get(message.request_id)
                if future is None or future.done():
                    continue  # its caller stopped waiting, or a connection-level error (id 0)
                if message.type is MessageType.RESULT:
                    future.set_result(message.payload)
                else:
                    future.set_exception(error_from_wire(message.payload))
        except (MemactorError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # a broken or garbled connection: fail what waits on it, the client reconnects
        finally:
            self._fail_all()
            self._outbox.close()  # ends the sender, which closes the outbox's receiving end
            await anyio.aclose_forcefully(self._stream)

    async def _send(self) -> None:
        try:
            await self._outbox.run(self._stream)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            self._fail_all()
            self._shut_down()  # the receiver sees the end and closes the stream itself

    def _shut_down(self) -> None:
        # Ends the connection without closing the stream under the receiver's feet: anyio's socket stream
        # wakes a pending receive from `aclose()` (and a cancelled one from `cancel()`) while the socket's own
        # reader callback may already be queued for the same wake-up, which then raises InvalidStateError on
        # the loop. After a shutdown the receiver reads the end of the stream and leaves by itself.
        sock = self._stream.extra(SocketAttribute.raw_socket, None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _fail_all(self) -> None:
        self.dead = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLostError("the connection to the server was lost"))
        self._pending.clear()


async def _welcome(reader: FrameReader) -> dict[str, Any]:
    body = await reader.next()
    if body is None:
        raise ConnectionLostError("the server closed the connection during the handshake")
    message = unpack_message(body, use_list=True, ext_hook=decode_value)
    if message.type is MessageType.ERROR:
        raise error_from_wire(message.payload)
    if message.type is not MessageType.WELCOME or not isinstance(message.payload, dict):
        raise CodecError(f"expected WELCOME from the server, got {message.type.name}")
    return message.payload
