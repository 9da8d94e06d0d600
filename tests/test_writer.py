"""The writer actor's guarantees (DESIGN section 2): ack after commit, isolation inside a group commit,
no lost updates, backpressure, both halves of cancellation, draining shutdown, and a dying writer.

The writer is slowed or held by wrapping `memactor.actor.writer.apply_batch`, which runs on the writer's thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
import memactor.actor.writer
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio

REAL_APPLY_BATCH = memactor.actor.writer.apply_batch


async def wait_for_queue(mem: Any, depth: int, timeout: float = 10) -> None:
    """Wait until ``depth`` commands wait in the mailbox (the writer held by a `Gate`)."""
    with anyio.move_on_after(timeout):
        while mem.statistics().queue_depth != depth:
            await anyio.sleep(0.002)
        return
    raise AssertionError(f"the mailbox never held {depth} commands in {timeout} s: only {mem.statistics().queue_depth}")


def committed_ids(path: Path, table: str = "episodes") -> set[str]:
    """What a fresh connection, outside the handle, sees as committed."""
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(f"SELECT id FROM {table}")}
    finally:
        conn.close()


class Gate:
    """Holds the writer inside its thread hop until opened, so commands pile up in the mailbox."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.batches: list[int] = []

    def apply_batch(self, conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        self.batches.append(len(frames))
        self.entered.set()
        if not self.opened.wait(10):
            self.opened.set()  # a test that failed before opening it must not hold every later batch 10 s too
        return REAL_APPLY_BATCH(conn, frames, *args)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    monkeypatch.setattr(memactor.actor.writer, "apply_batch", held.apply_batch)
    yield held
    held.opened.set()


# --- acknowledged = committed --------------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["full", "normal"])
async def test_an_acknowledged_write_is_committed(db_path: Path, durability: str) -> None:
    acked: list[bool] = []

    async def agent(n: int) -> None:
        eid = await mem.episodes.add(Episode(task=f"job {n}"))
        # Right after the await: a separate connection already sees the row.
        acked.append(eid in committed_ids(db_path))

    async with memactor.open(db_path, durability=durability) as mem:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(agent, n)
        sid = await mem.skills.add(Skill(name="s"))
        await mem.skills.record_use(sid, True)
        conn = sqlite3.connect(db_path)
        try:
            assert conn.execute("SELECT uses FROM skills WHERE id = ?", (sid,)).fetchone() == (1,)
        finally:
            conn.close()
    assert acked == [True] * 20


# --- isolation inside one group commit -----------------------------------------------------------------


async def test_bad_commands_fail_alone_inside_one_group_commit(db_path: Path, gate: Gate) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        gate.opened.set()
        taken = await mem.skills.add(Skill(name="taken"))
        fid = await mem.facts.add(Fact(content="v1"))
        gate.opened.clear()
        # Hold the writer on a first command so the rest pile up and share the next commit.
        async with anyio.create_task_group() as tg:
            tg.start_soon(mem.facts.add, Fact(content="first"))
            await anyio.to_thread.run_sync(gate.entered.wait, 10)
            outcomes: dict[int, object] = {}

            async def write(n: int) -> None:
                try:
                    match n % 4:
                        case 0:
                            outcomes[n] = await mem.skills.add(Skill(name="taken"))
                        case 1:
                            outcomes[n] = await mem.facts.update("missing", content="x")
                        case 2:
                            outcomes[n] = await mem.facts.update(fid, expect_version=99, content="x")
                        case _:
                            outcomes[n] = await mem.episodes.add(Episode(task=f"good {n}"))
                except memactor.CommandError as exc:
                    outcomes[n] = exc

            for n in range(40):
                tg.start_soon(write, n)
            await wait_for_queue(mem, 40)
            gate.opened.set()
        stats = mem.statistics()
        assert stats.max_batch_size > 1
        expected = {0: memactor.ConflictError, 1: memactor.NotFoundError, 2: memactor.ConflictError}
        for n, outcome in outcomes.items():
            if n % 4 in expected:
                assert type(outcome) is expected[n % 4], (n, outcome)
            else:
                assert isinstance(outcome, str)
        assert len(outcomes) == 40
        assert await mem.episodes.count() == 10
        assert (await mem.facts.get(fid)).content == "v1"
        assert (await mem.skills.get(taken)).version == 1
    assert len(committed_ids(db_path)) == 10


async def test_expect_version_inside_one_group_commit_lets_exactly_one_win(db_path: Path, gate: Gate) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        gate.opened.set()
        fid = await mem.facts.add(Fact(content="v1"))
        gate.opened.clear()
        results: list[object] = []

        async def update(n: int) -> None:
            try:
                results.append(await mem.facts.update(fid, expect_version=1, content=f"by {n}"))
            except memactor.ConflictError as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(mem.episodes.add, Episode(task="hold"))
            await anyio.to_thread.run_sync(gate.entered.wait, 10)
            for n in range(8):
                tg.start_soon(update, n)
            await wait_for_queue(mem, 8)
            gate.opened.set()
        winners = [r for r in results if isinstance(r, Fact)]
        assert len(winners) == 1 and winners[0].version == 2
        assert sum(isinstance(r, memactor.ConflictError) for r in results) == 7
        assert await mem.facts.get(fid) == winners[0]
        assert max(gate.batches) == 8


async def test_no_lost_update_under_100_concurrent_record_use(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        sid = await mem.skills.add(Skill(name="hot"))
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(100):
                    tg.start_soon(mem.skills.record_use, sid, n % 2 == 0)
        skill = await mem.skills.get(sid)
        assert (skill.uses, skill.successes, skill.version) == (100, 50, 101)


async def test_a_storage_error_fails_its_batch_and_the_writer_carries_on(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def first_batch_fails(conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise memactor.StorageError("disk I/O error (simulated)")
        return REAL_APPLY_BATCH(conn, frames, *args)

    monkeypatch.setattr(memactor.actor.writer, "apply_batch", first_batch_fails)
    async with memactor.open(db_path, durability="normal") as mem:
        with pytest.raises(memactor.StorageError, match="simulated"):
            await mem.episodes.add(Episode(task="lost"))
        eid = await mem.episodes.add(Episode(task="kept"))
        assert [e.id for e in await mem.episodes.get_many([eid])] == [eid]
        assert await mem.episodes.count() == 1


# --- backpressure ------------------------------------------------------------------------------------------


async def test_backpressure_keeps_the_mailbox_at_its_bound(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    def slow(conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        time.sleep(0.01)
        return REAL_APPLY_BATCH(conn, frames, *args)

    monkeypatch.setattr(memactor.actor.writer, "apply_batch", slow)
    producers = 40
    done = 0
    depths: list[int] = []
    waiting_seen = False

    async def produce(n: int) -> None:
        nonlocal done
        await mem.episodes.add(Episode(task=f"t{n}"))
        done += 1

    async with memactor.open(db_path, durability="normal", max_pending=4, max_batch=2) as mem:
        assert mem.statistics().queue_capacity == 4
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(producers):
                    tg.start_soon(produce, n)
                while done < producers:
                    depth = mem.statistics().queue_depth
                    depths.append(depth)
                    # Not done, not queued, not in the writer's batch (at most 2): waiting for room.
                    waiting_seen |= producers - done - depth - 2 > 0
                    await anyio.sleep(0.001)
        assert await mem.episodes.count() == producers
    assert max(depths) == 4
    assert waiting_seen


# --- cancellation ----------------------------------------------------------------------------------------


async def test_cancelled_while_waiting_for_room_nothing_happens(db_path: Path, gate: Gate) -> None:
    async with memactor.open(db_path, durability="normal", max_pending=1) as mem:
        async with anyio.create_task_group() as tg:
            tg.start_soon(mem.episodes.add, Episode(task="in flight"))
            await anyio.to_thread.run_sync(gate.entered.wait, 10)
            queued = Episode(task="queued")
            tg.start_soon(mem.episodes.add, queued)
            await wait_for_queue(mem, 1)
            cancelled = Episode(task="cancelled")
            with anyio.move_on_after(0.2) as scope:
                await mem.episodes.add(cancelled)
            assert scope.cancelled_caught
            gate.opened.set()
        assert await mem.episodes.get_many([queued.id, cancelled.id]) == [await mem.episodes.get(queued.id)]
        assert await mem.episodes.count() == 2
    assert cancelled.id not in committed_ids(db_path)


async def test_cancelled_after_entering_the_mailbox_still_commits(db_path: Path, gate: Gate) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        async with anyio.create_task_group() as tg:
            tg.start_soon(mem.episodes.add, Episode(task="in flight"))
            await anyio.to_thread.run_sync(gate.entered.wait, 10)
            entered = Episode(task="entered, then cancelled")
            with anyio.CancelScope() as scope:

                async def cancel_once_queued() -> None:
                    await wait_for_queue(mem, 1)
                    scope.cancel()

                tg.start_soon(cancel_once_queued)
                await mem.episodes.add(entered)
            assert scope.cancelled_caught
            gate.opened.set()
        # The caller stopped waiting; the command commits anyway, before any command queued after it.
        await mem.episodes.add(Episode(task="queued after"))
        assert (await mem.episodes.get(entered.id)).task == "entered, then cancelled"
    assert entered.id in committed_ids(db_path)


# --- shutdown --------------------------------------------------------------------------------------------


async def test_shutdown_drains_and_commits_everything_queued(db_path: Path, gate: Gate) -> None:
    answered: list[str] = []
    records = [Episode(task=f"queued {n}") for n in range(30)]
    closing = anyio.Event()
    mem = memactor.open(db_path, durability="normal", max_batch=4)

    async def add(record: Episode) -> None:
        answered.append(await mem.episodes.add(record))

    async def call_while_closing() -> None:
        await closing.wait()
        # The handle stops intake at once, while the writer still holds everything queued.
        with pytest.raises(memactor.ClosedError):
            await mem.episodes.add(Episode(task="after close began"))
        gate.opened.set()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            async with mem:
                tg.start_soon(add, records[0])
                await anyio.to_thread.run_sync(gate.entered.wait, 10)
                for record in records[1:]:
                    tg.start_soon(add, record)
                await wait_for_queue(mem, 29)
                tg.start_soon(call_while_closing)
                closing.set()
    assert sorted(answered) == sorted(r.id for r in records)
    assert committed_ids(db_path) == {r.id for r in records}
    assert not [t for t in threading.enumerate() if t.name.startswith("memactor-")]
    # The WAL was checkpointed on the way out.
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


# --- a dying writer ----------------------------------------------------------------------------------------


async def test_a_dying_writer_fails_every_waiter_and_later_caller(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def broken(conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        # The connection breaks while the file gets a schema this memactor cannot write: the batch in
        # flight fails, and the writer, unable to reopen the file, dies.
        entered.set()
        release.wait(10)
        conn.execute("PRAGMA user_version = 999")
        conn.close()
        return REAL_APPLY_BATCH(conn, frames, *args)

    monkeypatch.setattr(memactor.actor.writer, "apply_batch", broken)
    errors: list[BaseException] = []

    async def add(n: int) -> None:
        try:
            await mem.episodes.add(Episode(task=f"t{n}"))
        except memactor.MemactorError as exc:
            errors.append(exc)

    async with memactor.open(db_path, durability="normal", max_pending=4) as mem:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(add, 0)
                await anyio.to_thread.run_sync(entered.wait, 10)
                # In flight (1), queued (4), and waiting for room (the rest).
                for n in range(1, 20):
                    tg.start_soon(add, n)
                await wait_for_queue(mem, 4)
                await anyio.sleep(0.02)
                release.set()
            assert len(errors) == 20
            # The batch in flight failed with its connection; everyone after it heard the writer died.
            assert sorted(type(e).__name__ for e in errors) == ["StorageError"] + ["WriterDiedError"] * 19, errors
            assert all("schema version 999" in str(e) for e in errors if type(e) is memactor.WriterDiedError)
            with pytest.raises(memactor.WriterDiedError):
                await mem.skills.add(Skill(name="later"))
            with pytest.raises(memactor.WriterDiedError):
                async with mem.batch() as b:
                    b.facts.add(Fact(content="later"))
    assert committed_ids(db_path) == set()
