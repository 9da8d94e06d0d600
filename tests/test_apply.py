"""`memactor.sqlite.apply` and `memactor.sqlite.mutations` (and the schema they write): the writer's sync SQL on a plain
sqlite3 connection.

No event loop here: a group commit is one function call, testable on its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from memactor import codec
from memactor.errors import (
    CodecError,
    CommandError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    StorageError,
    StorageFullError,
)
from memactor.model.commands import AddRecords, Batch, Command, DeleteRecord, Ping, RecordUse, SetQuota, UpdateRecord
from memactor.model.records import Episode, Fact, Skill
from memactor.sqlite import apply, failures, schema
from memactor.sqlite.apply import apply_batch
from memactor.sqlite.mutations import Quota, apply_command
from memactor.sqlite.schema import SCHEMA_VERSION, configure_writer, migrate


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    configure_writer(conn, durability="normal")
    migrate(conn)
    return conn


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(db_path)
    yield connection
    connection.close()


def frames(*commands: Command) -> list[bytes]:
    return [codec.encode(c) for c in commands]


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    other = sqlite3.connect(path)
    try:
        return other.execute(sql).fetchall()
    finally:
        other.close()


# --- schema -------------------------------------------------------------------------------------------------


def test_migrate_creates_the_schema_and_is_idempotent(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    migrate(conn)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"episodes", "facts", "skills", "episodes_fts", "facts_fts", "skills_fts"} <= names
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = sqlite3.connect(path, isolation_level=None)
    configure_writer(old, durability="normal")
    for statement in schema._statements(schema.SCHEMA_V1):
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    kept = Episode(task="written by version 1")
    apply_batch(old, frames(AddRecords((kept,))))
    old.close()

    conn = connect(path)  # migrates
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        # Version 3 added the item tables (and 4 rebuilt the text index): an old file gets them empty, and they work.
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'x'").fetchone()[0] == 0
        for table in ("episodes", "facts", "skills"):
            setting = conn.execute(f"SELECT v FROM {table}_fts_config WHERE k = 'automerge'").fetchone()
            assert tuple(setting) == (16,)
        assert [tuple(r) for r in conn.execute("SELECT id FROM episodes")] == [(kept.id,)]
        match = conn.execute("SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH 'version'").fetchall()
        assert len(match) == 1
    finally:
        conn.close()


def test_a_newer_schema_is_refused(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match=str(SCHEMA_VERSION + 1)):
        migrate(conn)


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("normal", 1)])
def test_synchronous_is_set_explicitly(tmp_path: Path, durability: str, level: int) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        configure_writer(conn, durability=durability)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        conn.close()


# --- one group commit ----------------------------------------------------------------------------------------


def test_apply_batch_commits_and_returns_one_outcome_per_frame(conn: sqlite3.Connection, db_path: Path) -> None:
    e, f = Episode(task="t"), Fact(content="c")
    outcomes = apply_batch(conn, frames(AddRecords((e,)), AddRecords((f,)), Ping()))
    assert outcomes == [[e.id], [f.id], None]
    assert not conn.in_transaction
    # Committed: another connection sees it.
    assert rows(db_path, "SELECT id FROM episodes") == [(e.id,)]
    assert rows(db_path, "SELECT id FROM facts") == [(f.id,)]


def test_an_empty_batch_commits_nothing(conn: sqlite3.Connection) -> None:
    assert apply_batch(conn, []) == []
    assert not conn.in_transaction


def test_each_command_is_isolated_by_its_savepoint(conn: sqlite3.Connection, db_path: Path) -> None:
    taken = Skill(name="taken")
    apply_batch(conn, frames(AddRecords((taken,))))
    good1, good2 = Episode(task="a"), Episode(task="b")
    outcomes = apply_batch(
        conn,
        [
            codec.encode(AddRecords((good1,))),
            codec.encode(AddRecords((Episode(task="half"), Skill(name="taken")))),
            b"\xc1 not a frame",
            codec.encode(UpdateRecord("fact", "missing", {"content": "x"}, None, 1.0)),
            codec.encode(AddRecords((good2,))),
        ],
    )
    assert outcomes[0] == [good1.id] and outcomes[4] == [good2.id]
    assert isinstance(outcomes[1], ConflictError)
    assert isinstance(outcomes[2], CodecError)
    assert isinstance(outcomes[3], NotFoundError)
    assert sorted(r[0] for r in rows(db_path, "SELECT task FROM episodes")) == ["a", "b"]


def test_a_run_of_single_adds_tells_retries_and_conflicts_apart(conn: sqlite3.Connection, db_path: Path) -> None:
    # Consecutive one-record adds are inserted with one executemany; when one of them is a retry or a
    # conflict, each must still get its own outcome, exactly as if applied one by one.
    stored, taken = Episode(task="stored"), Skill(name="taken")
    apply_batch(conn, frames(AddRecords((stored,)), AddRecords((taken,))))
    fresh = [Episode(task=f"fresh {i}") for i in range(5)]
    changed = Episode(id=stored.id, task="other content")
    outcomes = apply_batch(
        conn,
        frames(
            AddRecords((fresh[0],)),
            AddRecords((stored,)),  # a retry: a no-op that succeeds
            AddRecords((fresh[1],)),
            AddRecords((changed,)),  # the id exists with other content
            AddRecords((fresh[2],)),
            AddRecords((fresh[2],)),  # the same record twice in one run
        ),
    )
    assert outcomes[:3] == [[fresh[0].id], [stored.id], [fresh[1].id]]
    assert isinstance(outcomes[3], ConflictError)
    assert outcomes[4:] == [[fresh[2].id], [fresh[2].id]]
    # A taken skill name fails the run's executemany itself (a constraint error, not an ignored row).
    outcomes = apply_batch(
        conn, frames(AddRecords((fresh[3],)), AddRecords((Skill(name="taken"),)), AddRecords((fresh[4],)))
    )
    assert outcomes[0] == [fresh[3].id] and isinstance(outcomes[1], ConflictError) and outcomes[2] == [fresh[4].id]
    expected = sorted(["stored", *(e.task for e in fresh)])
    assert sorted(r[0] for r in rows(db_path, "SELECT task FROM episodes")) == expected
    assert rows(db_path, "SELECT count(*) FROM episodes_fts") == [(6,)]
    # A run with nothing wrong goes in whole, and every row gets version 1 and both times.
    clean = [Episode(task=f"clean {i}") for i in range(3)]
    assert apply_batch(conn, frames(*(AddRecords((e,)) for e in clean))) == [[e.id] for e in clean]
    times = rows(db_path, "SELECT version, created_at = updated_at FROM episodes WHERE task LIKE 'clean %'")
    assert times == [(1, 1)] * 3


def test_a_busy_file_fails_the_whole_batch_with_storage_error(conn: sqlite3.Connection, db_path: Path) -> None:
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        conn.execute("PRAGMA busy_timeout = 0")
        with pytest.raises(StorageError, match="locked"):
            apply_batch(conn, frames(AddRecords((Episode(task="t"),))))
        assert not conn.in_transaction
    finally:
        blocker.close()
    assert rows(db_path, "SELECT count(*) FROM episodes") == [(0,)]


def test_an_unexpected_error_fails_its_command_alone(
    conn: sqlite3.Connection, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = apply.apply_command
    calls = 0

    def second_call_breaks(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("bug")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(apply, "apply_command", second_call_breaks)
    e = Episode(task="a")
    outcomes = apply_batch(conn, frames(AddRecords((e,)), Ping(), Ping()))
    assert outcomes[0] == [e.id] and outcomes[2] is None
    assert type(outcomes[1]) is CommandError and "RuntimeError: bug" in str(outcomes[1])
    assert not conn.in_transaction
    assert rows(db_path, "SELECT count(*) FROM episodes") == [(1,)]


def test_an_interrupt_is_not_a_command_error_it_rolls_back_and_propagates(
    conn: sqlite3.Connection, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = apply.apply_command
    calls = 0

    def second_call_interrupted(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(apply, "apply_command", second_call_interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply_batch(conn, frames(AddRecords((Episode(task="a"),)), Ping()))
    assert not conn.in_transaction
    assert rows(db_path, "SELECT count(*) FROM episodes") == [(0,)]


# --- commands ----------------------------------------------------------------------------------------------


def test_add_sets_times_and_version_and_indexes_the_text(conn: sqlite3.Connection) -> None:
    e = Episode(task="zebra crossing", created_at=123.0)
    apply_batch(conn, frames(AddRecords((e,))))
    row = conn.execute("SELECT created_at, updated_at, version FROM episodes WHERE id = ?", (e.id,)).fetchone()
    assert tuple(row) == (123.0, 123.0, 1)
    hit = conn.execute("SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH 'zebra'").fetchall()
    assert len(hit) == 1


def test_retried_add_is_idempotent_unless_the_content_differs(conn: sqlite3.Connection) -> None:
    s = Skill(name="s")
    assert apply_command(conn, AddRecords((s,))) == [s.id]
    apply_command(conn, RecordUse(s.id, True, 5.0))
    # The writer-maintained counters differ now; a retry of the original add is still the same record.
    assert apply_command(conn, AddRecords((s,))) == [s.id]
    with pytest.raises(ConflictError, match="description"):
        apply_command(conn, AddRecords((Skill(name="s", description="other", id=s.id),)))


def test_update_checks_existence_version_and_values(conn: sqlite3.Connection) -> None:
    f = Fact(content="c")
    apply_command(conn, AddRecords((f,)))
    later = 4_000_000_000.0
    updated = apply_command(conn, UpdateRecord("fact", f.id, {"confidence": 0.9}, 1, later))
    assert (updated.confidence, updated.version, updated.updated_at) == (0.9, 2, later)
    # A client clock behind the writer's never moves updated_at back in time.
    assert apply_command(conn, UpdateRecord("fact", f.id, {"confidence": 0.8}, None, 1.0)).updated_at == later
    with pytest.raises(ConflictError, match="version 3"):
        apply_command(conn, UpdateRecord("fact", f.id, {"confidence": 0.1}, 1, 51.0))
    with pytest.raises(NotFoundError):
        apply_command(conn, UpdateRecord("fact", "nope", {"confidence": 0.1}, None, 51.0))
    with pytest.raises(InvalidInputError):
        apply_command(conn, UpdateRecord("fact", f.id, {"confidence": 3.0}, None, 51.0))
    with pytest.raises(InvalidInputError):
        apply_command(conn, UpdateRecord("fact", f.id, {"task": "episodes only"}, None, 51.0))


def test_updating_text_reindexes_it(conn: sqlite3.Connection) -> None:
    match = "SELECT count(*) FROM facts_fts WHERE facts_fts MATCH ?"
    f = Fact(content="penguins")
    apply_batch(conn, frames(AddRecords((f,))))
    apply_batch(conn, frames(UpdateRecord("fact", f.id, {"content": "eagles"}, None, 1.0)))
    assert conn.execute(match, ("penguins",)).fetchone()[0] == 0
    assert conn.execute(match, ("eagles",)).fetchone()[0] == 1
    # Added and changed within one group commit: the index holds only the final text.
    g = Fact(content="walrus")
    apply_batch(conn, frames(AddRecords((g,)), UpdateRecord("fact", g.id, {"content": "seal"}, None, 1.0)))
    assert conn.execute(match, ("walrus",)).fetchone()[0] == 0
    assert conn.execute(match, ("seal",)).fetchone()[0] == 1
    # Added and deleted within one group commit: nothing left in the index.
    h = Fact(content="narwhal")
    apply_batch(conn, frames(AddRecords((h,)), DeleteRecord("fact", h.id)))
    assert conn.execute(match, ("narwhal",)).fetchone()[0] == 0


def test_delete_and_record_use(conn: sqlite3.Connection) -> None:
    s = Skill(name="s")
    apply_command(conn, AddRecords((s,)))
    used = apply_command(conn, RecordUse(s.id, False, 7.0))
    assert (used.uses, used.successes, used.last_used_at, used.version) == (1, 0, 7.0, 2)
    assert apply_command(conn, DeleteRecord("skill", s.id)) is True
    assert apply_command(conn, DeleteRecord("skill", s.id)) is False
    with pytest.raises(NotFoundError):
        apply_command(conn, RecordUse(s.id, True, 8.0))
    assert conn.execute("SELECT count(*) FROM skills_fts WHERE skills_fts MATCH 's'").fetchone()[0] == 0


def test_a_batch_command_is_all_or_nothing(conn: sqlite3.Connection, db_path: Path) -> None:
    e = Episode(task="kept out")
    outcomes = apply_batch(
        conn, frames(Batch((AddRecords((e,)), DeleteRecord("fact", "f"), RecordUse("missing", True, 1.0))))
    )
    assert isinstance(outcomes[0], NotFoundError)
    assert "batch command 2" in str(outcomes[0])
    assert rows(db_path, "SELECT count(*) FROM episodes") == [(0,)]
    ok = apply_batch(conn, frames(Batch((AddRecords((e,)), DeleteRecord("episode", e.id)))))
    assert ok == [[[e.id], True]]


# --- quota ---------------------------------------------------------------------------------------------------


def outcomes_of(conn: sqlite3.Connection, quota: Quota, *commands: Command) -> list[object]:
    """What each caller of one group commit hears, as the writer reports it."""
    try:
        return apply_batch(conn, frames(*commands), quota)
    except StorageError as exc:
        return [exc for _ in commands]


def fill(conn: sqlite3.Connection, quota: Quota) -> list[str]:
    added: list[str] = []
    for _ in range(500):
        e = Episode(task="payload " * 300)
        (outcome,) = outcomes_of(conn, quota, AddRecords((e,)))
        if isinstance(outcome, StorageFullError):
            assert not conn.in_transaction
            return added
        assert outcome == [e.id]
        added.append(e.id)
    raise AssertionError("the quota never filled")


def test_quota_refuses_growth_and_deletes_free_space(conn: sqlite3.Connection) -> None:
    quota = Quota()
    apply_batch(conn, frames(SetQuota(1_000_000)), quota)
    assert quota.max_size == 1_000_000
    added = fill(conn, quota)
    assert added
    for record_id in added:
        assert outcomes_of(conn, quota, DeleteRecord("episode", record_id)) == [True]
    small = Fact(content="tiny")
    assert outcomes_of(conn, quota, AddRecords((small,))) == [[small.id]]
    apply_batch(conn, frames(SetQuota(None)), quota)
    assert conn.execute("PRAGMA max_page_count").fetchone()[0] > 1_000_000


def test_at_the_quota_a_delete_succeeds_even_grouped_with_a_growing_add(conn: sqlite3.Connection) -> None:
    quota = Quota()
    apply_batch(conn, frames(SetQuota(1_000_000)), quota)
    added = fill(conn, quota)
    small = Fact(content="small")
    outcomes = outcomes_of(
        conn,
        quota,
        DeleteRecord("episode", added[0]),
        AddRecords((Episode(task="payload " * 20_000),)),
        DeleteRecord("episode", added[1]),
        AddRecords((small,)),
    )
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], StorageFullError)
    assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == len(added) - 2


def test_set_quota_needs_a_quota_object(conn: sqlite3.Connection) -> None:
    with pytest.raises(InvalidInputError):
        apply_command(conn, SetQuota(10_000))


def test_storage_error_maps_sqlite_full() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    assert isinstance(failures.storage_error(full), StorageFullError)
    assert type(failures.storage_error(sqlite3.OperationalError("other"))) is StorageError
