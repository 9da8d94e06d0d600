"""The real memory, all three stores, against a plain in-memory model (hypothesis `RuleBasedStateMachine`).

Rules are sync and reach the async handle through `memactor.open_sync` (an anyio blocking portal). After
every step the invariant streams every store and compares full contents and versions with the model.
Profiles live in ``conftest.py``: ``HYPOTHESIS_PROFILE=long`` for long runs.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import tempfile
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import memactor
from memactor import ConflictError, Episode, Fact, InvalidInputError, NotFoundError, Skill
from tests.fts_check import integrity_check

KINDS = ("episode", "fact", "skill")
TYPES = {"episode": Episode, "fact": Fact, "skill": Skill}
STORES = {"episode": "episodes", "fact": "facts", "skill": "skills"}
# Fields the writer maintains: a retried add may differ in them and still be "the same record".
MAINTAINED = {"created_at", "updated_at", "version", "uses", "successes", "last_used_at"}
# Fields never compared directly: the writer stamps them with its own clock.
STAMPED = ("created_at", "updated_at", "last_used_at")
TEXT_FIELDS = {
    "episode": ("task", "steps", "outcome"),
    "fact": ("content",),
    "skill": ("name", "description", "steps", "code"),
}
VOCAB = ("deploy", "rollback", "health", "cache", "timeout", "retry")

namespaces = st.sampled_from(["default", "team-a", "team-b"])
agent_ids = st.none() | st.sampled_from(["a1", "a2", "a3"])
tag_lists = st.lists(st.sampled_from(["x", "y", "z"]), max_size=3).map(tuple)
explicit_ids = st.from_regex(r"[A-Za-z0-9_.:@/+=-]{1,40}", fullmatch=True)
safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
words = st.sampled_from(VOCAB) | safe_text
texts = st.lists(words, max_size=4).map(" ".join)
required_texts = st.tuples(st.sampled_from(VOCAB), texts).map(" ".join)
skill_names = st.sampled_from(["build", "push", "rollback", "probe"])
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text
)
metadata = st.dictionaries(
    safe_text,
    st.recursive(
        json_leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(safe_text, c, max_size=3), max_leaves=6
    ),
    max_size=3,
)
unit = st.floats(0.0, 1.0)
common = {"namespace": namespaces, "agent_id": agent_ids, "tags": tag_lists, "metadata": metadata}
FIELDS = {
    "episode": {
        **common,
        "task": required_texts,
        "steps": st.lists(texts, max_size=3).map(tuple),
        "outcome": texts,
        "success": st.none() | st.booleans(),
        "reward": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "importance": unit,
    },
    "fact": {
        **common,
        "content": required_texts,
        "confidence": unit,
        "source_episode_ids": st.lists(explicit_ids, max_size=2).map(tuple),
    },
    "skill": {
        **common,
        "name": skill_names,
        "description": texts,
        "steps": st.lists(texts, max_size=3).map(tuple),
        "code": texts,
    },
}
# A skill's counters may be set by update (successes never above uses, checked by the writer).
COUNTERS = {"uses": st.integers(0, 5), "successes": st.integers(0, 5)}
REQUIRED = {"episode": "task", "fact": "content", "skill": "name"}


@st.composite
def fields_of(draw: Any, kind: str) -> dict[str, Any]:
    """Keyword arguments for a new record of ``kind``: the required text and some optional fields."""
    spec = FIELDS[kind]
    chosen = draw(st.sets(st.sampled_from(sorted(spec)), max_size=len(spec)))
    values = {name: draw(spec[name]) for name in sorted(chosen | {REQUIRED[kind]})}
    return values


@st.composite
def changes_of(draw: Any, kind: str, counters: bool = True) -> dict[str, Any]:
    """Keyword arguments for an update of ``kind``: one to three fields."""
    spec = {**FIELDS[kind], **COUNTERS} if kind == "skill" and counters else FIELDS[kind]
    chosen = draw(st.sets(st.sampled_from(sorted(spec)), min_size=1, max_size=3))
    return {name: draw(spec[name]) for name in sorted(chosen)}


class ModelError(Exception):
    """What the model predicts the real call raises."""

    def __init__(self, error: type[Exception], *, early: bool = False) -> None:
        super().__init__(error.__name__)
        self.error = error
        self.early = early  # raised by the store while building the command, before anything is sent


def comparable(record: Any) -> dict[str, Any]:
    """A record's fields without the clock stamps, JSON-like containers normalized."""
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    for name in STAMPED:
        values.pop(name, None)
    return values


