"""The PostgreSQL engine's sync layer on a real server: one group commit, per-command outcomes, the schema."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from memactor import Episode, Fact, Skill
from memactor.codec import encode
from memactor.errors import (
    CodecError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
)
from memactor.model.commands import AddRecords, Batch, Command, DeleteRecord, PutItem, RecordUse, UpdateRecord
from memactor.model.filters import Filters
from memactor.model.queries import Count, Get, GetByName, Search
from memactor.model.ranking import SearchWeights, blend
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_reader, connect_writer
from memactor.postgres.read import run_query
from memactor.postgres.schema import SCHEMA_VERSION, migrate, schema_version

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def writer(pg_url: str) -> Iterator[Conn]:
    conn = connect_writer(pg_url, "full")
    yield conn
    conn.close()


@pytest.fixture
def reader(pg_url: str, writer: Conn) -> Iterator[Conn]:
    conn = connect_reader(pg_url)
    yield conn
    conn.close()


def run(conn: Conn, *commands: Command) -> list[object]:
    return apply_batch(conn, [encode(command) for command in commands])


def test_a_failing_command_fails_alone_and_its_neighbours_commit(writer: Conn, reader: Conn) -> None:
    first, last = Fact(content="before"), Fact(content="after")
    skill = Skill(name="deploy")
    outcomes = run(
        writer,
        AddRecords((first,)),
        AddRecords((skill,)),
        AddRecords((Skill(name="deploy"),)),  # refused by the database: the name is taken
        RecordUse("no-such-skill", True, time.time()),
        AddRecords((last,)),
    )
    assert outcomes[:2] == [[first.id], [skill.id]]
    assert isinstance(outcomes[2], ConflictError)
    assert isinstance(outcomes[3], NotFoundError)
    assert outcomes[4] == [last.id]
    assert run_query(reader, Count("fact", Filters())) == 2
    assert run_query(reader, Count("skill", Filters())) == 1


def test_a_server_error_mid_group_rolls_back_only_its_command(writer: Conn, reader: Conn) -> None:
    # Renaming a skill to a taken name is refused by the server's unique index mid-transaction, which
    # aborts the transaction in PostgreSQL: without a savepoint per command the whole group would fail.
    a, b, after = Skill(name="a"), Skill(name="b"), Fact(content="after the refused rename")
    run(writer, AddRecords((a, b)))
    outcomes = run(
        writer,
        RecordUse(a.id, True, 1.0),
        UpdateRecord("skill", b.id, {"name": "a"}, None, 1.0),
        AddRecords((after,)),
        RecordUse(b.id, False, 1.0),
    )
    assert isinstance(outcomes[1], ConflictError) and "'a' is taken" in str(outcomes[1])
    assert outcomes[2] == [after.id]
    stored = {s.name: s for s in run_query(reader, Get("skill", (a.id, b.id)))}
    assert (stored["a"].uses, stored["b"].uses, stored["b"].version) == (1, 1, 2)


def test_nul_and_the_escape_character_round_trip_and_filter(writer: Conn, reader: Conn) -> None:
    # PostgreSQL's text cannot hold NUL; memactor's records may: stored escaped, read back as given.
    odd = "a\x00b\x01c\x01\x02d\x00"
    skill = Skill(name=odd, namespace=odd, agent_id=odd, description=odd + " deploy", tags=(odd, "\x00"))
    plain = Skill(name="a\x01\x02b", namespace=odd)  # what NUL's escape looks like must stay itself
    assert run(writer, AddRecords((skill,)), AddRecords((plain,))) == [[skill.id], [plain.id]]
    (stored,) = run_query(reader, Get("skill", (skill.id,)))
    assert stored.user_fields() == skill.user_fields()
    assert run_query(reader, GetByName(odd, odd)).id == skill.id
    assert run_query(reader, GetByName("a\x01\x02b", odd)).id == plain.id
    assert run_query(reader, Count("skill", Filters(namespace=odd, agent_id=odd, tags=("\x00",)))) == 1
    (hit,) = run_query(reader, Search("skill", "deploy", Filters(namespace=odd), 5, SearchWeights(), 0.0))
    assert hit.record == stored


def test_retried_adds_are_idempotent_and_changed_retries_conflict(writer: Conn, reader: Conn) -> None:
    episode = Episode(task="deploy", metadata={"k": [1, 2.5, None, {"z": "é"}]})
    assert run(writer, AddRecords((episode,)), AddRecords((episode,))) == [[episode.id], [episode.id]]
    assert run(writer, AddRecords((episode,))) == [[episode.id]]
    changed = Episode(id=episode.id, task="something else")
    (outcome,) = run(writer, AddRecords((changed,)))
    assert isinstance(outcome, ConflictError) and "task" in str(outcome)
    (stored,) = run_query(reader, Get("episode", (episode.id,)))
    assert stored.user_fields() == episode.user_fields() and stored.version == 1


def test_a_run_of_adds_with_one_conflict_gives_each_its_own_outcome(writer: Conn, reader: Conn) -> None:
    taken = Skill(name="taken")
    assert run(writer, AddRecords((taken,))) == [[taken.id]]
    fresh = [Skill(name=f"s{i}") for i in range(4)]
    outcomes = run(
        writer, *(AddRecords((s,)) for s in fresh[:2]), AddRecords((Skill(name="taken"),)), AddRecords((fresh[2],))
    )
    assert outcomes[:2] == [[fresh[0].id], [fresh[1].id]] and outcomes[3] == [fresh[2].id]
    assert isinstance(outcomes[2], ConflictError) and "taken" in str(outcomes[2])
    assert run_query(reader, Count("skill", Filters())) == 4


def test_versions_are_optimistic_and_record_use_counts(writer: Conn, reader: Conn) -> None:
    skill = Skill(name="rollback")
    run(writer, AddRecords((skill,)))
    now = time.time()
    outcomes = run(
        writer,
        UpdateRecord("skill", skill.id, {"description": "v2"}, 1, now),
        UpdateRecord("skill", skill.id, {"description": "stale"}, 1, now),
        RecordUse(skill.id, True, now),
        RecordUse(skill.id, False, now),
    )
    assert isinstance(outcomes[1], ConflictError) and "version 2, not 1" in str(outcomes[1])
    stored = run_query(reader, GetByName("rollback", "default"))
    assert (stored.description, stored.version, stored.uses, stored.successes) == ("v2", 4, 2, 1)


def test_a_batch_is_all_or_nothing(writer: Conn, reader: Conn) -> None:
    fact = Fact(content="kept out")
    (outcome,) = run(writer, Batch((AddRecords((fact,)), DeleteRecord("fact", fact.id), RecordUse("gone", True, 1.0))))
    assert isinstance(outcome, NotFoundError) and "batch command 2" in str(outcome)
    assert run_query(reader, Count("fact", Filters())) == 0
    # Alone in its group (no savepoint), and with a neighbour (in one): nothing of it stays either way.
    for group in ([], [AddRecords((Fact(content="neighbour"),))]):
        (outcome, *_) = run(writer, Batch((AddRecords((fact,)), RecordUse("gone", True, 1.0))), *group)
        assert isinstance(outcome, NotFoundError)
        assert run_query(reader, Get("fact", (fact.id,))) == []
    assert run_query(reader, Count("fact", Filters())) == 1


def test_a_refused_item_put_fails_alone_and_neighbours_commit(writer: Conn, reader: Conn) -> None:
    fact = Fact(content="still here")
    outcomes = run(writer, PutItem(("a",), "k", {"v": 1}, None, 3, 1.0), AddRecords((fact,)))
    assert isinstance(outcomes[0], ConflictError) and "does not exist" in str(outcomes[0])
    assert outcomes[1] == [fact.id]


def test_undecodable_bytes_fail_alone(writer: Conn, reader: Conn) -> None:
    fact = Fact(content="fine")
    outcomes = apply_batch(writer, [b"\xc1 not msgpack", encode(AddRecords((fact,)))])
    assert isinstance(outcomes[0], CodecError) and outcomes[1] == [fact.id]


def test_search_blends_like_sqlite_and_takes_operators_as_words(writer: Conn, reader: Conn) -> None:
    now = time.time()
    hit = Episode(
        task="deployed the api", outcome="health checks failed", importance=0.9, agent_id="a1", created_at=now
    )
    miss = Episode(task="wrote docs", agent_id="a1", created_at=now - 1)
    other = Episode(task="deploy again", agent_id="a2", created_at=now - 2)
    run(writer, AddRecords((hit, miss, other)))
    weights = SearchWeights()
    query = Search("episode", "deploying & | ! <-> 'health' OR -x", Filters(agent_id="a1"), 5, weights, now)
    (found,) = run_query(reader, query)
    assert found.record.id == hit.id and found.relevance == 1.0
    assert found == blend(found.record, 1.0, now, weights)
    newest = run_query(reader, Search("episode", None, Filters(), 2, weights, now))
    assert [h.record.id for h in newest] == [hit.id, miss.id]
    assert run_query(reader, Search("episode", "!!! &&", Filters(), 5, weights, now)) == []


def test_migrate_is_idempotent_and_refuses_a_newer_schema(writer: Conn) -> None:
    migrate(writer)
    assert schema_version(writer) == SCHEMA_VERSION
    writer.execute("UPDATE memactor_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaError, match="knows up to"):
        migrate(writer)


def test_two_records_of_one_id_in_one_add_conflict_unless_equal(writer: Conn, reader: Conn) -> None:
    a = Episode(task="deploy")
    same = Episode(id=a.id, task="deploy")
    assert run(writer, AddRecords((a, same))) == [[a.id, a.id]]
    b = Episode(task="deploy")
    other = Episode(id=b.id, task="deploy deploy")
    (outcome,) = run(writer, AddRecords((Fact(content="x"), b, other)))
    assert isinstance(outcome, ConflictError) and "differs in ['task']" in str(outcome)
    assert run_query(reader, Count("fact", Filters())) == 0
    assert run_query(reader, Get("episode", (b.id,))) == []


def test_a_text_too_large_for_the_index_is_refused_alone(writer: Conn, reader: Conn) -> None:
    # PostgreSQL caps one tsvector at 1 MB (SQLite's FTS5 has no such cap): a documented difference.
    rng = random.Random(1)
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=10)) for _ in range(150_000))
    fine = Fact(content="fits")
    outcomes = run(writer, AddRecords((Fact(content=words),)), AddRecords((fine,)))
    assert isinstance(outcomes[0], InvalidInputError) and "too long for tsvector" in str(outcomes[0])
    assert outcomes[1] == [fine.id]
