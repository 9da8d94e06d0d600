"""Upgrading a version 2 file (SQLite's default tokenizer) to the stemmed text index, in place.

The version 2 schema is kept as a fixture (``data/schema_v2.sql``, the DDL that memactor wrote before
stemming), so these tests do not depend on how today's code builds its own schema. A child process runs
the migration and is SIGKILLed at random points, several times, with other writes in between; other
connections read the index all along. At the end FTS5's own integrity-check passes and every record is
found exactly once.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import memactor
from memactor import codec
from memactor.model.commands import AddRecords, DeleteRecord, UpdateRecord
from memactor.model.records import Episode, Fact, Record, Skill
from memactor.sqlite import textindex
from memactor.sqlite.apply import apply_batch
from memactor.sqlite.schema import SCHEMA_VERSION, TABLES, configure_writer, migrate
from tests.fts_check import integrity_check

V2_DDL = (Path(__file__).parent / "data" / "schema_v2.sql").read_text()
STORES = {"episode": "episodes", "fact": "facts", "skill": "skills"}

CHILD = r"""
import sqlite3, sys
from memactor.sqlite import schema, textindex
textindex.CHUNK_ROWS = int(sys.argv[2])
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
schema.configure_writer(conn, durability="full")
print("READY", flush=True)
schema.migrate(conn, lambda p: print(p.table, p.done, p.total, flush=True))
print("DONE", flush=True)
"""


def unique_word(n: int) -> str:
    return f"qx{n}zv"


def make(kind: str, n: int) -> Record:
    w = unique_word(n)
    if kind == "episode":
        return Episode(task=f"deployed {w}", steps=("build", "push"), outcome="the deployment is done")
    if kind == "fact":
        return Fact(content=f"deployed {w} today")
    return Skill(name=f"skill-{w}", description=f"deployed {w}", code="run()")


def apply(conn: sqlite3.Connection, *commands: object) -> None:
    outcomes = apply_batch(conn, [codec.encode(c) for c in commands])  # type: ignore[arg-type]
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes


def make_v2(path: Path, per_kind: int) -> dict[str, dict[str, str]]:
    """A version 2 file holding ``per_kind`` records of each kind; returns kind -> id -> its unique word."""
    conn = sqlite3.connect(path, isolation_level=None)
    configure_writer(conn, durability="normal")
    conn.execute("BEGIN")
    for statement in textindex.statements(V2_DDL):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    live: dict[str, dict[str, str]] = {kind: {} for kind in STORES}
    n = 0
    for kind in STORES:
        for start in range(0, per_kind, 100):
            batch = [make(kind, n + i) for i in range(start, min(per_kind, start + 100))]
            apply(conn, AddRecords(tuple(batch)))
            live[kind].update({r.id: unique_word(n + i) for i, r in zip(range(start, per_kind), batch, strict=False)})
        n += per_kind
    conn.close()
    return live


def check_live_index(path: Path, live: dict[str, dict[str, str]]) -> None:
    """Read as another process would: the live index finds every record exactly once, whatever its state."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for kind, table in ((k, TABLES[k].name) for k in STORES):
            rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH 'deployed'")]
            expected = [r[0] for r in conn.execute(f"SELECT rowid FROM {table}")]
            assert len(rowids) == len(set(rowids)), f"{table}: a row indexed twice"
            assert sorted(rowids) == sorted(expected), f"{table}: {len(rowids)} found of {len(expected)}"
            assert len(expected) == len(live[kind])
    finally:
        conn.close()


