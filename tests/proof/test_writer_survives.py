"""Property: whatever commands one group commit holds, `apply_batch` answers each with a value or a typed
memactor error, nothing else escapes, the good commands commit, and every stored row reads back.

Commands are valid ones, ones changed behind their checks after they were built (as only deliberate code
can: ``object.__setattr__``) and sent as trusted in-process frames, and arbitrary frames sent as untrusted
socket input. Runs on a real sqlite3 connection, without an event loop.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memactor import CodecError, Episode, Fact, MemactorError, Skill, codec
from memactor.model.commands import AddRecords, Batch, Command, DeleteRecord, Ping, RecordUse, SetQuota, UpdateRecord
from memactor.sqlite.apply import apply_batch
from memactor.sqlite.mutations import Quota
from memactor.sqlite.rows import COLUMNS, from_row, select_list
from memactor.sqlite.schema import TABLES, configure_writer, migrate

texts = st.text(max_size=8)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)
POISON_VALUES = [
    math.nan,
    math.inf,
    2**64 - 1,
    -(2**63) - 1 + 2**63,
    {"s": math.nan},
    {"a": [1, {"b": -math.inf}]},
    {"deep": __import__("functools").reduce(lambda v, _: [v], range(60), 1)},
    (1, 2),
    ("x", None),
    5,
    "text",
    None,
    True,
    [],
    {},
]
POISON_FIELDS = ["metadata", "tags", "created_at", "updated_at", "importance", "task", "steps", "namespace", "id"]
IDS = ["e1", "e2", "f1", "s1", "missing"]


@st.composite
def records(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["episode", "fact", "skill"]))
    common = {
        "metadata": draw(st.dictionaries(texts, json_value, max_size=3)),
        "tags": tuple(draw(st.lists(texts, max_size=2))),
    }
    if draw(st.booleans()):
        common["id"] = draw(st.sampled_from(IDS))
    if kind == "episode":
        record: Any = Episode(task=draw(texts.filter(str.strip)) or "t", **common)
    elif kind == "fact":
        record = Fact(content="c", **common)
    else:
        record = Skill(name=draw(st.sampled_from(["n1", "n2", "n3"])), **common)
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from([n for n in POISON_FIELDS if hasattr(record, n)]))
        object.__setattr__(record, name, draw(st.sampled_from(POISON_VALUES)))
    return record


def _safe(build: Any) -> Any:
    try:
        return build()
    except MemactorError:
        return Ping()


@st.composite
def commands(draw: st.DrawFn, depth: int = 0) -> Command:
    choice = draw(st.integers(0, 7 if depth == 0 else 5))
    if choice <= 1:
        return AddRecords(tuple(draw(st.lists(records(), min_size=1, max_size=3))))
    if choice == 2:
        changes = draw(
            st.dictionaries(
                st.sampled_from(["task", "content", "name", "tags", "metadata", "uses", "x"]),
                json_value,
                min_size=1,
                max_size=2,
            )
        )
        kind, record_id = draw(st.sampled_from(["episode", "fact", "skill"])), draw(st.sampled_from(IDS))
        return _safe(lambda: UpdateRecord(kind, record_id, changes, draw(st.none() | st.integers(1, 3)), 1.0))  # type: ignore[no-any-return]
    if choice == 3:
        return DeleteRecord(draw(st.sampled_from(["episode", "fact", "skill"])), draw(st.sampled_from(IDS)))
    if choice == 4:
        return RecordUse(draw(st.sampled_from(IDS)), draw(st.booleans()), 2.0)
    if choice == 5:
        return Ping()
    if choice == 6:
        return Batch(tuple(draw(st.lists(commands(depth=1).filter(lambda c: not isinstance(c, Ping)), max_size=3))))
    return SetQuota(draw(st.none() | st.integers(1, 2**63 - 1)))


wire_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | texts | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts | st.integers(0, 9), inner, max_size=3),
)
arbitrary_frames = st.one_of(
    st.binary(max_size=40),
    st.builds(
        lambda tag, rest: msgpack.packb([tag, *rest], use_bin_type=True),
        st.integers(0, 8),
        st.lists(wire_values, max_size=5),
    ),
)


def _frame(command: Command) -> bytes | None:
    try:
        return codec.encode(command)
    except CodecError:
        return None  # refused in its caller: it never reaches the writer


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(st.one_of(commands().map(lambda c: (c, True)), arbitrary_frames.map(lambda f: (f, False))), max_size=12)
)
def test_every_command_gets_a_value_or_a_typed_error_and_the_good_ones_commit(batch: list[tuple[Any, bool]]) -> None:
    frames: list[bytes] = []
    trusted: list[bool] = []
    for item, is_trusted in batch:
        frame = _frame(item) if is_trusted else item
        if frame is not None:
            frames.append(frame)
            trusted.append(is_trusted)
    with tempfile.TemporaryDirectory() as directory:
        conn = sqlite3.connect(Path(directory) / "p.db", isolation_level=None)
        try:
            configure_writer(conn, durability="normal")
            migrate(conn)
            quota = Quota()
            outcomes = apply_batch(conn, frames, quota, trusted)
            assert len(outcomes) == len(frames)
            assert not conn.in_transaction
            added: dict[str, str] = {}  # id -> table, of adds that answered with their ids, unless deleted later
            for frame, outcome in zip(frames, outcomes, strict=True):
                assert not isinstance(outcome, BaseException) or isinstance(outcome, MemactorError), outcome
                if isinstance(outcome, MemactorError):
                    continue
                command = codec.decode(frame, validate=False)
                if isinstance(command, AddRecords) and isinstance(outcome, list):
                    added.update((record.id, TABLES[record.KIND].name) for record in command.records)
                elif isinstance(command, DeleteRecord):  # a later delete in the same group commit may remove it
                    added.pop(command.id, None)
                elif isinstance(command, Batch):
                    added = {}  # a batch may delete anything added before it: checked by the batch tests instead
            for record_id, table in added.items():
                assert conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (record_id,)).fetchone(), record_id
            for kind in COLUMNS:  # every stored row reads back as a record
                for row in conn.execute(f"SELECT {select_list(kind)} FROM {TABLES[kind].name}"):
                    from_row(kind, row)
            # The writer writes on: a clean add after whatever came before commits.
            clean = Episode(task="after")
            assert apply_batch(conn, [codec.encode(AddRecords((clean,)))], quota) == [[clean.id]]
        finally:
            conn.close()
