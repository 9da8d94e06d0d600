"""Item filters in SQL against their definition, and the writer's sweep of expired items.

`memactor.sqlite.itemread.compile_filter` must find exactly what `memactor.model.itemfilter.matches` says,
for any values and filters hypothesis finds (it runs on the sync SQL layer, so it needs no event loop).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memactor
from memactor.actor.items import ItemStore
from memactor.model.commands import PutItem
from memactor.model.itemfilter import matches
from memactor.model.queries import SearchItems
from memactor.sqlite.mutations import apply_command
from memactor.sqlite.read import run_query
from memactor.sqlite.schema import migrate

KEYS = st.sampled_from(["a", "b", "a.b", 'q"k', ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, 2**63 - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, -0.0, 0.5, 9007199254740992.0]),
    st.text(max_size=3),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6
)
ORDERED = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.sampled_from([1, 2**53]),
)
CONDITIONS = st.one_of(
    VALUES,
    st.dictionaries(st.sampled_from(["$eq", "$ne"]), VALUES, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), ORDERED, min_size=1, max_size=2),
)
FILTERS = st.dictionaries(KEYS, CONDITIONS, max_size=3)
DOCS = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=8)


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path_factory.mktemp("items") / "f.db", isolation_level=None)
    migrate(connection)
    yield connection
    connection.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=DOCS, condition=FILTERS)
def test_sql_filters_find_what_the_definition_says(conn: sqlite3.Connection, docs: list[Any], condition: Any) -> None:
    conn.execute("BEGIN")
    try:
        stored = [apply_command(conn, PutItem(("p",), f"k{i}", doc, None, None, 1.0)) for i, doc in enumerate(docs)]
        found = run_query(conn, SearchItems(("p",), condition or None, None, 100, 0, 2.0))
        expected = [item.key for item in stored if matches(item.value, condition)]
        assert [item.key for item in found] == expected
        paged = run_query(conn, SearchItems(("p",), condition or None, None, 2, 1, 2.0))
        assert [item.key for item in paged] == expected[1:3]
    finally:
        conn.execute("ROLLBACK")


@pytest.mark.anyio
async def test_the_writer_sweeps_expired_items(db_path: Path) -> None:
    def rows() -> int:
        with sqlite3.connect(db_path) as raw:
            return int(raw.execute("SELECT count(*) FROM items").fetchone()[0])

    async with memactor.open(db_path, durability="normal", sweep_interval=0.05) as mem:
        past = ItemStore(mem, clock=lambda: 1_000.0)  # put long ago: expired by the writer's clock
        await past.put(("s",), "old", {"v": 1}, ttl=60)
        await mem.items.put(("s",), "kept", {"v": 2}, ttl=3600)
        await mem.items.put(("s",), "forever", {"v": 3})
        assert rows() in (2, 3)  # all three were written; the sweep every 0.05 s may already have run
        with anyio.fail_after(60):  # a hang guard, not a speed bound
            while rows() != 2:
                await anyio.sleep(0.02)
        assert [item.key for item in await mem.items.search(("s",))] == ["kept", "forever"]
        assert await mem.items.put(("s",), "after", {}) is not None  # the writer goes on


def test_the_definition_compares_integers_exactly() -> None:
    big = 2**53
    assert matches({"n": big + 1}, {"n": {"$gt": big}})
    assert matches({"n": big + 1}, {"n": {"$gt": float(big)}})
    assert not matches({"n": float(big)}, {"n": {"$gt": big}})
    assert matches({"n": big + 1}, {"n": {"$ne": float(big)}})
    assert not matches({"n": True}, {"n": {"$gt": 0}})  # a boolean is not a number for ordering
    assert not matches({"n": "3"}, {"n": {"$gt": 2}})  # nor is a string


@pytest.mark.anyio
async def test_hostile_item_frames_fail_alone_and_the_writer_goes_on(db_path: Path) -> None:
    from memactor import codec

    good = PutItem(("ok",), "k", {"v": 1}, None, None, 1.0)
    tag = codec._COMMAND_TAGS[PutItem]
    hostile = [
        codec.pack([tag, ["a.b"], "k", {}, None, None, 1.0]),  # a dot in a label
        codec.pack([tag, [], "k", {}, None, None, 1.0]),  # no label
        codec.pack([tag, ["a"], 7, {}, None, None, 1.0]),  # a key that is no string
        codec.pack([tag, ["a"], "k", {"x": float("nan")}, None, None, 1.0]),
        codec.pack([tag, ["a"], "k", {}, -5, None, 1.0]),  # a negative TTL
    ]
    async with memactor.open(db_path, durability="normal") as mem:
        for frame in hostile:
            with pytest.raises(memactor.CodecError):
                await mem.execute_encoded(frame)
        assert (await mem.execute_encoded(codec.encode(good))).value == {"v": 1}
        assert [item.key for item in await mem.items.search(())] == ["k"]