def write_between(path: Path, live: dict[str, dict[str, str]], rng: random.Random, fresh: int) -> int:
    """What a writer may do between two runs of the migration: update, delete and add records."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for kind in STORES:
            ids = sorted(live[kind])
            for record_id in rng.sample(ids, 3):
                word = unique_word(fresh)
                fresh += 1
                field = {"episode": "task", "fact": "content", "skill": "description"}[kind]
                apply(conn, UpdateRecord(kind, record_id, {field: f"deployed {word}"}, None, time.time()))
                live[kind][record_id] = word
            for record_id in rng.sample(sorted(live[kind]), 2):
                apply(conn, DeleteRecord(kind, record_id))
                del live[kind][record_id]
            record = make(kind, fresh)
            apply(conn, AddRecords((record,)))
            live[kind][record.id] = unique_word(fresh)
            fresh += 1
    finally:
        conn.close()
    return fresh


def kill_somewhere(script: Path, path: Path, live: dict[str, dict[str, str]], rng: random.Random) -> bool:
    """Run the migration in a child, reading the index while it runs; SIGKILL it at a random point.

    Returns whether the child finished before the kill.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path), "37"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    finished = False
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"READY\n", child.stderr.read() if child.stderr else b""
        for _ in range(rng.randint(0, 12)):
            line = child.stdout.readline()
            if line in (b"DONE\n", b""):
                finished = line == b"DONE\n"
                break
            check_live_index(path, live)  # a reader in another process, while the migration runs
        time.sleep(rng.uniform(0.0, 0.005))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return finished or b"DONE\n" in out


def test_a_migration_killed_at_random_points_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    seed = int(os.environ.get("MEMACTOR_MIGRATION_SEED", str(time.time_ns())))
    rng = random.Random(seed)
    path = tmp_path / "v2.db"
    live = make_v2(path, 600)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    fresh = 10_000
    for _ in range(8):
        if kill_somewhere(script, path, live, rng):
            break
        check_live_index(path, live)
        fresh = write_between(path, live, rng, fresh)
        check_live_index(path, live)

    with memactor.open_sync(path) as mem:  # the writer's open finishes the migration
        for kind, words in live.items():
            store = getattr(mem, STORES[kind])
            everything = [h.record.id for h in store.search("deploy", limit=10_000)]
            assert sorted(everything) == sorted(words), f"seed {seed}: {kind} not found exactly once"
            for record_id, word in words.items():
                assert [h.record.id for h in store.search(word)] == [record_id], f"seed {seed}: {kind} {word}"
    integrity_check(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "fts_rebuild" not in names and not any(n.endswith("_fts_new") for n in names)
        for table in TABLES.values():
            (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (f"{table.name}_fts",)).fetchone()
            assert textindex.TOKENIZE in sql
    finally:
        conn.close()


def test_a_version_2_file_is_upgraded_and_stems(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    live = make_v2(path, 30)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM episodes_fts WHERE episodes_fts MATCH 'deploy'").fetchone() == (0,)
    conn.close()
    with memactor.open_sync(path) as mem:
        for kind, words in live.items():
            hits = getattr(mem, STORES[kind]).search("deploy", limit=100)
            assert sorted(h.record.id for h in hits) == sorted(words)
        assert [h.record.id for h in mem.episodes.search("deployments", limit=100)] != []
    integrity_check(path)


def test_the_migration_reports_its_progress(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    make_v2(path, 250)
    seen: list[textindex.Progress] = []
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        configure_writer(conn, durability="normal")
        original = textindex.CHUNK_ROWS
        textindex.CHUNK_ROWS = 100
        try:
            migrate(conn, seen.append)
        finally:
            textindex.CHUNK_ROWS = original
    finally:
        conn.close()
    for table in TABLES.values():
        steps = [(p.done, p.total) for p in seen if p.table == table.name]
        assert steps == [(0, 250), (100, 250), (200, 250), (250, 250)]
    integrity_check(path)


def test_the_rebuild_logs_only_when_there_is_something_to_rebuild(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server's first log line says it serves: a new file's empty rebuild must not come before it."""
    caplog.set_level(logging.INFO, logger="memactor.migrate")
    with memactor.open_sync(tmp_path / "new.db"):
        pass
    assert caplog.records == []
    make_v2(tmp_path / "old.db", 5)
    with memactor.open_sync(tmp_path / "old.db"):
        pass
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "rebuilding the text index of episodes: 5 of 5 rows" in lines
