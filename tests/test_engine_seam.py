"""The engine seam: a second engine plugs in through `memactor.open` and the actor serves the contract with it.

The second engine here is small on purpose: it wraps the real SQLite engine, records every call the actor
makes (and on which thread), and hands the actor connections of its own type, so nothing in the actor can
lean on them being `sqlite3` connections. A real engine (PostgreSQL) would be too big for this test; what
this proves is the seam, not a mock of the product: every write and read below is real SQLite work.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor import ConflictError, Episode, Fact, Skill, StorageError, UnsupportedBackendError
from memactor.engine import Engine, EngineOptions
from memactor.engines import open_engine
from memactor.model.queries import Query
from memactor.model.records import Record
from memactor.sqlite.engine import SqliteEngine

pytestmark = pytest.mark.anyio

HANG = 30  # seconds: only to turn a hang into a failure


class Conn:
    """A connection of the recording engine: not a `sqlite3.Connection`, so the actor must treat it as opaque."""

    def __init__(self, raw: Any, role: str) -> None:
        self.raw = raw
        self.role = role


class RecordingEngine:
    """An engine of its own (`memactor.engine.Engine`) that delegates to SQLite and records each call."""

    name = "recording"

    def __init__(self, path: Path) -> None:
        self.inner = SqliteEngine(str(path), EngineOptions(durability="normal"))
        self.target = self.inner.target
        self.calls: list[tuple[str, str]] = []  # (method, thread name), in call order
        self.group_sizes: list[int] = []
        self.entered = threading.Event()  # a group commit has reached the engine
        self.hold = threading.Event()  # group commits wait for it
        self.hold.set()
        self.fail_next_group = False

    def _note(self, method: str) -> None:
        self.calls.append((method, threading.current_thread().name))

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def prepare(self, *, readonly: bool) -> None:
        self._note(f"prepare(readonly={readonly})")
        self.inner.prepare(readonly=readonly)

    def release(self) -> None:
        self._note("release")
        self.inner.release()

    def close(self, conn: Conn) -> None:
        self._note(f"close {conn.role}")
        self.inner.close(conn.raw)

    def connect_writer(self, *, reopen: bool = False) -> Conn:
        self._note("connect_writer")
        return Conn(self.inner.connect_writer(reopen=reopen), "writer")

    def apply_batch(self, conn: Conn, frames: Sequence[bytes], trusted: Sequence[bool]) -> list[object]:
        self._note("apply_batch")
        self.group_sizes.append(len(frames))
        self.entered.set()
        self.hold.wait(HANG)
        if self.fail_next_group:
            self.fail_next_group = False
            raise StorageError("the connection broke (simulated)")
        return self.inner.apply_batch(conn.raw, frames, trusted)

    def check_writer(self, conn: Conn) -> None:
        self._note("check_writer")
        self.inner.check_writer(conn.raw)

    def log_bytes(self) -> int:
        return self.inner.log_bytes()

    def maintain(self, conn: Conn, *, final: bool) -> bool:
        self._note(f"maintain(final={final})")
        return self.inner.maintain(conn.raw, final=final)

    def connect_reader(self) -> Conn:
        self._note("connect_reader")
        return Conn(self.inner.connect_reader(), "reader")

    def run_query(self, conn: Conn, query: Query) -> Any:
        self._note("run_query")
        return self.inner.run_query(conn.raw, query)

    def stored_embedder(self, conn: Conn) -> tuple[str, int] | None:
        return self.inner.stored_embedder(conn.raw)

    def count_to_embed(self, conn: Conn, kind: str, *, every: bool) -> int:
        return self.inner.count_to_embed(conn.raw, kind, every=every)

    def records_to_embed(self, conn: Conn, kind: str, after: str, limit: int, *, every: bool) -> list[Record]:
        return self.inner.records_to_embed(conn.raw, kind, after, limit, every=every)

    def statistics(self, conn: Conn) -> dict[str, int]:
        self._note("statistics")
        return {**self.inner.statistics(conn.raw), "recorded_calls": len(self.calls)}


def test_the_recording_engine_is_an_engine(db_path: Path) -> None:
    engine: Engine[Conn, Conn] = RecordingEngine(db_path)  # mypy checks the structure; this, that it runs
    assert engine.target == str(db_path)


async def test_a_second_engine_serves_the_contract_through_open(db_path: Path) -> None:
    engine = RecordingEngine(db_path)
    async with memactor.open(engine, read_connections=2) as mem:
        assert mem.path == str(db_path)
        eid = await mem.episodes.add(Episode(task="deploy api", outcome="rolled back", agent_id="a1"))
        async with mem.batch() as b:
            b.facts.add(Fact(content="deploys fail when the health check times out", source_episode_ids=(eid,)))
        assert (await mem.episodes.get(eid)).task == "deploy api"
        assert [hit.record.id for hit in await mem.episodes.search("deploy", agent_id="a1")] == [eid]
        assert await mem.facts.count() == 1
        stats = await mem.storage_statistics()
        assert stats["schema_version"] > 0 and stats["size_bytes"] > 0 and stats["recorded_calls"] > 0
    methods = engine.methods()
    assert methods[0] == "prepare(readonly=False)"
    # What the engine holds for the writer (SQLite: the file lock) is given back only once its connection is
    # closed, and nothing writes after that.
    released = methods.index("release")
    assert methods.index("close writer") < released, "the store was released before the writer's connection closed"
    assert not {"apply_batch", "maintain(final=True)", "connect_writer"} & set(methods[released:])
    assert methods.count("connect_reader") == methods.count("close reader") == 2
    assert "maintain(final=True)" in methods, "the writer did not hand the engine its upkeep at close"
    threads = {method: thread for method, thread in engine.calls}
    # Each call ran on the lane that owns its connection, never on the event loop's thread.
    assert threads["connect_writer"] == threads["apply_batch"] == threads["maintain(final=True)"] == "memactor-writer"
    assert threads["run_query"].startswith("memactor-reader-")
    assert {thread for method, thread in engine.calls if method == "run_query"} <= {
        "memactor-reader-0",
        "memactor-reader-1",
    }
    # Written through one engine, read back through another: the data are real.
    async with memactor.open(db_path) as again:
        assert await again.facts.count() == 1


async def test_one_failing_command_does_not_fail_its_group(db_path: Path) -> None:
    engine = RecordingEngine(db_path)
    async with memactor.open(engine) as mem:
        outcomes: dict[str, object] = {}

        async def run(name: str, call: Any) -> None:
            try:
                outcomes[name] = await call
            except memactor.MemactorError as exc:
                outcomes[name] = exc

        with anyio.fail_after(HANG):
            engine.hold.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "first", mem.facts.add(Fact(content="alone in its group")))
                await anyio.to_thread.run_sync(engine.entered.wait, HANG)
                # Queued while the first group is held: they share the next group commit.
                tg.start_soon(run, "skill", mem.skills.add(Skill(name="rollback", description="undo")))
                tg.start_soon(run, "fact", mem.facts.add(Fact(content="a neighbour")))
                tg.start_soon(run, "same name", mem.skills.add(Skill(name="rollback", description="again")))
                while mem.statistics().queue_depth < 3:
                    await anyio.sleep(0.001)
                engine.hold.set()
    assert engine.group_sizes[:2] == [1, 3]
    assert isinstance(outcomes["same name"], ConflictError)
    assert isinstance(outcomes["skill"], str) and isinstance(outcomes["fact"], str)
    async with memactor.open(db_path) as again:
        assert await again.facts.count() == 2 and await again.skills.count() == 1
        # Each caller got its own command's outcome.
        assert (await again.skills.get(str(outcomes["skill"]))).description == "undo"
        assert (await again.facts.get(str(outcomes["fact"]))).content == "a neighbour"


async def test_a_broken_group_fails_its_callers_and_the_writer_goes_on(db_path: Path) -> None:
    engine = RecordingEngine(db_path)
    async with memactor.open(engine) as mem:
        await mem.facts.add(Fact(content="before"))
        engine.fail_next_group = True
        with pytest.raises(StorageError, match="simulated"):
            await mem.facts.add(Fact(content="lost with its group"))
        await mem.facts.add(Fact(content="after"))
        assert await mem.facts.count() == 2
    methods = engine.methods()
    assert "check_writer" in methods, "the writer did not ask the engine whether its connection can go on"
    assert methods.index("check_writer") > methods.index("apply_batch")


async def test_a_readonly_handle_prepares_without_a_writer(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await mem.facts.add(Fact(content="kept"))
    engine = RecordingEngine(db_path)
    async with memactor.open(engine, readonly=True) as reader:
        assert await reader.facts.count() == 1
    methods = engine.methods()
    assert methods[0] == "prepare(readonly=True)"
    assert "connect_writer" not in methods and "apply_batch" not in methods


async def test_storage_statistics_of_a_closed_handle_raise_closed_error(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        assert (await mem.storage_statistics())["size_bytes"] > 0
    with pytest.raises(memactor.ClosedError):
        await mem.storage_statistics()


async def test_an_engine_object_refuses_options_that_belong_to_it(db_path: Path) -> None:
    with pytest.raises(memactor.InvalidInputError, match="engine object"):
        memactor.open(RecordingEngine(db_path), max_size=1 << 20)


def test_open_picks_sqlite_for_a_path(db_path: Path) -> None:
    engine = open_engine(db_path)
    assert isinstance(engine, SqliteEngine) and engine.target == str(db_path)
    assert open_engine(str(db_path)).name == "sqlite"


@pytest.mark.parametrize("url", ["postgresql://localhost/agents", "postgres://u@host:5432/db"])
def test_a_postgres_url_without_its_extra_says_what_to_install(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the extra (or its driver) were not installed: importing the module fails.
    monkeypatch.setitem(sys.modules, "memactor.postgres", None)
    with pytest.raises(UnsupportedBackendError, match=r"pip install 'memactor\[postgres\]'"):
        memactor.open(url)
