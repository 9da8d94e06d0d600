"""Opening and closing cannot be broken by cancellation (asyncio's own, which goes through anyio shields).

A cancelled ``__aenter__`` leaves no thread, connection or lock behind; a cancelled ``close()`` finishes in
the background and the file is refused to a second writer until it has; a batch handed to SQLite answers
its callers even if the writer's task is cancelled meanwhile.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

import memactor
import memactor.actor.writer
from memactor import Fact

HANG = 30  # seconds: only to turn a hang into a failure
REAL_APPLY_BATCH = memactor.actor.writer.apply_batch


def memactor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("memactor-") and t.is_alive()]


def test_a_cancelled_aenter_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "m.db"

    async def main() -> dict[str, int]:
        rng = random.Random(3)
        seen = {"cancelled": 0, "opened": 0}
        for _ in range(300):
            mem = memactor.open(path, durability="normal", read_connections=2)
            opening = asyncio.ensure_future(mem.__aenter__())
            await asyncio.sleep(rng.uniform(0, 0.004))
            # Twice: a second cancellation must not cut the clean-up of the first short.
            opening.cancel()
            await asyncio.sleep(0)
            opening.cancel()
            try:
                await opening
            except asyncio.CancelledError:
                seen["cancelled"] += 1
                assert not memactor_threads(), "a cancelled open left threads behind"
                with pytest.raises(memactor.ClosedError):
                    await mem.facts.count()
            else:
                seen["opened"] += 1
                await mem.close()
            # Nothing holds the file: it opens for writing at once.
            async with memactor.open(path, durability="normal") as again:
                await again.facts.add(Fact(content="after"))
        return seen

    seen = asyncio.run(main())
    assert seen["cancelled"] > 0, seen


@pytest.mark.anyio
async def test_a_cancelled_close_finishes_and_a_second_writer_waits_for_it(db_path: Path) -> None:
    mem = memactor.open(db_path, durability="normal")
    await mem.__aenter__()
    writes = [asyncio.ensure_future(mem.facts.add(Fact(content=f"w{i}"))) for i in range(200)]
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(mem.close(), 0.0001)
    # Until the close has finished in the background, a second writer is refused.
    if memactor_threads():
        with pytest.raises(memactor.AlreadyOpenError):
            async with memactor.open(db_path):
                pass
    await asyncio.wait_for(mem.close(), HANG)  # a later close waits for the first one
    assert not memactor_threads()
    committed = [w.result() for w in writes if not w.cancelled() and w.exception() is None]
    async with memactor.open(db_path) as again:
        # Everything acknowledged was committed.
        assert await again.facts.count() >= len(committed) > 0


@pytest.mark.anyio
async def test_a_batch_in_sqlites_hands_answers_its_callers_when_the_writer_task_is_cancelled(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def held(conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        entered.set()
        release.wait(HANG)
        return REAL_APPLY_BATCH(conn, frames, *args)

    monkeypatch.setattr(memactor.actor.writer, "apply_batch", held)
    async with memactor.open(db_path, durability="normal") as mem:
        write = asyncio.ensure_future(mem.facts.add(Fact(content="in flight")))
        await asyncio.to_thread(entered.wait, HANG)
        # What the event loop does to every task when it shuts down: cancel it.
        (writer_task,) = [t for t in asyncio.all_tasks() if t.get_name() == "memactor-writer"]
        writer_task.cancel()
        await asyncio.sleep(0.01)
        release.set()
        # The batch was committed, so its caller hears so, not that the writer died.
        fact_id = await asyncio.wait_for(write, HANG)
        with pytest.raises(memactor.WriterDiedError):
            await mem.facts.add(Fact(content="later"))
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT id FROM facts").fetchall() == [(fact_id,)]
    finally:
        conn.close()
