"""`memactor.sqlite.read`: queries answered with sync SQL on a plain read-only sqlite3 connection."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memactor import codec
from memactor.errors import NotFoundError
from memactor.model.commands import AddRecords, Command
from memactor.model.filters import Filters
from memactor.model.queries import Count, Get, GetByName, Page, Search
from memactor.model.ranking import SearchWeights
from memactor.model.records import Episode, Fact, Skill
from memactor.sqlite.apply import apply_batch
from memactor.sqlite.fts import fts_match
from memactor.sqlite.read import run_query
from memactor.sqlite.schema import configure_reader, configure_writer, migrate


@pytest.fixture
def writer(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    configure_writer(conn, durability="normal")
    migrate(conn)
    yield conn
    conn.close()


@pytest.fixture
def reader(writer: sqlite3.Connection, db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    configure_reader(conn)
    yield conn
    conn.close()


def write(conn: sqlite3.Connection, *commands: Command) -> None:
    outcomes = apply_batch(conn, [codec.encode(c) for c in commands])
    assert not any(isinstance(o, Exception) for o in outcomes)


def search(kind: str, text: str | None, limit: int = 10, **filters: object) -> Search:
    return Search(kind, text, Filters.for_kind(kind, filters), limit, SearchWeights(), time.time())


# --- fts_match --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("health check", '"health" OR "check"'),
        ('say "hi"', '"say" OR "hi"'),
        ("NEAR(a b)", '"NEAR" OR "a" OR "b"'),
        ("pre* -not ^start", '"pre" OR "not" OR "start"'),
        ("'; DROP TABLE episodes; --", '"DROP" OR "TABLE" OR "episodes"'),
        ("col:value", '"col" OR "value"'),
        ("", None),
        (' " * - ^ ( ) ', None),
    ],
)
def test_fts_match_quotes_every_word(text: str, expected: str | None) -> None:
    assert fts_match(text) == expected


# --- queries ----------------------------------------------------------------------------------------------


def test_the_reader_cannot_write(reader: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM episodes")


def test_get_returns_found_records_in_asked_order(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    a, b = Fact(content="a"), Fact(content="b")
    write(writer, AddRecords((a, b)))
    assert [f.id for f in run_query(reader, Get("fact", (b.id, "missing", a.id, b.id)))] == [b.id, a.id]
    assert [f.content for f in run_query(reader, Get("fact", (a.id,)))] == ["a"]
    assert run_query(reader, Get("episode", (a.id,))) == []


def test_reads_see_only_committed_writes(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    e = Episode(task="t")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO episodes (id, namespace, tags, metadata, created_at, updated_at, version, task, steps,"
        " outcome, importance) VALUES (?, 'default', '[]', '{}', 1, 1, 1, 't', '[]', '', 0.5)",
        (e.id,),
    )
    assert run_query(reader, Count("episode", Filters())) == 0
    writer.execute("COMMIT")
    assert run_query(reader, Count("episode", Filters())) == 1


def test_search_ranks_and_filters_in_sql(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    strong = Episode(task="disk full", outcome="disk full again", agent_id="a1")
    weak = Episode(task="disk", outcome="unrelated words here", agent_id="a1")
    other = Episode(task="disk full", agent_id="a2")
    write(writer, AddRecords((strong, weak, other)))
    hits = run_query(reader, search("episode", "disk full", agent_id="a1"))
    assert [h.record.id for h in hits] == [strong.id, weak.id]
    assert hits[0].relevance == 1.0
    assert run_query(reader, search("episode", "* ^ -")) == []
    assert [h.record.id for h in run_query(reader, search("episode", "disk", limit=1))] == [strong.id]


def test_search_without_text_lists_newest_first(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    records = [Fact(content=f"f{i}", created_at=1000.0 + i) for i in range(5)]
    write(writer, AddRecords(tuple(records)))
    hits = run_query(reader, search("fact", None, limit=3))
    assert [h.record.id for h in hits] == [r.id for r in reversed(records)][:3]
    assert all(h.relevance == 0.0 for h in hits)


def test_page_is_keyset_pagination_in_id_order(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    records = [Skill(name=f"s{i}", namespace="ns" if i % 2 else "default") for i in range(7)]
    write(writer, AddRecords(tuple(records)))
    ids = sorted(r.id for r in records)
    first = run_query(reader, Page("skill", Filters(), None, 3))
    assert [r.id for r in first] == ids[:3]
    second = run_query(reader, Page("skill", Filters(), first[-1].id, 3))
    assert [r.id for r in second] == ids[3:6]
    assert [r.id for r in run_query(reader, Page("skill", Filters(), ids[-1], 3))] == []
    in_ns = run_query(reader, Page("skill", Filters(namespace="ns"), None, 100))
    assert [r.id for r in in_ns] == sorted(r.id for r in records if r.namespace == "ns")


def test_count_with_every_filter(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    write(
        writer,
        AddRecords(
            (
                Episode(task="a", success=True, tags=("x", "y"), created_at=10.0),
                Episode(task="b", success=False, tags=("x",), created_at=20.0),
                Episode(task="c", created_at=30.0),
            )
        ),
    )
    count = lambda **f: run_query(reader, Count("episode", Filters.for_kind("episode", f)))  # noqa: E731
    assert count() == 3
    assert count(success=True) == 1 and count(success=False) == 1
    assert count(tags=("x",)) == 2 and count(tags=("x", "y")) == 1
    assert count(since=20.0) == 2 and count(until=20.0) == 1 and count(since=15.0, until=25.0) == 1


def test_get_by_name(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    skill = Skill(name="deploy", namespace="ops")
    write(writer, AddRecords((skill,)))
    assert run_query(reader, GetByName("deploy", "ops")).id == skill.id
    with pytest.raises(NotFoundError, match="deploy"):
        run_query(reader, GetByName("deploy", "default"))


def test_filter_values_are_bound_not_spliced(writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    write(writer, AddRecords((Episode(task="t", namespace="x"),)))
    hostile = "x' OR '1'='1"
    assert run_query(reader, Count("episode", Filters(namespace=hostile))) == 0
    assert run_query(reader, Count("episode", Filters(tags=(hostile,)))) == 0
    where, params = Filters(namespace=hostile, tags=(hostile,)).where()
    assert hostile not in where and hostile in params.values()


def test_unknown_queries_are_refused(reader: sqlite3.Connection) -> None:
    with pytest.raises(TypeError):
        run_query(reader, "SELECT 1")  # type: ignore[arg-type]
