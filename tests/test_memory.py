"""`Memory` and `open`: lifecycle, read-only handles, read-your-writes, statistics and the quota."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
import memactor.actor.writer
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio


def memactor_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("memactor-")]


# --- open / close ----------------------------------------------------------------------------------------


async def test_open_and_close_leave_no_thread_behind(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        assert isinstance(mem, memactor.Memory)
        assert memactor_threads()
        await mem.facts.add(Fact(content="x"))
    assert memactor_threads() == []
    assert db_path.exists()


async def test_close_from_another_task_commits_what_was_queued(db_path: Path) -> None:
    mem = await memactor.open(db_path).__aenter__()
    ids: list[str] = []

    async def add(i: int) -> None:
        try:
            ids.append(await mem.episodes.add(Episode(task=f"t{i}")))
        except memactor.ClosedError:  # reached the mailbox after intake stopped: nothing happened
            pass

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(add, i)
            await anyio.sleep(0)
            tg.start_soon(mem.close)
    assert memactor_threads() == []
    with sqlite3.connect(db_path) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM episodes")}
    assert set(ids) <= stored and ids


async def test_a_closed_handle_raises_closed_error(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        eid = await mem.episodes.add(Episode(task="t"))
    await mem.close()  # idempotent
    with pytest.raises(memactor.ClosedError):
        await mem.episodes.add(Episode(task="late"))
    with pytest.raises(memactor.ClosedError):
        await mem.episodes.get(eid)
    with pytest.raises(memactor.ClosedError):
        await mem.skills.search("x")
    with pytest.raises(memactor.ClosedError):
        async with mem.batch() as b:
            b.facts.add(Fact(content="late"))
    with pytest.raises(memactor.ClosedError):
        async with mem:
            pass


async def test_data_survives_reopening(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        sid = await mem.skills.add(Skill(name="kept"))
        await mem.skills.record_use(sid, True)
    async with memactor.open(db_path) as mem:
        skill = await mem.skills.get_by_name("kept")
        assert (skill.id, skill.uses) == (sid, 1)


@pytest.mark.parametrize(
    "options",
    [
        {"durability": "fast"},
        {"max_batch": 0},
        {"max_pending": 0},
        {"read_connections": 0},
        {"max_size": 0},
        {"max_batch": 1.5},
    ],
)
def test_bad_options_are_refused(db_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(memactor.InvalidInputError):
        memactor.open(db_path, **options)


def test_in_memory_databases_are_refused() -> None:
    with pytest.raises(memactor.InvalidInputError):
        memactor.open(":memory:")


async def test_a_second_writer_handle_is_refused_until_the_first_closes(db_path: Path) -> None:
    async with memactor.open(db_path):
        with pytest.raises(memactor.AlreadyOpenError, match="readonly=True"):
            async with memactor.open(db_path):
                pass
    async with memactor.open(db_path) as mem:
        assert await mem.facts.count() == 0


async def test_a_newer_schema_is_refused_and_releases_the_lock(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(memactor.SchemaError, match="999"):
        async with memactor.open(db_path):
            pass
    assert memactor_threads() == []
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    async with memactor.open(db_path) as mem:
        assert await mem.episodes.count() == 0


async def test_a_failing_read_pool_fails_open_cleanly(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memactor.actor.readpool

    def refuse(path: str) -> sqlite3.Connection:
        raise memactor.StorageError(f"cannot open {path} for reading (simulated)")

    monkeypatch.setattr(memactor.actor.readpool, "connect_reader", refuse)
    with anyio.fail_after(10):
        with pytest.raises(memactor.StorageError, match="simulated"):
            async with memactor.open(db_path):
                pass
    assert memactor_threads() == []
    monkeypatch.undo()
    async with memactor.open(db_path) as mem:
        assert await mem.episodes.count() == 0


# --- read-only handles -----------------------------------------------------------------------------------


async def test_a_readonly_handle_reads_while_a_writer_writes(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal") as writer:
        async with memactor.open(db_path, readonly=True) as reader:
            assert reader.readonly
            for n in range(20):
                eid = await writer.episodes.add(Episode(task=f"step {n}"))
                assert (await reader.episodes.get(eid)).task == f"step {n}"
                assert await reader.episodes.count() == n + 1
            assert len(await reader.episodes.search("step", limit=100)) == 20
            assert sum([len(p) async for p in reader.episodes.stream(batch_size=7)]) == 20
            with pytest.raises(memactor.ReadOnlyError):
                await reader.episodes.add(Episode(task="refused"))
            with pytest.raises(memactor.ReadOnlyError):
                await reader.skills.record_use("x", True)
            with pytest.raises(memactor.ReadOnlyError):
                async with reader.batch() as b:
                    b.facts.add(Fact(content="refused"))
            with pytest.raises(memactor.ReadOnlyError):
                await reader.set_max_size(10**9)
            assert reader.statistics().batches == 0
    async with memactor.open(db_path, readonly=True) as reader:
        assert await reader.episodes.count() == 20
        assert await reader.facts.count() == 0


async def test_many_readonly_handles_may_coexist_with_the_writer(db_path: Path) -> None:
    async with memactor.open(db_path) as writer:
        await writer.facts.add(Fact(content="shared"))
        async with memactor.open(db_path, readonly=True) as r1, memactor.open(db_path, readonly=True) as r2:
            assert await r1.facts.count() == await r2.facts.count() == 1


# --- read-your-writes across agents ----------------------------------------------------------------------


async def test_another_agent_reads_what_one_agent_just_wrote(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal", read_connections=4) as mem:
        send, receive = anyio.create_memory_object_stream[str](100)
        seen: list[str] = []

        async def writer_agent(n: int) -> None:
            async with send.clone() as out:
                for i in range(10):
                    await out.send(await mem.facts.add(Fact(content=f"agent {n} fact {i}", agent_id=f"w{n}")))

        async def reader_agent() -> None:
            async with receive.clone() as inbox:
                async for fid in inbox:
                    seen.append((await mem.facts.get(fid)).id)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(reader_agent)
                async with send, receive:
                    async with anyio.create_task_group() as writers:
                        for n in range(8):
                            writers.start_soon(writer_agent, n)
        assert len(seen) == 80 == len(set(seen))


# --- statistics ------------------------------------------------------------------------------------------


async def test_statistics_snapshot(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal", max_pending=64) as mem:
        empty = mem.statistics()
        assert (empty.batches, empty.commands, empty.mean_batch_size, empty.max_batch_size) == (0, 0, 0.0, 0)
        assert (empty.queue_depth, empty.queue_capacity) == (0, 64)
        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(mem.episodes.add, Episode(task=f"t{n}"))
        with pytest.raises(memactor.NotFoundError):
            await mem.facts.update("missing", content="x")
        await mem.episodes.count()
        await mem.episodes.search("t1")
        stats = mem.statistics()
        assert stats.commands == 51  # rejected commands count too
        assert 1 <= stats.batches <= 51
        assert stats.mean_batch_size == pytest.approx(stats.commands / stats.batches)
        assert 1 <= stats.max_batch_size <= 50
        assert sum(stats.batch_size_histogram.values()) == stats.batches
        assert all(size & (size - 1) == 0 for size in stats.batch_size_histogram)
        assert 0.0 < stats.commit_p50_ms <= stats.commit_p99_ms
        assert stats.reads == 2
        assert stats.queue_depth == 0 and stats.queue_capacity == 64
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.batches = 0  # type: ignore[misc]
        assert isinstance(stats, memactor.Statistics)


# --- quota -----------------------------------------------------------------------------------------------

QUOTA = 1_000_000
PAYLOAD = "payload " * 300


async def fill(mem: memactor.Memory) -> list[str]:
    added: list[str] = []
    for _ in range(1000):
        try:
            added.append(await mem.episodes.add(Episode(task=PAYLOAD)))
        except memactor.StorageFullError:
            return added
    raise AssertionError("the quota never filled")


async def test_quota_refuses_writes_keeps_data_and_recovers_after_deletes(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal", max_size=QUOTA) as mem:
        added = await fill(mem)
        assert len(added) > 10
        with pytest.raises(memactor.StorageFullError, match="full"):
            await mem.facts.add(Fact(content=PAYLOAD * 10))
        with pytest.raises(memactor.StorageError):
            await mem.episodes.add_many([Episode(task=PAYLOAD) for _ in range(5)])
        # Nothing acknowledged was lost.
        assert await mem.episodes.count() == len(added)
        assert [e.id for e in await mem.episodes.get_many(added)] == added
        # Deletes work at the quota, and the same instance writes again afterwards.
        for eid in added[: len(added) // 2]:
            assert await mem.episodes.delete(eid) is True
        fid = await mem.facts.add(Fact(content="fits again"))
        assert (await mem.facts.get(fid)).content == "fits again"
    assert Path(db_path).stat().st_size <= QUOTA


async def test_raising_the_quota_lets_the_same_instance_write_again(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal", max_size=QUOTA) as mem:
        added = await fill(mem)
        await mem.set_max_size(4 * QUOTA)
        more = [await mem.episodes.add(Episode(task=PAYLOAD)) for _ in range(20)]
        await mem.set_max_size(None)
        more += [await mem.episodes.add(Episode(task=PAYLOAD)) for _ in range(20)]
        assert await mem.episodes.count() == len(added) + len(more)


async def test_at_the_quota_deletes_grouped_with_growing_writes_still_succeed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = memactor.actor.writer.apply_batch
    hold = threading.Event()
    hold.set()

    def held(*args: Any) -> list[object]:
        hold.wait(10)
        return real(*args)

    monkeypatch.setattr(memactor.actor.writer, "apply_batch", held)
    results: dict[str, object] = {}

    async def run(name: str, call: Any) -> None:
        try:
            results[name] = await call
        except memactor.MemactorError as exc:
            results[name] = exc

    async with memactor.open(db_path, durability="normal", max_size=QUOTA) as mem:
        added = await fill(mem)
        hold.clear()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "hold", mem.facts.add(Fact(content="small")))
                await anyio.sleep(0.05)
                tg.start_soon(run, "delete-1", mem.episodes.delete(added[0]))
                tg.start_soon(run, "big", mem.episodes.add(Episode(task=PAYLOAD * 50)))
                tg.start_soon(run, "delete-2", mem.episodes.delete(added[1]))
                with anyio.fail_after(10):
                    while mem.statistics().queue_depth < 3:
                        await anyio.sleep(0.002)
                hold.set()
        finally:
            hold.set()
        assert mem.statistics().max_batch_size >= 3
        assert results["delete-1"] is True and results["delete-2"] is True
        assert isinstance(results["big"], memactor.StorageFullError)
        assert await mem.episodes.count() == len(added) - 2
