"""`close()` from any task, any number of times, also concurrently, on every handle kind of server mode."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio
import pytest

import memactor
from memactor import Episode
from memactor.errors import ClosedError
from memactor.net.server import Server

pytestmark = pytest.mark.anyio


async def test_open_in_one_task_close_in_another(server: Server) -> None:
    opened: list[memactor.RemoteMemory] = []
    ready = anyio.Event()
    closed = anyio.Event()

    async def opener() -> None:
        handle = memactor.connect(server.url, local_reads=True)
        await handle.__aenter__()
        await handle.episodes.add(Episode(task="from task A"))
        opened.append(handle)
        ready.set()
        await closed.wait()  # task A goes on running after task B closed its handle

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(opener)
            await ready.wait()

            async def closer() -> None:
                await opened[0].close()
                closed.set()

            group.start_soon(closer)
    with pytest.raises(ClosedError):
        await opened[0].episodes.add(Episode(task="after close"))
    async with memactor.connect(server.url) as again:
        assert await again.episodes.count() == 1


async def test_concurrent_and_repeated_closes(server: Server) -> None:
    handle = memactor.connect(server.url)
    await handle.__aenter__()
    writes = [asyncio.ensure_future(handle.episodes.add(Episode(task=f"{n}"))) for n in range(20)]
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(handle.close)
        await handle.close()
        await handle.__aexit__(None, None, None)
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
    # Each write either committed or was cut off by the close with a typed error: never a hang.
    assert all(isinstance(o, (str, memactor.MemactorError)) for o in outcomes), outcomes


async def test_a_cancelled_close_still_closes(server: Server) -> None:
    handle = memactor.connect(server.url)
    await handle.__aenter__()
    with anyio.move_on_after(0):
        await handle.close()
    with anyio.fail_after(30):
        await handle.close()
    with pytest.raises(ClosedError):
        await handle.episodes.count()


def test_the_blocking_handle_closes_from_another_thread(db_path: Path, socket_dir: Path) -> None:
    from anyio.from_thread import start_blocking_portal

    from memactor.net.server import serving

    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(memactor.open(db_path)) as memory:
            with portal.wrap_async_context_manager(serving(memory, f"unix://{socket_dir}/s.sock")) as server:
                with memactor.connect_sync(server.url) as client:
                    client.episodes.add(Episode(task="sync"))
                    closers = [threading.Thread(target=client.close) for _ in range(4)]
                    for thread in closers:
                        thread.start()
                    for thread in closers:
                        thread.join(timeout=30)
                    assert not any(thread.is_alive() for thread in closers)
                    with pytest.raises(ClosedError):
                        client.episodes.count()
                # Leaving the block closes it once more: nothing to do, no error.