class Model:
    """The expected contents: kind -> id -> fields (as `comparable` gives them) and learned stamps."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.created: dict[tuple[str, str], float] = {}

    def add(self, record: Any) -> str:
        kind = record.KIND
        table = self.tables[kind]
        new = comparable(record)
        new["version"] = 1
        existing = table.get(record.id)
        if existing is not None:
            if any(new[n] != existing[n] for n in new if n not in MAINTAINED):
                raise ModelError(ConflictError)
            return record.id
        if kind == "skill" and self._name_taken(new["namespace"], new["name"], record.id):
            raise ModelError(ConflictError)
        table[record.id] = new
        return record.id

    def _name_taken(self, namespace: str, name: str, own_id: str) -> bool:
        return any(
            r["namespace"] == namespace and r["name"] == name and rid != own_id
            for rid, r in self.tables["skill"].items()
        )

    def update(self, kind: str, record_id: str, changes: dict[str, Any], expect: int | None) -> dict[str, Any]:
        if changes.get("successes", 0) > changes.get("uses", 2**63):
            raise ModelError(InvalidInputError, early=True)
        current = self.tables[kind].get(record_id)
        if current is None:
            raise ModelError(NotFoundError)
        if expect is not None and expect != current["version"]:
            raise ModelError(ConflictError)
        updated = {**current, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}}
        if kind == "skill" and updated["successes"] > updated["uses"]:
            raise ModelError(InvalidInputError)
        if kind == "skill" and self._name_taken(updated["namespace"], updated["name"], record_id):
            raise ModelError(ConflictError)
        updated["version"] += 1
        self.tables[kind][record_id] = updated
        return updated

    def delete(self, kind: str, record_id: str) -> bool:
        self.created.pop((kind, record_id), None)
        return self.tables[kind].pop(record_id, None) is not None

    def record_use(self, record_id: str, success: bool) -> dict[str, Any]:
        current = self.tables["skill"].get(record_id)
        if current is None:
            raise ModelError(NotFoundError)
        current["uses"] += 1
        current["successes"] += int(success)
        current["version"] += 1
        return current

    def matching(self, kind: str, filters: dict[str, Any]) -> list[str]:
        """Ids of the records that ``filters`` select, in id order."""
        found = []
        for rid, r in self.tables[kind].items():
            created = self.created[(kind, rid)]
            checks = (
                filters.get("namespace") in (None, r["namespace"]),
                filters.get("agent_id") is None or filters["agent_id"] == r["agent_id"],
                set(filters.get("tags", ())) <= set(r["tags"]),
                filters.get("since") is None or created >= filters["since"],
                filters.get("until") is None or created < filters["until"],
                filters.get("success") is None or r.get("success") == filters["success"],
                filters.get("name") is None or r.get("name") == filters["name"],
                filters.get("min_confidence") is None or r["confidence"] >= filters["min_confidence"],
            )
            if all(checks):
                found.append(rid)
        return sorted(found)


def expect(model_call: Any) -> tuple[Any, type[Exception] | None]:
    """Run a model operation, returning (result, None) or (None, the error it predicts)."""
    try:
        return model_call(), None
    except ModelError as exc:
        return None, exc.error


def expect_early(model_call: Any) -> tuple[type[Exception] | None, bool]:
    """Like `expect` for a batch command: (the predicted error, whether the store raises it at once)."""
    try:
        model_call()
    except ModelError as exc:
        return exc.error, exc.early
    return None, False


class MemoryMachine(RuleBasedStateMachine):
    """Drives one memory file and the model with the same operations."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "model.db")
        self.stack = contextlib.ExitStack()
        self.mem: Any = None
        self.model = Model()
        self.known: dict[str, list[str]] = {kind: [] for kind in KINDS}

    @initialize()
    def open_memory(self) -> None:
        self.mem = self.stack.enter_context(memactor.open_sync(self.path, max_batch=64, max_pending=64))

    def teardown(self) -> None:
        try:
            self.stack.close()
            if self.mem is not None:
                integrity_check(self.path)  # the text indexes match their tables, term by term
        finally:
            self.dir.cleanup()

    # -- helpers ---------------------------------------------------------------------------------------

    def store(self, kind: str) -> Any:
        return getattr(self.mem, STORES[kind])

    def learn_created(self, kind: str, record_id: str) -> None:
        if (kind, record_id) not in self.model.created:
            record = self.store(kind).get(record_id)
            self.model.created[(kind, record_id)] = record.created_at

    def pick(self, data: Any, kind: str) -> str:
        """An id: mostly a live one, sometimes a deleted or never-used one."""
        live = sorted(self.model.tables[kind])
        return data.draw(st.sampled_from(live + self.known[kind][-10:] + ["missing-id"]), label="id")

    def call(self, predicted_error: type[Exception] | None, function: Any, *args: Any, **kwargs: Any) -> Any:
        if predicted_error is None:
            return function(*args, **kwargs)
        with pytest.raises(predicted_error):
            function(*args, **kwargs)
        return None

    def make(self, kind: str, fields: dict[str, Any], record_id: str | None) -> Any:
        record = TYPES[kind](**fields) if record_id is None else TYPES[kind](id=record_id, **fields)
        self.known[kind].append(record.id)
        return record

    # -- writes ----------------------------------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(KINDS), explicit=st.none() | explicit_ids)
    def add(self, data: Any, kind: str, explicit: str | None) -> None:
        record = self.make(kind, data.draw(fields_of(kind)), explicit)
        result, error = expect(lambda: self.model.add(record))
        got = self.call(error, self.store(kind).add, record)
        if error is None:
            assert got == result == record.id
            self.learn_created(kind, record.id)

    @precondition(lambda self: any(self.model.tables.values()))
    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def retry_add(self, data: Any, kind: str) -> None:
        """A retried add of the stored content is a no-op; with any user field changed it conflicts."""
        if not self.model.tables[kind]:
            return
        record_id = data.draw(st.sampled_from(sorted(self.model.tables[kind])))
        stored = self.store(kind).get(record_id)
        retried = dataclasses.replace(stored, created_at=None, updated_at=None, version=0)
        if data.draw(st.booleans(), label="change content"):
            retried = dataclasses.replace(retried, **data.draw(changes_of(kind, counters=False)))
        result, error = expect(lambda: self.model.add(retried))
        got = self.call(error, self.store(kind).add, retried)
        if error is None:
            assert got == result == record_id
        else:
            assert error is ConflictError

    @rule(data=st.data(), kind=st.sampled_from(KINDS), use_expect=st.sampled_from(["none", "right", "stale"]))
    def update(self, data: Any, kind: str, use_expect: str) -> None:
        record_id = self.pick(data, kind)
        changes = data.draw(changes_of(kind))
        current = self.model.tables[kind].get(record_id)
        expected_version = None
        if use_expect != "none":
            version = current["version"] if current else 1
            expected_version = version if use_expect == "right" else version + data.draw(st.integers(1, 3))
        result, error = expect(lambda: self.model.update(kind, record_id, changes, expected_version))
        got = self.call(error, self.store(kind).update, record_id, expect_version=expected_version, **changes)
        if error is None:
            assert comparable(got) == result

    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def delete(self, data: Any, kind: str) -> None:
        record_id = self.pick(data, kind)
        assert self.store(kind).delete(record_id) == self.model.delete(kind, record_id)

    @rule(data=st.data(), success=st.booleans())
    def record_use(self, data: Any, success: bool) -> None:
        record_id = self.pick(data, "skill")
        result, error = expect(lambda: self.model.record_use(record_id, success))
        got = self.call(error, self.mem.skills.record_use, record_id, success)
        if error is None:
            assert comparable(got) == result
            assert got.last_used_at is not None

    @rule(data=st.data(), kind=st.sampled_from(KINDS), size=st.integers(1, 5))
    def add_many(self, data: Any, kind: str, size: int) -> None:
        records = []
        for _ in range(size):
            if self.known[kind] and data.draw(st.booleans(), label="reuse an id"):
                records.append(
                    self.make(kind, data.draw(fields_of(kind)), data.draw(st.sampled_from(self.known[kind])))
                )
            else:
                records.append(self.make(kind, data.draw(fields_of(kind)), data.draw(st.none() | explicit_ids)))
        trial = copy.deepcopy(self.model)
        result, error = expect(lambda: [trial.add(r) for r in records])
        got = self.call(error, self.store(kind).add_many, records)
        if error is None:
            self.model = trial
            assert got == result
            for record in records:
                self.learn_created(kind, record.id)

    @rule(data=st.data(), size=st.integers(1, 6), body_raises=st.booleans())
    def batch(self, data: Any, size: int, body_raises: bool) -> None:
        """A batch across stores: all of it applies or, if one command fails or the body raises, none."""
        trial = copy.deepcopy(self.model)
        operations: list[tuple[Any, ...]] = []
        added: list[tuple[str, str]] = []
        predicted: type[Exception] | None = None
        for _ in range(size):
            op = data.draw(st.sampled_from(["add", "update", "delete", "use"]))
            kind = data.draw(st.sampled_from(KINDS))
            if op == "add":
                record = self.make(kind, data.draw(fields_of(kind)), data.draw(st.none() | explicit_ids))
                operations.append(("add", kind, record))
                added.append((kind, record.id))
                _, error = expect(lambda r=record: trial.add(r))
            elif op == "update":
                record_id = self.pick(data, kind)
                changes = data.draw(changes_of(kind))
                operations.append(("update", kind, record_id, changes))
                error, early = expect_early(lambda k=kind, r=record_id, c=changes: trial.update(k, r, c, None))
                if early:
                    body_raises = False  # the body raises this before it reaches its own failure
            elif op == "delete":
                record_id = self.pick(data, kind)
                operations.append(("delete", kind, record_id))
                trial.delete(kind, record_id)
                error = None
            else:
                record_id = self.pick(data, "skill")
                success = data.draw(st.booleans())
                operations.append(("use", "skill", record_id, success))
                _, error = expect(lambda r=record_id, s=success: trial.record_use(r, s))
            if error is not None:
                predicted = predicted or error
                break
        # A failing command of a batch fails the whole batch; which class it raises depends on the first.
        with contextlib.ExitStack() as stack:
            if body_raises:
                stack.enter_context(pytest.raises(RuntimeError))
            elif predicted is not None:
                stack.enter_context(pytest.raises(predicted))
            with self.mem.batch() as b:
                for operation in operations:
                    self._batch_op(b, operation)
                if body_raises:
                    raise RuntimeError("the body of the batch failed")
        if predicted is None and not body_raises:
            self.model = trial
            for kind, record_id in added:
                if record_id in self.model.tables[kind]:
                    self.learn_created(kind, record_id)

    @staticmethod
    def _batch_op(b: Any, operation: tuple[Any, ...]) -> None:
        match operation:
            case ("add", kind, record):
                assert getattr(b, STORES[kind]).add(record) == record.id
            case ("update", kind, record_id, changes):
                getattr(b, STORES[kind]).update(record_id, **changes)
            case ("delete", kind, record_id):
                getattr(b, STORES[kind]).delete(record_id)
            case ("use", _, record_id, success):
                b.skills.record_use(record_id, success)

    @rule()
    def reopen(self) -> None:
        """Close (drain, commit, checkpoint) and open the file again: everything acknowledged is there."""
        self.stack.close()
        integrity_check(self.path)
        self.stack = contextlib.ExitStack()
        self.mem = self.stack.enter_context(memactor.open_sync(self.path, max_batch=64, max_pending=64))

    # -- reads -----------------------------------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def get(self, data: Any, kind: str) -> None:
        record_id = self.pick(data, kind)
        expected = self.model.tables[kind].get(record_id)
        if expected is None:
            with pytest.raises(NotFoundError):
                self.store(kind).get(record_id)
        else:
            assert comparable(self.store(kind).get(record_id)) == expected

    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def get_many(self, data: Any, kind: str) -> None:
        ids = data.draw(st.lists(st.sampled_from([*sorted(self.model.tables[kind]), "missing-id"]), max_size=5))
        got = self.store(kind).get_many(ids)
        wanted = [i for i in dict.fromkeys(ids) if i in self.model.tables[kind]]
        assert [r.id for r in got] == wanted
        assert all(comparable(r) == self.model.tables[kind][r.id] for r in got)

    @rule(data=st.data())
    def get_by_name(self, data: Any) -> None:
        name, namespace = data.draw(skill_names), data.draw(namespaces)
        owners = [r for r in self.model.tables["skill"].values() if (r["namespace"], r["name"]) == (namespace, name)]
        if not owners:
            with pytest.raises(NotFoundError):
                self.mem.skills.get_by_name(name, namespace=namespace)
        else:
            assert comparable(self.mem.skills.get_by_name(name, namespace=namespace)) == owners[0]

    def draw_filters(self, data: Any, kind: str) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        if data.draw(st.booleans(), label="namespace?"):
            filters["namespace"] = data.draw(namespaces)
        if data.draw(st.booleans(), label="agent?"):
            filters["agent_id"] = data.draw(st.sampled_from(["a1", "a2", "a3"]))
        if data.draw(st.booleans(), label="tags?"):
            filters["tags"] = data.draw(tag_lists)
        stamps = sorted(t for (k, _), t in self.model.created.items() if k == kind)
        if stamps and data.draw(st.booleans(), label="since?"):
            filters["since"] = data.draw(st.sampled_from(stamps))
        if stamps and data.draw(st.booleans(), label="until?"):
            filters["until"] = data.draw(st.sampled_from(stamps))
        if kind == "episode" and data.draw(st.booleans(), label="success?"):
            filters["success"] = data.draw(st.booleans())
        if kind == "skill" and data.draw(st.booleans(), label="name?"):
            filters["name"] = data.draw(skill_names)
        if kind == "fact" and data.draw(st.booleans(), label="confidence?"):
            filters["min_confidence"] = data.draw(unit)
        return filters

    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def search_and_count(self, data: Any, kind: str) -> None:
        filters = self.draw_filters(data, kind)
        wanted = self.model.matching(kind, filters)
        assert self.store(kind).count(**filters) == len(wanted)
        hits = self.store(kind).search(None, limit=10_000, **filters)
        assert sorted(h.record.id for h in hits) == wanted
        created = [h.record.created_at for h in hits]
        assert created == sorted(created, reverse=True), "search without text lists the newest first"

    @rule(data=st.data(), kind=st.sampled_from(KINDS), word=st.sampled_from(VOCAB))
    def search_text(self, data: Any, kind: str, word: str) -> None:
        filters = self.draw_filters(data, kind)
        selected = set(self.model.matching(kind, filters))
        hits = self.store(kind).search(word, limit=10_000, **filters)
        found = {h.record.id for h in hits}
        assert found <= selected, "a hit that its filters exclude"
        for record_id in selected:
            record = self.model.tables[kind][record_id]
            text = " ".join(" ".join(v) if isinstance(v, tuple) else v for v in (record[f] for f in TEXT_FIELDS[kind]))
            if word in text.split(" "):
                assert record_id in found, f"{word!r} is a word of {record_id} but search missed it"
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    @rule(data=st.data(), kind=st.sampled_from(KINDS), batch_size=st.integers(1, 7))
    def stream(self, data: Any, kind: str, batch_size: int) -> None:
        filters = self.draw_filters(data, kind)
        pages = list(self.store(kind).stream(batch_size=batch_size, **filters))
        assert all(1 <= len(p) <= batch_size for p in pages)
        streamed = [r for page in pages for r in page]
        assert [r.id for r in streamed] == self.model.matching(kind, filters)
        assert all(comparable(r) == self.model.tables[kind][r.id] for r in streamed)

    # -- the invariant ---------------------------------------------------------------------------------

    @invariant()
    def contents_match(self) -> None:
        if self.mem is None:
            return
        for kind in KINDS:
            records = [r for page in self.store(kind).stream(batch_size=50) for r in page]
            assert [r.id for r in records] == sorted(self.model.tables[kind])
            for record in records:
                assert comparable(record) == self.model.tables[kind][record.id], record.id
                assert record.created_at == self.model.created[(kind, record.id)]
                assert record.updated_at is not None and record.updated_at >= record.created_at


TestMemoryModel = MemoryMachine.TestCase
TestMemoryModel.settings = settings.get_profile(f"stateful-{os.environ.get('HYPOTHESIS_PROFILE', 'ci')}")
