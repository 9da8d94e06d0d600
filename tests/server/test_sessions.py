"""Idempotency sessions: a retried write is applied once, whatever other clients do meanwhile."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

import memactor
from memactor import Episode, Skill, codec
from memactor.errors import ServerBusyError
from memactor.model.commands import AddRecords, RecordUse
from memactor.net.endpoint import Endpoint
from memactor.net.frames import FrameReader
from memactor.net.server import Server, serving
from memactor.net.sessions import SESSION_COST, Sessions
from memactor.net.wire import PROTOCOL_VERSION, Message, MessageType, pack_frame, unpack_message

pytestmark = pytest.mark.anyio


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def hello(url: str, session: str) -> tuple[SocketStream, FrameReader]:
    """A raw connection, handshaken in ``session``, exactly as `memactor.net.client` does it."""
    stream = await Endpoint.parse(url).connect()
    reader = FrameReader(stream, 2**30)
    await stream.send(pack_frame(0, MessageType.HELLO, {"protocol": PROTOCOL_VERSION, "session": session}))
    welcome = await next_message(reader)
    assert welcome.type is MessageType.WELCOME, welcome
    return stream, reader


async def next_message(reader: FrameReader) -> Message:
    with anyio.fail_after(60):
        body = await reader.next()
    assert body is not None, "the server closed the connection"
    return unpack_message(body, use_list=True)


async def test_a_retried_record_use_is_applied_once_while_5000_short_clients_come_and_go(server: Server) -> None:
    memory = server.memory
    skill_id = await memory.skills.add(Skill(name="deploy", description="ship it"))
    use = pack_frame(1, MessageType.EXECUTE, (1, 1, codec.encode(RecordUse(skill_id, True, 0.0))))

    # The long client sends write 1 of its session, and its connection drops before the reply.
    stream, _ = await hello(server.url, "long-client")
    await stream.send(use)
    await stream.aclose()
    with anyio.fail_after(60):
        while (await memory.skills.get(skill_id)).uses != 1:
            await anyio.sleep(0.01)

    # Meanwhile 5,000 short-lived clients connect, write once, and leave.
    counter = itertools.count()

    async def short_clients() -> None:
        while (n := next(counter)) < 5000:
            short, reader = await hello(server.url, f"short-{n}")
            command = codec.encode(AddRecords((Episode(task=f"short {n}"),)))
            await short.send(pack_frame(1, MessageType.EXECUTE, (1, 1, command)))
            assert (await next_message(reader)).type is MessageType.RESULT
            await short.aclose()

    with anyio.fail_after(300):  # a hang detector: this takes seconds
        async with anyio.create_task_group() as group:
            for _ in range(32):
                group.start_soon(short_clients)
    assert await memory.episodes.count() == 5000

    # The long client reconnects within its retry window and sends write 1 again: answered, not applied.
    stream, reader = await hello(server.url, "long-client")
    await stream.send(use)
    reply = await next_message(reader)
    await stream.aclose()
    assert reply.type is MessageType.RESULT
    assert (await memory.skills.get(skill_id)).uses == 1


def sessions(clock: Clock, room: int) -> Sessions:
    return Sessions(max_bytes=room * SESSION_COST, idle_after=60.0, clock=clock)


def fill(registry: Sessions, count: int, start: int = 0, detach: bool = True) -> list[tuple[str, str]]:
    keys = [("token", f"s{n}") for n in range(start, start + count)]
    for key in keys:
        session = registry.attach(*key)
        if detach:
            registry.detach(session)
    return keys


def test_idle_sessions_are_forgotten_least_recently_used_first_only_after_the_retry_window() -> None:
    clock = Clock()
    registry = sessions(clock, room=10)
    first = registry.attach("token", "first")
    registry.detach(first)
    fill(registry, 9)
    with pytest.raises(ServerBusyError, match="try again later"):
        registry.attach("token", "new")  # all ten used within the window: none may go
    clock.now += 61
    registry.detach(registry.attach("token", "first"))  # used again: now the most recent
    registry.attach("token", "new")
    assert registry.attach("token", "first") is first  # the others, idle longer, made room
    assert len(registry) <= 10


def test_a_session_in_use_is_never_evicted_however_old() -> None:
    clock = Clock()
    registry = sessions(clock, room=3)
    long_lived = registry.attach("token", "long")  # connected and never detached
    clock.now += 10_000
    fill(registry, 2)
    clock.now += 61
    for n in range(100):
        fill(registry, 1, start=100 + n)
        clock.now += 61
    assert registry.attach("token", "long") is long_lived


def test_new_sessions_are_refused_while_every_session_is_active() -> None:
    registry = sessions(Clock(), room=4)
    fill(registry, 4, detach=False)
    with pytest.raises(ServerBusyError):
        registry.attach("token", "fifth")
    assert registry.attach("token", "s0") is not None  # an existing session is always let back in


async def test_kept_outcomes_count_against_the_bound_and_are_freed_when_seen() -> None:
    registry = Sessions(max_bytes=100 * SESSION_COST, clock=Clock())
    session = registry.attach("token", "s")

    async def big() -> str:
        return "x" * 50_000

    await session.run(1, big)
    assert registry.bytes > 50_000 + SESSION_COST
    session.prune(2)
    assert registry.bytes == SESSION_COST


async def test_connect_raises_server_busy_when_sessions_are_full(db_path: Path, socket_dir: Path) -> None:
    async with memactor.open(db_path, durability="normal") as memory:
        registry = Sessions(max_bytes=2 * SESSION_COST)
        async with serving(memory, f"unix://{socket_dir}/s.sock", sessions=registry) as server:
            async with memactor.connect(server.url) as one, memactor.connect(server.url) as two:
                with pytest.raises(ServerBusyError, match="no room"):
                    async with memactor.connect(server.url, retry_window=0.5):
                        pass
                await one.episodes.add(Episode(task="one still works"))
                await two.episodes.add(Episode(task="two still works"))
