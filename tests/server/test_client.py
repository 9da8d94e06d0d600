"""The client: reconnects, typed errors from a dead server, writes applied once, local reads, sync API."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio
import pytest

import memactor
from memactor import Episode
from memactor.net.server import Server, serving
from memactor.net.sessions import Session

pytestmark = pytest.mark.anyio


async def test_nothing_listening_raises_connection_lost_quickly(socket_dir: Path) -> None:
    with anyio.fail_after(5):
        with pytest.raises(memactor.ConnectionLostError):
            async with memactor.connect(f"unix://{socket_dir}/none.sock", retry_window=0.3):
                pass


async def test_a_stopped_server_gives_typed_errors_then_the_same_handle_reconnects(
    db_path: Path, socket_dir: Path
) -> None:
    url = f"unix://{socket_dir}/s.sock"
    async with memactor.open(db_path) as memory, anyio.create_task_group() as group:
        first_server = Server(memory, url)
        await group.start(first_server.serve)
        async with memactor.connect(url, retry_window=0.3) as client:
            first = await client.episodes.add(Episode(task="before"))
            await first_server.shutdown()
            with anyio.fail_after(5), pytest.raises(memactor.ConnectionLostError):
                await client.episodes.add(Episode(task="while down"))
            second_server = Server(memory, url)
            await group.start(second_server.serve)
            second = await client.episodes.add(Episode(task="after"))
            assert [r.task for r in await client.episodes.get_many([first, second])] == ["before", "after"]
            await second_server.shutdown()


async def test_a_retried_write_is_applied_once_by_the_same_server() -> None:
    session = Session(max_entries=10)
    counter = itertools.count()

    async def apply() -> int:
        await anyio.sleep(0.01)
        return next(counter)

    async with anyio.create_task_group() as group:
        results: list[int] = []

        async def run() -> None:
            results.append(await session.run(1, apply))

        group.start_soon(run)
        group.start_soon(run)
    assert results == [0, 0] and await session.run(1, apply) == 0
    session.prune(2)
    assert await session.run(1, apply) == 1  # pruned: the client said it saw the outcome


async def test_local_reads_see_their_own_writes(server: Server) -> None:
    async with memactor.connect(server.url, local_reads=True) as client:
        for n in range(50):
            record_id = await client.facts.add(memactor.Fact(content=f"fact {n}"))
            assert (await client.facts.get(record_id)).content == f"fact {n}"
        assert await client.facts.count() == 50


async def test_statistics_come_from_the_server(server: Server) -> None:
    async with memactor.connect(server.url) as client:
        await client.episodes.add(Episode(task="t"))
        stats = await client.refresh_statistics()
        assert stats.commands >= 1 and client.statistics() == stats


def test_connect_sync(server_thread_url: str) -> None:
    with memactor.connect_sync(server_thread_url) as client:
        record_id = client.episodes.add(Episode(task="sync"))
        assert client.episodes.get(record_id).task == "sync"
        with client.batch() as b:
            b.episodes.add(Episode(task="in batch"))
        assert client.episodes.count() == 2
        assert [len(page) for page in client.episodes.stream(batch_size=1)] == [1, 1]


@pytest.fixture
def server_thread_url(db_path: Path, socket_dir: Path) -> object:
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(memactor.open(db_path)) as memory:
            with portal.wrap_async_context_manager(serving(memory, f"unix://{socket_dir}/s.sock")) as server:
                yield server.url
