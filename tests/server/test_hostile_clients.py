"""Hostile clients before and after authentication: whatever one sends, memory stays bounded and others are served."""

from __future__ import annotations

import select
import signal
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

import memactor
from memactor import Episode, codec
from memactor.model.commands import Ping
from memactor.net.connection import Limits
from memactor.net.endpoint import Endpoint
from memactor.net.frames import FrameReader
from memactor.net.server import Server, serving
from memactor.net.wire import HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION, Message, MessageType, pack_frame, unpack_message

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
# What a 64 MiB handshake may add to the server's peak RSS: far below the 64 MiB it announces (the
# unfixed server buffered it, copied it and decoded it: several times that).
RSS_BOUND = 16 * MIB


async def probe(url: str) -> None:
    """A fresh client can still write and read (a generous timeout: this detects a hang, not slowness)."""
    with anyio.fail_after(60):
        async with memactor.connect(url, retry_window=30) as client:
            record_id = await client.episodes.add(Episode(task="probe"))
            assert (await client.episodes.get(record_id)).task == "probe"


async def read_message(stream: SocketStream, timeout: float = 30) -> Message | None:
    """The next message, or None once the server closed the connection."""
    with anyio.fail_after(timeout):
        try:
            body = await FrameReader(stream, 2**30).next()
        except (anyio.BrokenResourceError, OSError):
            return None
    return None if body is None else unpack_message(body, use_list=True)


async def welcomed(url: str) -> SocketStream:
    stream = await Endpoint.parse(url).connect()
    await stream.send(pack_frame(0, MessageType.HELLO, {"protocol": PROTOCOL_VERSION, "session": "hostile"}))
    message = await read_message(stream)
    assert message is not None and message.type is MessageType.WELCOME
    return stream


async def send_ignoring_hangup(stream: SocketStream, data: bytes, chunk: int = 1 * MIB) -> int:
    """Send ``data`` until the server hangs up; returns how many bytes were sent."""
    sent = 0
    try:
        for start in range(0, len(data), chunk):
            await stream.send(data[start : start + chunk])
            sent += len(data[start : start + chunk])
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    return sent


