"""A WAL reset never holds writes up for as long as a read runs: if a read lane is busy with a long query,
the writer skips the reset (trying again later) instead of waiting for the lane to reach its hold.

The long read is real work held on the lane's thread: `memactor.actor.readpool.run_query` is wrapped so one query
blocks until the test lets it go, as the writer tests hold `apply_batch`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
import memactor.actor.readpool
import memactor.actor.writer
from memactor import Episode

pytestmark = pytest.mark.anyio

HANG = 30  # seconds: only to turn a hang into a failure
REAL_RUN_QUERY = memactor.actor.readpool.run_query


async def test_writes_commit_while_a_long_read_keeps_a_lane_busy(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memactor.actor.writer, "WAL_RESTART_BYTES", 64 * 1024)
    reading = threading.Event()
    finish_read = threading.Event()

    def long_query(conn: Any, query: Any) -> Any:
        if not reading.is_set():
            reading.set()
            finish_read.wait(2 * HANG)
        return REAL_RUN_QUERY(conn, query)

    monkeypatch.setattr(memactor.actor.readpool, "run_query", long_query)
    async with memactor.open(db_path, durability="normal") as mem:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(mem.episodes.count)
                await anyio.to_thread.run_sync(reading.wait, HANG)
                # The WAL grows past the reset size many times over; every write must still commit.
                with anyio.fail_after(HANG):
                    for i in range(40):
                        await mem.episodes.add_many([Episode(task=f"b{i}", outcome="x" * 2000) for _ in range(20)])
                finish_read.set()
        finally:
            finish_read.set()
        assert await mem.episodes.count() == 800
