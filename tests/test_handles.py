"""Handles for long-lived applications: open without ``with``, close from anywhere, closed at exit if forgotten.

Every handle kind refuses every use after ``close()`` with `ClosedError`: a write, a read, a stream and a
batch. The helpers here are shared with ``tests/server/test_remote_handles.py``, which runs them on
`memactor.connect` and `memactor.connect_sync`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest

import memactor
from memactor import ClosedError, Fact


def refuses_every_use(handle: Any) -> None:
    """A closed blocking handle (and a store taken from it before) raises `ClosedError` on every use."""
    store = handle.facts
    with pytest.raises(ClosedError, match="is closed"):
        handle.facts.add(Fact(content="after close"))
    with pytest.raises(ClosedError):
        store.add(Fact(content="after close"))
    with pytest.raises(ClosedError):
        handle.facts.count()
    with pytest.raises(ClosedError):
        handle.facts.get("some-id")
    with pytest.raises(ClosedError):
        handle.facts.stream(batch_size=2)
    with pytest.raises(ClosedError):
        handle.batch()
    with pytest.raises(ClosedError):
        handle.statistics()


async def refuses_every_use_async(handle: Any) -> None:
    """A closed async handle raises `ClosedError` on every use."""
    with pytest.raises(ClosedError):
        await handle.facts.add(Fact(content="after close"))
    with pytest.raises(ClosedError):
        await handle.facts.count()
    with pytest.raises(ClosedError):
        async for _ in handle.facts.stream(batch_size=2):
            pass
    with pytest.raises(ClosedError):
        async with handle.batch() as batch:
            batch.facts.add(Fact(content="in a batch after close"))


def blocking_lifecycle(handle: Any) -> None:
    """Use a blocking handle without ``with``, close it twice, and check it refuses every later use."""
    handle.facts.add_many([Fact(content=f"fact {i}") for i in range(5)])
    pages = handle.facts.stream(batch_size=2)
    assert len(next(pages)) == 2
    handle.close()
    assert handle.closed
    with pytest.raises(ClosedError):
        next(pages)  # a stream open across close() ends with the handle
    handle.close()  # twice: nothing happens
    refuses_every_use(handle)


def close_from_another_thread(handle: Any) -> None:
    """Close a blocking handle from a thread other than the one that opened it."""
    handle.facts.add(Fact(content="before close"))
    closers = [threading.Thread(target=handle.close) for _ in range(3)]  # also concurrently
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=60)
        assert not closer.is_alive()
    refuses_every_use(handle)


async def async_lifecycle(handle: Any) -> None:
    """Close an entered async handle from a worker thread (through the loop), twice, then use it."""
    await handle.facts.add(Fact(content="before close"))
    await anyio.to_thread.run_sync(anyio.from_thread.run, handle.close)
    await handle.close()
    await refuses_every_use_async(handle)


def run_script(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter, warnings as errors, with this worktree's memactor."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_open_sync_without_with(db_path: Path) -> None:
    blocking_lifecycle(memactor.open_sync(db_path, durability="normal"))
    with memactor.open_sync(db_path, readonly=True) as again:
        assert again.facts.count() == 5
    assert not [t for t in threading.enumerate() if t.name.startswith("memactor-")]


def test_open_sync_closed_from_another_thread(db_path: Path) -> None:
    close_from_another_thread(memactor.open_sync(db_path))
    with memactor.open_sync(db_path) as again:  # the lock was released: the file opens for writing
        assert again.facts.count() == 1


def test_with_block_still_closes(db_path: Path) -> None:
    with memactor.open_sync(db_path) as mem:
        store = mem.facts
        store.add(Fact(content="kept"))
    assert mem.closed
    with pytest.raises(ClosedError):
        store.count()
    refuses_every_use(mem)


@pytest.mark.anyio
async def test_memory_after_close(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await async_lifecycle(mem)


def test_module_level_open_sync_closed_at_exit(db_path: Path) -> None:
    result = run_script(
        f"""
        import memactor
        MEMORY = memactor.open_sync({str(db_path)!r})
        for i in range(50):
            MEMORY.facts.add(memactor.Fact(content=f"fact {{i}}"))
        # exits without close()
        """,
        db_path.parent,
    )
    assert (result.returncode, result.stderr) == (0, "")
    # Closed cleanly: the WAL was checkpointed into the file and removed with the last connection.
    assert not Path(f"{db_path}-wal").exists()
    with memactor.open_sync(db_path) as mem:
        assert mem.facts.count() == 50
