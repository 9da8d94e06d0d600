"""The item store's SQL on PostgreSQL: filters agree with the Python definition, values round-trip, TTL.

The hypothesis test is tests/test_items_sql.py's, over the PostgreSQL sync layer: the same strategies
(integers past 2**53, floats, booleans, strings, nested values, keys with dots and quotes) and the same
check, SQL against `memactor.model.itemfilter.matches`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

import memactor
from memactor.actor.items import ItemStore
from memactor.model.commands import PutItem, SweepItems
from memactor.model.itemfilter import matches
from memactor.model.queries import GetItems, ListNamespaces, SearchItems
from memactor.postgres import schema
from memactor.postgres.connect import connect_writer
from memactor.postgres.mutations import apply_command
from memactor.postgres.read import run_query
from tests.test_items_sql import DOCS, FILTERS

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def conn(pg_url: str) -> Iterator[Conn]:
    connection = connect_writer(pg_url, "normal")
    yield connection
    connection.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=DOCS, condition=FILTERS)
def test_sql_filters_find_what_the_definition_says(conn: Conn, docs: list[Any], condition: Any) -> None:
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


EDGES = [
    {"n": 2**53 + 1},
    {"n": 2**53},
    {"n": float(2**53)},
    {"n": 1e23},
    {"n": 2**63 - 1},
    {"n": float(2**63)},
    # A float whose shortest text (4.611686018427389e+18) is not its value, and an integer in between.
    {"n": 4611686018427388928.0},
    {"n": 4611686018427388950},
    {"n": True},
    {"n": 1},
    {"n": 1.0},
    {"n": "3"},
    {"n": "a\x00b"},
    {"n": None},
    {},
]
EDGE_FILTERS = [
    {"n": {"$gt": 2**53}},
    {"n": {"$gt": float(2**53)}},
    {"n": {"$gte": 2**53 + 1}},
    {"n": {"$lt": float(2**63)}},
    {"n": {"$gt": 2**63 - 1}},
    {"n": {"$gte": 2**63 - 1}},
    {"n": {"$lte": 1e23}},
    {"n": {"$lt": 4611686018427388950}},
    {"n": {"$gt": 4611686018427388950}},
    {"n": {"$gt": 4611686018427388928.0}},
    {"n": {"$eq": 4611686018427388928}},
    {"n": 4611686018427388950.0},
    {"n": 1},
    {"n": True},
    {"n": {"$ne": 1}},
    {"n": {"$ne": float(2**53)}},
    {"n": {"$gt": 0}},
    {"n": {"$gt": "2"}},
    {"n": {"$lt": "a\x01"}},
    {"n": "a\x00b"},
    {"n": None},
    {"n": {"$ne": None}},
]


@pytest.mark.parametrize("condition", EDGE_FILTERS, ids=str)
def test_numbers_compare_exactly_and_booleans_and_strings_are_not_numbers(conn: Conn, condition: Any) -> None:
    conn.execute("BEGIN")
    try:
        stored = [apply_command(conn, PutItem(("p",), f"k{i}", doc, None, None, 1.0)) for i, doc in enumerate(EDGES)]
        found = run_query(conn, SearchItems(("p",), condition, None, 100, 0, 2.0))
        assert [item.key for item in found] == [item.key for item in stored if matches(item.value, condition)]
    finally:
        conn.execute("ROLLBACK")


def test_values_round_trip_with_their_types(conn: Conn) -> None:
    value = {"big": 1e23, "tiny": 5e-324, "int": 2**63 - 1, "one": 1.0, "nul": "a\x00\x01b", "nested": [{"x": None}]}
    namespace, key = ("a\x00", "b\x01"), "k\x00"
    put = apply_command(conn, PutItem(namespace, key, value, None, None, 1.0))
    (got,) = run_query(conn, GetItems(((namespace, key),), 2.0))
    assert got == put and got.value == value and type(got.value["big"]) is float and type(got.value["one"]) is float
    assert run_query(conn, ListNamespaces(None, None, None, 10, 0, 2.0)) == [namespace]
    assert [i.key for i in run_query(conn, SearchItems(namespace[:1], None, None, 10, 0, 2.0))] == [key]


def test_expired_items_are_invisible_and_swept(conn: Conn) -> None:
    apply_command(conn, PutItem(("s",), "old", {"v": 1}, 10.0, None, 1.0))
    apply_command(conn, PutItem(("s",), "kept", {"v": 2}, None, None, 1.0))
    assert [i.key for i in run_query(conn, SearchItems(("s",), None, None, 10, 0, 20.0))] == ["kept"]
    assert run_query(conn, GetItems(((("s",), "old"),), 20.0)) == []
    assert apply_command(conn, SweepItems(20.0)) == 1
    assert apply_command(conn, SweepItems(20.0)) == 0
    again = apply_command(conn, PutItem(("s",), "old", {"v": 3}, None, 0, 30.0))
    assert again.version == 1 and again.created_at == 30.0
    assert [i.key for i in run_query(conn, SearchItems(("s",), None, None, 10, 0, 40.0))] == ["kept", "old"]


def test_a_version_1_database_migrates_to_the_item_store(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as raw:
        with raw.transaction():
            raw.execute("CREATE TABLE memactor_meta (key text PRIMARY KEY, value text NOT NULL)")
            schema._version_1(raw)
            raw.execute("INSERT INTO memactor_meta VALUES ('schema_version', '1')")
        raw.execute(
            "INSERT INTO facts (id, namespace, tags, metadata, created_at, updated_at, version, content,"
            " confidence, source_episode_ids) VALUES ('f1', 'default', '{}', '{}', 1, 1, 1, 'kept', 1, '[]')"
        )
        schema.migrate(raw)
        assert schema.schema_version(raw) == schema.SCHEMA_VERSION >= 2
        assert apply_command(raw, PutItem(("a",), "k", {"v": 1}, None, None, 1.0)).version == 1
        assert raw.execute("SELECT content FROM facts").fetchall() == [("kept",)]


@pytest.mark.anyio
async def test_the_writer_sweeps_expired_items(pg_url: str) -> None:
    def rows() -> int:
        with psycopg.connect(pg_url) as raw:
            return int(raw.execute("SELECT count(*) FROM items").fetchone()[0])  # type: ignore[index]

    async with memactor.open(pg_url, durability="normal", sweep_interval=0.05) as mem:
        past = ItemStore(mem, clock=lambda: 1_000.0)  # put long ago: expired by the writer's clock
        await past.put(("s",), "old", {"v": 1}, ttl=60)
        await mem.items.put(("s",), "kept", {"v": 2}, ttl=3600)
        await mem.items.put(("s",), "forever", {"v": 3})
        with anyio.fail_after(60):  # a hang guard, not a speed bound
            while await anyio.to_thread.run_sync(rows) != 2:
                await anyio.sleep(0.02)
        assert [item.key for item in await mem.items.search(("s",))] == ["kept", "forever"]
