"""The same random operations against LangGraph's `InMemoryStore` and `MemactorStore`; every result compared.

Each step runs one operation (or a batch of them) on both stores, through one of four doors chosen at random:
`batch`, `abatch`, the sync convenience methods and their async forms. Results must be equal, except where
docs/langgraph.md lists an intended difference, and these are neutralised here explicitly:

- ``list_namespaces``: `InMemoryStore` also lists namespaces that hold nothing (emptied by a delete, or
  created by a get of a missing item); the reference below lists only namespaces that hold items.
- search order across namespaces: `InMemoryStore` groups results by namespace (in the order each namespace
  was first touched); memactor returns them in first-put order overall. So a search is compared as: the same
  items (namespace, key, value), in the same order within each namespace, and each store's window equal to
  the slice of its own full answer.
- ``created_at``: `InMemoryStore` resets it on every put; memactor keeps the first put's. Times are compared
  for tz-awareness and for order against the step that wrote them, not for equality.
- ordering operators (``$gt``...) are generated only on a field every value holds as a number of at most
  2**53 in size, where `InMemoryStore`'s ``float()`` is exact (tests/langgraph/test_edges.py covers the rest).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from memactor.langgraph import MemactorStore


class Reference(InMemoryStore):
    """`InMemoryStore`, listing only namespaces that hold items (see the module docstring)."""

    def _handle_list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        everything = self._data
        self._data = {ns: items for ns, items in everything.items() if items}  # type: ignore[assignment]
        try:
            return super()._handle_list_namespaces(op)
        finally:
            self._data = everything


LABELS = st.sampled_from(["a", "b", "c"])
NAMESPACES = st.lists(LABELS, min_size=1, max_size=3).map(tuple)
KEYS = st.sampled_from(["k1", "k2", "k3"])
BIG = 2**53
NUMBERS = st.one_of(
    st.integers(-BIG, BIG), st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, 1, 2, 1.0, 2.5])
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", ""]), NUMBERS)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["p", "q"]), inner, max_size=2)
    ),
    max_leaves=5,
)
VALUES = st.fixed_dictionaries(
    {"n": NUMBERS},
    optional={"s": st.sampled_from(["x", "y", "z"]), "t": JSON, "x.y": st.integers(0, 2)},
)
PLAIN = st.one_of(
    st.tuples(st.sampled_from(["s", "t", "x.y", "n", "missing"]), JSON),
    st.tuples(st.just("s"), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("t"), st.dictionaries(st.sampled_from(["p", "q"]), SCALARS, max_size=1)),
)
OPERANDS = st.one_of(st.sampled_from(["x", "y", None, 0, 1, True]), JSON)
EQUALITY = st.tuples(
    st.sampled_from(["s", "t", "x.y", "n", "missing"]),
    st.dictionaries(st.sampled_from(["$eq", "$ne"]), OPERANDS, min_size=1, max_size=2),
)
ORDERING = st.tuples(
    st.just("n"), st.dictionaries(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), NUMBERS, min_size=1, max_size=2)
)
CONDITIONS = st.one_of(PLAIN, EQUALITY, ORDERING)
# One condition most often: several rarely all hold on a few random items.
FILTERS = st.one_of(
    st.none(),
    st.just({}),
    CONDITIONS.map(lambda condition: dict([condition])),
    CONDITIONS.map(lambda condition: dict([condition])),
    st.lists(CONDITIONS, min_size=1, max_size=2).map(dict),
)
PREFIXES = st.lists(LABELS, max_size=2).map(tuple)
PATTERNS = st.lists(st.sampled_from(["a", "b", "c", "*"]), max_size=2).map(tuple)
DOORS = st.sampled_from(["batch", "abatch", "sync", "async"])


def searches() -> st.SearchStrategy[SearchOp]:
    return st.builds(
        SearchOp,
        namespace_prefix=PREFIXES,
        filter=FILTERS,
        limit=st.integers(0, 5),
        offset=st.integers(0, 4),
        query=st.one_of(st.none(), st.sampled_from(["x", "hello"])),
    )


def listings() -> st.SearchStrategy[ListNamespacesOp]:
    condition = st.builds(MatchCondition, match_type=st.sampled_from(["prefix", "suffix"]), path=PATTERNS)
    return st.builds(
        ListNamespacesOp,
        match_conditions=st.one_of(st.none(), st.lists(condition, max_size=3).map(tuple)),
        max_depth=st.one_of(st.none(), st.integers(0, 3)),
        limit=st.integers(0, 6),
        offset=st.integers(0, 3),
    )


def puts() -> st.SearchStrategy[PutOp]:
    values = st.one_of(VALUES, VALUES, st.none())
    return st.builds(PutOp, namespace=NAMESPACES, key=KEYS, value=values, index=st.none(), ttl=st.none())


OPS = st.one_of(puts(), st.builds(GetOp, namespace=NAMESPACES, key=KEYS), searches(), listings())


class StoreComparison(RuleBasedStateMachine):
    """`InMemoryStore` (the reference) and `MemactorStore` fed the same operations."""

    @initialize()
    def open_stores(self) -> None:
        self.stack = ExitStack()
        folder = Path(tempfile.mkdtemp(prefix="lgdiff-"))
        self.stack.callback(shutil.rmtree, folder, True)
        self.store = self.stack.enter_context(MemactorStore.from_path(folder / "m.db", durability="normal"))
        self.reference = Reference()
        self.loop = asyncio.new_event_loop()
        self.stack.callback(self.loop.close)
        self.step = 0
        self.written: dict[tuple[tuple[str, ...], str], tuple[int, int]] = {}  # address -> (first, last) step
        self.step_times: dict[int, datetime] = {}

    def teardown(self) -> None:
        stack = getattr(self, "stack", None)
        if stack is not None:
            stack.close()

    # --- running one step on both stores -------------------------------------------------------------------

    def run_ops(self, ops: list[Op], door: str) -> tuple[list[Any], list[Any]]:
        """Run ``ops`` on both stores through ``door``; returns (reference results, memactor results)."""
        answers = []
        for store in (self.reference, self.store):
            if door == "batch":
                answers.append(store.batch(ops))
            elif door == "abatch":
                answers.append(self.loop.run_until_complete(store.abatch(ops)))
            else:
                answers.append([self.convenience(store, op, door) for op in ops])
        return answers[0], answers[1]

    def convenience(self, store: Any, op: Op, door: str) -> Any:
        sync = door == "sync"
        if isinstance(op, GetOp):
            call = store.get if sync else store.aget
            result = call(op.namespace, op.key)
        elif isinstance(op, PutOp) and op.value is None:
            result = (store.delete if sync else store.adelete)(op.namespace, op.key)
        elif isinstance(op, PutOp):
            result = (store.put if sync else store.aput)(op.namespace, op.key, op.value)
        elif isinstance(op, SearchOp):
            call = store.search if sync else store.asearch
            result = call(op.namespace_prefix, filter=op.filter, limit=op.limit, offset=op.offset, query=op.query)
        else:
            kinds = {c.match_type: c.path for c in op.match_conditions or ()}
            call = store.list_namespaces if sync else store.alist_namespaces
            result = call(
                prefix=kinds.get("prefix"),
                suffix=kinds.get("suffix"),
                max_depth=op.max_depth,
                limit=op.limit,
                offset=op.offset,
            )
        return result if sync else self.loop.run_until_complete(result)

    def note_writes(self, ops: list[Op]) -> None:
        # Both stores apply only the last put of each address in a batch (a delete followed by a put is
        # that put: the item keeps its created_at and its place).
        last = {(op.namespace, op.key): op for op in ops if isinstance(op, PutOp)}
        for op in last.values():
            if isinstance(op, PutOp):
                address = (op.namespace, op.key)
                if op.value is None:
                    self.written.pop(address, None)
                else:
                    first = self.written.get(address, (self.step, self.step))[0]
                    self.written[address] = (first, self.step)

    # --- comparing -----------------------------------------------------------------------------------------

    def full_searches(self, ops: list[Op]) -> list[tuple[list[Any], list[Any]] | None]:
        """Each search's complete answer on both stores, before the step writes anything."""
        full: list[tuple[list[Any], list[Any]] | None] = []
        for op in ops:
            if isinstance(op, SearchOp):
                whole = op._replace(limit=1000, offset=0)
                full.append((self.reference.batch([whole])[0], self.store.batch([whole])[0]))
            else:
                full.append(None)
        return full

    def compare(self, ops: list[Op], expected: list[Any], actual: list[Any], full: list[Any]) -> None:
        assert len(expected) == len(actual)
        for op, want, got, whole in zip(ops, expected, actual, full, strict=True):
            if isinstance(op, GetOp):
                self.compare_items([want] if want else [], [got] if got else [])
            elif isinstance(op, SearchOp):
                self.compare_search(op, want, got, whole)
            elif isinstance(op, ListNamespacesOp):
                assert got == want, f"{op}: memactor {got} != InMemoryStore {want}"
            else:
                assert got is None and want is None

    def compare_search(self, op: SearchOp, want: list[Item], got: list[Item], whole: Any) -> None:
        ref_all, mem_all = whole
        window = slice(op.offset, op.offset + op.limit)
        assert [_address(i) for i in want] == [_address(i) for i in ref_all[window]]
        assert [_address(i) for i in got] == [_address(i) for i in mem_all[window]], f"{op}: window"
        self.compare_items(ref_all, mem_all, ordered_within_namespace=True)
        assert all(getattr(item, "score", "missing") is None for item in got)

    def compare_items(self, want: list[Item], got: list[Item], ordered_within_namespace: bool = False) -> None:
        if ordered_within_namespace:
            assert sorted(map(_address, want)) == sorted(map(_address, got)), "not the same items"
            for namespace in {i.namespace for i in want}:
                in_ref = [i.key for i in want if i.namespace == namespace]
                in_mem = [i.key for i in got if i.namespace == namespace]
                assert in_mem == in_ref, f"order within {namespace}: memactor {in_mem}, InMemoryStore {in_ref}"
        else:
            assert list(map(_address, got)) == list(map(_address, want))
        by_address = {_address(i): i for i in want}
        for item in got:
            reference = by_address[_address(item)]
            assert item.value == reference.value
            assert type(item.value) is dict
            self.check_times(item)

    def check_times(self, item: Item) -> None:
        """Aware datetimes; created_at is the first put's time and updated_at the last's, steps in order."""
        first, last = self.written[(item.namespace, item.key)]
        for when, step in ((item.created_at, first), (item.updated_at, last)):
            assert isinstance(when, datetime) and when.tzinfo is not None and when.utcoffset() is not None
            seen = self.step_times.setdefault(step, when)
            assert seen == when, f"step {step} wrote at {seen}, but an item says {when}"
        ordered = [self.step_times[s] for s in sorted(self.step_times)]
        assert ordered == sorted(ordered), "times out of step order"

    def step_both(self, ops: list[Op], door: str) -> None:
        full = self.full_searches(ops)
        expected, actual = self.run_ops(ops, door)
        # Reads answer the state before the step's writes (in a batch too): compare, then note the writes.
        self.compare(ops, expected, actual, full)
        self.step += 1
        self.note_writes(ops)

    # --- rules ---------------------------------------------------------------------------------------------

    @rule(op=puts(), door=DOORS)
    def put(self, op: PutOp, door: str) -> None:
        self.step_both([op], door)

    @rule(op=st.builds(GetOp, namespace=NAMESPACES, key=KEYS), door=DOORS)
    def get(self, op: GetOp, door: str) -> None:
        self.step_both([op], door)

    @rule(op=searches(), door=DOORS)
    def search(self, op: SearchOp, door: str) -> None:
        self.step_both([op], door)

    @rule(op=listings(), door=DOORS)
    def list_namespaces(self, op: ListNamespacesOp, door: str) -> None:
        if door in ("sync", "async") and len({c.match_type for c in op.match_conditions or ()}) < len(
            op.match_conditions or ()
        ):
            door = "batch"  # the convenience method takes one prefix and one suffix
        self.step_both([op], door)

    @rule(ops=st.lists(OPS, min_size=1, max_size=6), door=st.sampled_from(["batch", "abatch"]))
    def mixed_batch(self, ops: list[Op], door: str) -> None:
        self.step_both(ops, door)

    @rule(label=st.sampled_from(["a.b", "", "x\x00"]), sync=st.booleans())
    def bad_namespace(self, label: str, sync: bool) -> None:
        errors = []
        for store in (self.reference, self.store):
            try:
                if sync:
                    store.put(("a", label), "k", {"n": 1})
                else:
                    self.loop.run_until_complete(store.asearch(("a", label)))
            except Exception as exc:  # noqa: BLE001 - compared below
                errors.append((type(exc), str(exc)))
            else:
                errors.append(None)
        assert errors[0] is not None and errors[1] == errors[0]

    @invariant()
    def everything_matches(self) -> None:
        if hasattr(self, "store"):
            everything = SearchOp((), None, 1000, 0)
            self.compare_items(self.reference.batch([everything])[0], self.store.batch([everything])[0], True)


def _address(item: Item) -> tuple[tuple[str, ...], str]:
    return (item.namespace, item.key)


TestStoreComparison = StoreComparison.TestCase
TestStoreComparison.settings = settings(
    max_examples=int(os.environ.get("LG_EXAMPLES", "100")),
    stateful_step_count=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
)
