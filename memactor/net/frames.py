"""Frames on a byte stream: a reader that splits them, an outbox that sends them in coalesced writes.

Both ends of a connection use these. The reader checks each length prefix against the limit before it
buffers a byte of the body. The outbox is bounded; its one sender task joins every frame waiting into a
single write, so replies to pipelined requests cost one system call per wake-up, not one each.
"""

from __future__ import annotations

import anyio
from anyio.abc import ByteStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..errors import CodecError
from .wire import HEADER_SIZE, frame_length

__all__ = ["FrameReader", "Outbox"]

_CHUNK = 256 * 1024
# Frames joined into one write, at most: keeps a burst of replies from building one huge buffer.
_MAX_COALESCED = 256


class FrameReader:
    """Splits a byte stream into frame bodies."""

    def __init__(self, stream: ByteStream, max_frame: int) -> None:
        self._stream = stream
        self._max_frame = max_frame
        self._buffer = bytearray()

    async def next(self, limit: int | None = None) -> bytes | None:
        """The next frame's body, or None when the peer closed the stream between frames.

        Args:
            limit: The largest body accepted for this frame (default: the reader's ``max_frame``), e.g.
                a few KiB for a handshake that comes before authentication.

        Raises:
            FrameTooLargeError: a length prefix over the limit (nothing of that body was buffered).
            CodecError: an empty frame, or the stream ended in the middle of one.
            anyio.BrokenResourceError: the connection failed.
        """
        buffer = self._buffer
        max_frame = self._max_frame if limit is None else limit
        # A small limit reads small chunks: a handshake never buffers more than a few KiB.
        chunk_size = min(_CHUNK, HEADER_SIZE + max_frame)
        while True:
            if len(buffer) >= HEADER_SIZE:
                end = HEADER_SIZE + frame_length(bytes(buffer[:HEADER_SIZE]), max_frame)
                if len(buffer) >= end:
                    body = bytes(buffer[HEADER_SIZE:end])
                    del buffer[:end]
                    return body
            try:
                chunk = await self._stream.receive(chunk_size)
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                if buffer:
                    raise CodecError(f"the stream ended inside a frame ({len(buffer)} bytes buffered)") from None
                return None
            buffer.extend(chunk)


class Outbox:
    """A bounded queue of frames and the loop that sends them."""

    def __init__(self, capacity: int) -> None:
        self._send: MemoryObjectSendStream[bytes]
        self._receive: MemoryObjectReceiveStream[bytes]
        self._send, self._receive = anyio.create_memory_object_stream[bytes](capacity)

    async def put(self, frame: bytes) -> None:
        """Queue one frame, waiting while the outbox is full.

        Raises:
            anyio.ClosedResourceError: the outbox was closed.
            anyio.BrokenResourceError: the sender stopped.
        """
        await self._send.send(frame)

    def close(self, *, drop: bool = False) -> None:
        """Accept no more frames; the sender sends what is queued, then returns (``drop``: it sends nothing)."""
        self._send.close()
        if drop:
            self._receive.close()

    async def run(self, stream: ByteStream, timeout: float | None = None) -> None:
        """Send queued frames until the outbox is closed and empty.

        Args:
            stream: Where to send.
            timeout: Longest a single write may block (a peer that stopped reading), or None.

        Raises:
            TimeoutError: a write blocked longer than ``timeout``.
            anyio.BrokenResourceError: the connection failed.
        """
        async with self._receive:
            async for frame in self._receive:
                frames = [frame]
                while len(frames) < _MAX_COALESCED:
                    try:
                        frames.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                with anyio.fail_after(timeout):
                    await stream.send(b"".join(frames))
