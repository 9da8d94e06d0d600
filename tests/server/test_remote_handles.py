"""`connect_sync` and `connect` as handles for long-lived applications: the checks of ``tests/test_handles.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

import memactor
from memactor.net.server import Server, serving
from tests.test_handles import async_lifecycle, blocking_lifecycle, close_from_another_thread, run_script


@pytest.fixture
def served(db_path: Path, socket_dir: Path) -> Iterator[tuple[str, memactor.Memory]]:
    """A server running on a thread of its own, so blocking clients can be used from the test."""
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(memactor.open(db_path)) as memory:
            with portal.wrap_async_context_manager(serving(memory, f"unix://{socket_dir}/s.sock")) as server:
                yield server.url, memory


@pytest.mark.parametrize("local_reads", [False, True], ids=["server-reads", "local-reads"])
def test_connect_sync_without_with(served: tuple[str, memactor.Memory], local_reads: bool) -> None:
    url, _ = served
    blocking_lifecycle(memactor.connect_sync(url, local_reads=local_reads))
    with memactor.connect_sync(url) as again:
        assert again.facts.count() == 5


def test_connect_sync_closed_from_another_thread(served: tuple[str, memactor.Memory]) -> None:
    url, _ = served
    close_from_another_thread(memactor.connect_sync(url))


@pytest.mark.anyio
async def test_remote_memory_after_close(server: Server) -> None:
    async with memactor.connect(server.url) as mem:
        await async_lifecycle(mem)


def test_module_level_connect_sync_closed_at_exit(served: tuple[str, memactor.Memory], tmp_path: Path) -> None:
    url, _ = served
    result = run_script(
        f"""
        import memactor
        MEMORY = memactor.connect_sync({url!r})
        for i in range(20):
            MEMORY.facts.add(memactor.Fact(content=f"fact {{i}}"))
        """,
        tmp_path,
    )
    assert (result.returncode, result.stderr) == (0, "")
    with memactor.connect_sync(url) as mem:
        assert mem.facts.count() == 20


def test_connect_or_start_sync_without_with(place: Path) -> None:
    from memactor.net.autostart import connect_or_start_sync

    handle = connect_or_start_sync(place / "memory.db", idle_exit=5.0, start_timeout=30)
    blocking_lifecycle(handle)
