"""Records are values, and the writer survives every command.

What was validated is what gets written: a record (or an update's changes) keeps a read-only copy of the
metadata it was built from. And whatever one command raises inside the writer, even a record changed behind
its checks (``object.__setattr__``), becomes that command's typed error: the rest of its group commit commits
and the writer keeps writing, for every agent.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgpack
import pytest

import memactor
import memactor.actor.writer
from memactor import Episode, Fact, InvalidInputError, MemactorError, Skill, codec
from memactor.actor.stores import update_command
from memactor.model.commands import AddRecords, Batch, Command, UpdateRecord
from memactor.sqlite.apply import apply_batch
from memactor.sqlite.rows import from_row, insert_values
from memactor.sqlite.schema import configure_writer, migrate
from tests.test_writer import Gate, committed_ids, wait_for_queue

NAN = float("nan")


def poison(record: Any, **values: Any) -> Any:
    """Change a built record behind its checks, as only deliberate code can now (metadata NaN by default)."""
    for name, value in (values or {"metadata": {"s": NAN}}).items():
        object.__setattr__(record, name, value)
    return record


# --- records are values ----------------------------------------------------------------------------------


def test_a_records_metadata_cannot_be_changed_after_it_was_built() -> None:
    ep = Episode(task="x", metadata={"a": [1, {"b": [2]}]})
    with pytest.raises(TypeError, match="read-only"):
        ep.metadata["s"] = NAN  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        ep.metadata["a"].append(NAN)
    with pytest.raises(TypeError, match="read-only"):
        ep.metadata["a"][1]["b"][0] = NAN
    for change in ("clear", "popitem", "update", "setdefault", "pop"):
        with pytest.raises(TypeError):
            getattr(ep.metadata, change)("a")
    for change in ("clear", "pop", "sort", "reverse", "extend", "append", "insert", "remove"):
        with pytest.raises(TypeError):
            getattr(ep.metadata["a"], change)(*([0, 0] if change == "insert" else [] if change != "remove" else [1]))
    assert ep.metadata == {"a": [1, {"b": [2]}]}


def test_changing_the_dict_a_record_was_built_from_changes_nothing() -> None:
    given: dict[str, Any] = {"a": [1, [2]], "d": {"k": "v"}}
    ep = Episode(task="x", metadata=given)
    given["s"] = NAN
    given["a"].append(NAN)
    given["a"][1].append(NAN)
    given["d"]["k"] = NAN
    assert ep.metadata == {"a": [1, [2]], "d": {"k": "v"}}
    # What gets written is what was checked.
    assert codec.decode(codec.encode(AddRecords((ep,)))) == AddRecords((ep,))
    assert json.loads(insert_values(ep, 1.0)[4]) == {"a": [1, [2]], "d": {"k": "v"}}


def test_an_updates_changes_are_copied_when_the_command_is_built() -> None:
    changes: dict[str, Any] = {"metadata": {"a": [1]}, "tags": ["t"]}
    command = update_command("fact", "f1", None, changes)
    direct = UpdateRecord("fact", "f1", changes, None, 1.0)
    changes["metadata"]["a"].append(NAN)
    changes["metadata"]["s"] = NAN
    changes["tags"].append(NAN)
    changes["version"] = 99
    for built in (command, direct):
        assert built.changes == {"metadata": {"a": [1]}, "tags": ["t"]}
        with pytest.raises(TypeError, match="read-only"):
            built.changes["content"] = "other"  # type: ignore[index]


def test_metadata_read_back_or_decoded_is_as_read_only(tmp_path: Path) -> None:
    ep = Episode(task="x", metadata={"a": [1, {"b": [2]}]})
    frame = codec.encode(AddRecords((ep,)))
    read: list[Any] = [
        from_row("episode", insert_values(ep, 1.0)),
        codec.decode(frame).records[0],  # type: ignore[union-attr]
        codec.decode(frame, validate=False).records[0],  # type: ignore[union-attr]
    ]
    for record in read:
        assert record.metadata == ep.metadata
        with pytest.raises(TypeError, match="read-only"):
            record.metadata["a"][1]["b"].append(3)


def test_frozen_metadata_still_works_as_plain_json() -> None:
    ep = Episode(task="x", metadata={"a": [1, 2], "n": None})
    assert ep.metadata == {"a": [1, 2], "n": None} and isinstance(ep.metadata, dict)
    assert isinstance(ep.metadata["a"], list) and ep.metadata["a"] == [1, 2]
    assert json.loads(json.dumps(ep.metadata)) == {"a": [1, 2], "n": None}
    assert msgpack.unpackb(msgpack.packb(ep.metadata)) == {"a": [1, 2], "n": None}
    assert copy.deepcopy(ep) == ep and pickle.loads(pickle.dumps(ep)) == ep
    assert json.dumps(dataclasses.asdict(ep)["metadata"]) == '{"a": [1, 2], "n": null}'
    mutable = {**ep.metadata, "b": 3}
    mutable["c"] = ep.metadata.copy()
    mutable["c"]["d"] = ep.metadata["a"] + [3]
    assert dataclasses.replace(ep, metadata=mutable).metadata == {
        "a": [1, 2],
        "n": None,
        "b": 3,
        "c": {"a": [1, 2], "n": None, "d": [1, 2, 3]},
    }


# --- the writer survives every command: one group commit, no event loop --------------------------------


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(db_path, isolation_level=None)
    configure_writer(connection, durability="normal")
    migrate(connection)
    yield connection
    connection.close()


def stored(conn: sqlite3.Connection, table: str = "episodes") -> set[str]:
    return {row[0] for row in conn.execute(f"SELECT id FROM {table}")}


POISONS: dict[str, dict[str, Any]] = {
    "metadata NaN": {"metadata": {"s": NAN}},
    "nested metadata inf": {"metadata": {"a": [1, {"b": math.inf}]}},
    "created_at beyond 64 bits": {"created_at": 2**64 - 1},
    "tags not strings": {"tags": (1, 2)},
}


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_one_poisoned_record_in_a_run_of_64_adds_fails_alone(conn: sqlite3.Connection, kind: str) -> None:
    records = [Episode(task=f"agent {n}") for n in range(64)]
    poison(records[31], **POISONS[kind])
    outcomes = apply_batch(conn, [codec.encode(AddRecords((r,))) for r in records], trusted=[True] * 64)
    assert isinstance(outcomes[31], InvalidInputError), outcomes[31]
    assert records[31].id in str(outcomes[31])
    assert outcomes[:31] + outcomes[32:] == [[r.id] for r in records[:31] + records[32:]]
    assert stored(conn) == {r.id for r in records} - {records[31].id}
    assert not conn.in_transaction
    assert apply_batch(conn, [codec.encode(AddRecords((Episode(task="later"),)))]) != []


def test_a_poisoned_record_fails_its_batch_and_add_many_alone(conn: sqlite3.Connection) -> None:
    bad = poison(Episode(task="bad"))
    batch_ok, many_ok, alone = Episode(task="in batch"), Episode(task="in add_many"), Episode(task="alone")
    commands: list[Command] = [
        Batch((AddRecords((batch_ok,)), AddRecords((bad,)))),
        AddRecords((many_ok, bad)),
        AddRecords((alone,)),
    ]
    outcomes = apply_batch(conn, [codec.encode(c) for c in commands], trusted=[True] * 3)
    assert isinstance(outcomes[0], InvalidInputError) and "batch command 1" in str(outcomes[0])
    assert "metadata" in str(outcomes[0])
    assert isinstance(outcomes[1], InvalidInputError) and "metadata" in str(outcomes[1])
    assert outcomes[2] == [alone.id]
    assert stored(conn) == {alone.id}


def test_a_poisoned_fact_or_skill_fails_alone_too(conn: sqlite3.Connection) -> None:
    records: list[Any] = [Fact(content="f"), poison(Fact(content="bad")), Skill(name="s"), poison(Skill(name="b"))]
    outcomes = apply_batch(conn, [codec.encode(AddRecords((r,))) for r in records], trusted=[True] * 4)
    assert outcomes[0] == [records[0].id] and outcomes[2] == [records[2].id]
    assert all(isinstance(outcomes[i], InvalidInputError) for i in (1, 3))
    assert stored(conn, "facts") == {records[0].id} and stored(conn, "skills") == {records[2].id}


def test_an_untrusted_frame_of_a_poisoned_record_is_refused_alone(conn: sqlite3.Connection) -> None:
    good = Episode(task="good")
    outcomes = apply_batch(
        conn, [codec.encode(AddRecords((poison(Episode(task="bad")),))), codec.encode(AddRecords((good,)))]
    )
    assert isinstance(outcomes[0], memactor.CodecError) and "metadata" in str(outcomes[0])
    assert outcomes[1] == [good.id] and stored(conn) == {good.id}


# --- the writer survives every command: 64 callers through memactor.open ---------------------------------


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    monkeypatch.setattr(memactor.actor.writer, "apply_batch", held.apply_batch)
    yield held
    held.opened.set()


async def hold_writer(mem: memactor.Memory, gate: Gate, tg: Any) -> None:
    """Let a first write enter the writer and hold it there, so what follows piles up for one commit."""
    tg.start_soon(mem.episodes.add, Episode(task="hold"))
    await anyio.to_thread.run_sync(gate.entered.wait, 10)


@pytest.mark.anyio
async def test_a_poisoned_record_among_64_callers_fails_alone_and_the_writer_writes_on(
    db_path: Path, gate: Gate
) -> None:
    outcomes: dict[int, object] = {}
    records = [Episode(task=f"agent {n}") for n in range(64)]
    poison(records[31])

    async def write(n: int) -> None:
        try:
            outcomes[n] = await mem.episodes.add(records[n])
        except MemactorError as exc:
            outcomes[n] = exc

    async with memactor.open(db_path, durability="normal") as mem:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                await hold_writer(mem, gate, tg)
                for n in range(64):
                    tg.start_soon(write, n)
                await wait_for_queue(mem, 64)
                gate.opened.set()
        assert 64 in gate.batches
        assert isinstance(outcomes[31], InvalidInputError), outcomes[31]
        assert "metadata" in str(outcomes[31])
        assert {n: o for n, o in outcomes.items() if n != 31} == {n: r.id for n, r in enumerate(records) if n != 31}
        later = await mem.episodes.add(Episode(task="later"))
        stats = mem.statistics()
        assert (stats.commands, stats.max_batch_size) == (66, 64)
        assert await mem.episodes.count() == 65
    assert committed_ids(db_path) == {r.id for r in records} - {records[31].id} | {later} | _held(db_path)


def _held(db_path: Path) -> set[str]:
    conn = sqlite3.connect(db_path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM episodes WHERE task = 'hold'")}
    finally:
        conn.close()


@pytest.mark.anyio
async def test_a_poisoned_record_in_a_batch_fails_that_batch_alone_and_the_writer_writes_on(
    db_path: Path, gate: Gate
) -> None:
    others = [Episode(task=f"other {n}") for n in range(20)]
    failed: list[BaseException] = []

    async def batch_with_poison() -> None:
        try:
            async with mem.batch() as b:
                b.episodes.add(Episode(task="batch first"))
                ep = Episode(task="batch poisoned")
                b.episodes.add(ep)
                poison(ep)
                b.facts.add(Fact(content="batch last"))
        except MemactorError as exc:
            failed.append(exc)

    async with memactor.open(db_path, durability="normal") as mem:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                await hold_writer(mem, gate, tg)
                for record in others[:10]:
                    tg.start_soon(mem.episodes.add, record)
                tg.start_soon(batch_with_poison)
                await wait_for_queue(mem, 11)
                for record in others[10:]:
                    tg.start_soon(mem.episodes.add, record)
                await wait_for_queue(mem, 21)
                gate.opened.set()
        assert [type(exc) for exc in failed] == [InvalidInputError], failed
        assert "batch command 1" in str(failed[0]) and "metadata" in str(failed[0])
        assert max(gate.batches) == 21
        later = await mem.episodes.add(Episode(task="later"))
        assert await mem.facts.count() == 0
        assert mem.statistics().commands == 23
    assert committed_ids(db_path) == {r.id for r in others} | {later} | _held(db_path)


@pytest.mark.anyio
async def test_changing_a_record_inside_a_batch_fails_in_the_body_and_sends_nothing(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        ep = Episode(task="x")
        with pytest.raises(TypeError, match="read-only"):
            async with mem.batch() as b:
                b.episodes.add(Episode(task="first"))
                b.episodes.add(ep)
                ep.metadata["s"] = NAN  # type: ignore[index]
        with pytest.raises(TypeError, match="read-only"):
            Episode(task="y").metadata["s"] = NAN  # type: ignore[index]
        later = await mem.episodes.add(Episode(task="y"))
        assert await mem.episodes.count() == 1
        assert (await mem.episodes.get(later)).task == "y"