def rss_peak(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def serve_process(db_path: Path, socket_dir: Path) -> Iterator[tuple[int, str]]:
    url = f"unix://{socket_dir}/s.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "memactor", "serve", str(db_path), "--listen", url, "--durability", "normal"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 30)
        assert ready and "serving" in process.stderr.readline(), "the server did not start"
        yield process.pid, url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


async def test_a_64_mib_handshake_leaves_the_server_small_and_serving(serve_process: tuple[int, str]) -> None:
    pid, url = serve_process
    await probe(url)  # everything a normal client needs is loaded before the baseline
    baseline = rss_peak(pid)
    # Just within the 64 MiB frame limit that requests have: only a handshake limit of its own refuses it.
    token = "x" * (64 * MIB - 100)
    frame = pack_frame(0, MessageType.HELLO, {"protocol": PROTOCOL_VERSION, "session": "s", "token": token})
    assert 63 * MIB < len(frame) - 4 <= 64 * MIB
    stream = await Endpoint.parse(url).connect()
    async with anyio.create_task_group() as group:
        # Send all of it if the server reads it, while the probe runs beside it.
        group.start_soon(send_ignoring_hangup, stream, frame)
        await probe(url)
    reply = await read_message(stream)
    await stream.aclose()
    growth = rss_peak(pid) - baseline
    assert growth < RSS_BOUND, f"a 64 MiB handshake grew the server's peak RSS by {growth / MIB:.1f} MiB"
    assert reply is None or (reply.type is MessageType.ERROR and "refused" in reply.payload[1])
    await probe(url)


async def test_a_handshake_over_the_limit_is_refused_on_its_length_prefix(server: Server) -> None:
    stream = await Endpoint.parse(server.url).connect()
    # Only the length prefix: the server must answer without waiting for a byte of the body.
    await stream.send(struct.pack(">I", HANDSHAKE_MAX_FRAME + 1))
    reply = await read_message(stream)
    assert reply is not None and reply.type is MessageType.ERROR
    assert reply.payload[0] == "CodecError" and "refused" in reply.payload[1]
    assert await read_message(stream) is None
    await stream.aclose()
    await probe(server.url)


async def test_a_small_handshake_declaring_a_large_container_is_refused(server: Server) -> None:
    # An array of 3,000 small integers fits in 4 KiB; nothing in a HELLO needs more than a few entries.
    hello = {"protocol": PROTOCOL_VERSION, "session": "s", "extra": [0] * 3000}
    frame = pack_frame(0, MessageType.HELLO, hello)
    assert len(frame) <= HANDSHAKE_MAX_FRAME
    stream = await Endpoint.parse(server.url).connect()
    await stream.send(frame)
    reply = await read_message(stream)
    assert reply is not None and reply.type is MessageType.ERROR and reply.payload[0] == "CodecError"
    await stream.aclose()


async def test_idle_unauthenticated_connections_are_few_and_make_room_for_real_clients(
    db_path: Path, socket_dir: Path
) -> None:
    async with memactor.open(db_path, durability="normal") as memory:
        # The handshake deadline is far away: only the cap can close the idle connections in this test.
        limits = Limits(handshake_timeout=600)
        url = f"unix://{socket_dir}/s.sock"
        async with serving(memory, url, max_unauthenticated=8, limits=limits) as server:
            idle = [await Endpoint.parse(server.url).connect() for _ in range(40)]
            await probe(server.url)
            # The oldest were closed to keep at most 8 waiting: they see the end of their stream.
            closed = [await read_message(stream, timeout=30) for stream in idle[:30]]
            assert closed == [None] * 30
            for stream in idle:
                await stream.aclose()
            await probe(server.url)


async def test_half_a_handshake_then_silence_is_closed_after_the_deadline(db_path: Path, socket_dir: Path) -> None:
    async with memactor.open(db_path, durability="normal") as memory:
        limits = Limits(handshake_timeout=0.3)
        async with serving(memory, f"unix://{socket_dir}/s.sock", limits=limits) as server:
            frame = pack_frame(0, MessageType.HELLO, {"protocol": PROTOCOL_VERSION, "session": "s"})
            stream = await Endpoint.parse(server.url).connect()
            await stream.send(frame[: len(frame) // 2])
            assert await read_message(stream) is None
            await stream.aclose()
            await probe(server.url)


async def test_half_a_request_then_silence_does_not_stop_other_clients(server: Server) -> None:
    stream = await welcomed(server.url)
    frame = pack_frame(1, MessageType.EXECUTE, (1, 1, codec.encode(Ping())))
    await stream.send(frame[: len(frame) - 1])
    await probe(server.url)
    await stream.send(frame[-1:])  # finishing it later still works
    reply = await read_message(stream)
    assert reply is not None and (reply.request_id, reply.type) == (1, MessageType.RESULT)
    await stream.aclose()


async def test_a_flood_of_tiny_frames_never_read_does_not_stop_other_clients(server: Server) -> None:
    stream = await welcomed(server.url)
    tiny = struct.pack(">I", 1) + b"\xc0"  # a one-byte body: not a message, each answered by an error
    with anyio.move_on_after(2):
        await send_ignoring_hangup(stream, tiny * 200_000, chunk=64 * 1024)
    await probe(server.url)
    await stream.aclose()
    await probe(server.url)


async def test_a_request_after_a_bad_frame_is_still_answered(server: Server) -> None:
    stream = await welcomed(server.url)
    await stream.send(struct.pack(">I", 3) + b"\xff\xff\xff")
    bad = await read_message(stream)
    assert bad is not None and bad.type is MessageType.ERROR and bad.payload[0] == "CodecError"
    await stream.send(pack_frame(2, MessageType.EXECUTE, (1, 1, codec.encode(Ping()))))
    good = await read_message(stream)
    assert good is not None and (good.request_id, good.type) == (2, MessageType.RESULT)
    await stream.aclose()


async def test_a_request_after_a_huge_declared_length_is_never_read(server: Server) -> None:
    stream = await welcomed(server.url)
    await stream.send(struct.pack(">I", 2**32 - 1) + pack_frame(2, MessageType.EXECUTE, (1, 1, codec.encode(Ping()))))
    reply = await read_message(stream)
    assert reply is not None and reply.type is MessageType.ERROR and "refused" in reply.payload[1]
    assert await read_message(stream) is None  # the bytes after it cannot be trusted to be a frame
    await stream.aclose()
    await probe(server.url)


@pytest.fixture
async def budget_server(db_path: Path, socket_dir: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        limits = Limits(max_in_flight=1000, max_in_flight_bytes=300_000)
        async with serving(
            memory, f"unix://{socket_dir}/s.sock", limits=limits, max_queued_write_bytes=300_000
        ) as server:
            yield server


async def test_byte_budgets_make_big_writes_wait_and_never_fail(budget_server: Server) -> None:
    held: list[int] = []
    done = anyio.Event()

    async def watch() -> None:
        while not done.is_set():
            held.append(budget_server.write_budget.held)
            await anyio.sleep(0)

    async def writer(client: memactor.RemoteMemory, n: int) -> None:
        await client.episodes.add_many([Episode(task=f"{n}-{i}", outcome="o" * 100_000) for i in range(2)])

    async with memactor.connect(budget_server.url) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            async with anyio.create_task_group() as writers:
                for n in range(40):
                    writers.start_soon(writer, client, n)
            done.set()
        assert await client.episodes.count() == 80
    # A single 200 KB command fits alone; two would pass the 300 KB budget, so they queued instead.
    assert max(held) <= 300_000 and max(held) > 0
