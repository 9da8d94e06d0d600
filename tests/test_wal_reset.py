"""The writer resets an overgrown WAL with this process's readers paused between two queries.

A reset (``wal_checkpoint(RESTART)``) must wait until no reader has a transaction open. Readers answering
query after query leave it only brief gaps, so the writer first parks every read lane (`ReadPool.paused`).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import pytest

import memactor
import memactor.actor.writer
from memactor import Episode
from memactor.actor.readpool import ReadPool
from memactor.model.filters import Filters
from memactor.model.queries import Count

pytestmark = pytest.mark.anyio


async def test_paused_lanes_hold_no_read_transaction_and_queue_queries(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal", read_connections=2) as mem:
        await mem.episodes.add_many([Episode(task=f"t{i}") for i in range(50)])
    pool = ReadPool(str(db_path), 2)
    await pool.start()
    outsider = sqlite3.connect(db_path, isolation_level=None)
    outsider.execute("PRAGMA busy_timeout = 0")  # a reset that had to wait for a reader fails at once
    try:
        stop = anyio.Event()
        answered = 0

        async def reader() -> None:
            nonlocal answered
            while not stop.is_set():
                await pool.run(Count("episode", Filters()))
                answered += 1

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(reader)
            await anyio.sleep(0.05)
            async with pool.paused():
                before = answered
                busy, _, _ = outsider.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                assert busy == 0, "a reader still had a transaction open inside paused()"
                await anyio.sleep(0.05)
                assert answered == before, "a query was answered while the lanes were paused"
            await anyio.sleep(0.05)
            assert answered > before, "the lanes did not resume after paused()"
            stop.set()
    finally:
        outsider.close()
        await pool.close()


async def test_paused_on_a_closed_pool_does_nothing(db_path: Path) -> None:
    pool = ReadPool(str(db_path), 1)
    async with pool.paused():
        pass


async def test_the_writer_resets_the_wal_with_readers_paused(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memactor.actor.writer, "WAL_RESTART_BYTES", 64 * 1024)
    pauses = 0
    real_paused = ReadPool.paused

    def counting_paused(self: ReadPool) -> AbstractAsyncContextManager[None]:
        nonlocal pauses
        pauses += 1
        return real_paused(self)

    monkeypatch.setattr(ReadPool, "paused", counting_paused)
    async with memactor.open(db_path, durability="normal") as mem:
        stop = anyio.Event()

        async def reader() -> None:
            while not stop.is_set():
                await mem.episodes.search(limit=20)

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(reader)
            for i in range(40):
                await mem.episodes.add_many([Episode(task=f"batch {i}", outcome="x" * 2000) for _ in range(20)])
            stop.set()
        assert await mem.episodes.count() == 800
    assert pauses > 0
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size <= 16 * 1024 * 1024
