"""The items' text index stems: new files make it so, and schema version 6 rebuilds an older file's in place.

An older file is built from fixtures (``data/schema_v2.sql`` for the records, ``data/items_v3.sql`` for
the items as schema version 3 made them, with SQLite's default tokenizer), so the tests do not depend on
how today's code builds its schema. As for the records' rebuild (tests/test_migration_stemming.py), a
child process migrates and is SIGKILLed at random points, with item writes in between, while another
connection reads the live index; at the end FTS5's integrity-check passes and every item is found once.
"""

from __future__ import annotations

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
from memactor.model.itemops import DeleteItem, PutItem
from memactor.sqlite import textindex
from memactor.sqlite.schema import SCHEMA_VERSION
from tests.fts_check import integrity_check
from tests.test_migration_stemming import CHILD, apply, make_v2, unique_word

ITEMS_V3 = (Path(__file__).parent / "data" / "items_v3.sql").read_text()
NAMESPACE = ("team", "notes")


def put_command(key: str, word: str) -> PutItem:
    value = {"title": f"deployed {word}", "body": ["the rollout", {"state": "done"}]}
    return PutItem(NAMESPACE, key, value, None, None, time.time())


def put(conn: sqlite3.Connection, key: str, word: str) -> None:
    apply(conn, put_command(key, word))


def make_v3(path: Path, items: int) -> dict[str, str]:
    """A schema version 3 file with a few records and ``items`` items; returns key -> its unique word."""
    make_v2(path, 5)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in textindex.statements(ITEMS_V3):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        conn.execute("COMMIT")
        live = {f"k{n}": unique_word(n) for n in range(items)}
        apply(conn, *(put_command(key, word) for key, word in live.items()))
    finally:
        conn.close()
    return live


def check_live_index(path: Path, live: dict[str, str]) -> None:
    """Read as another process would: the live index finds every item exactly once, whatever its state."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rowids = [r[0] for r in conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'deployed'")]
        expected = [r[0] for r in conn.execute("SELECT rowid FROM items")]
        assert len(rowids) == len(set(rowids)), "an item indexed twice"
        assert sorted(rowids) == sorted(expected), f"{len(rowids)} found of {len(expected)}"
        assert len(expected) == len(live)
    finally:
        conn.close()


def write_between(path: Path, live: dict[str, str], rng: random.Random, fresh: int) -> int:
    """What a writer may do between two runs of the migration: replace, delete and add items."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for key in rng.sample(sorted(live), 3):
            put(conn, key, unique_word(fresh))
            live[key] = unique_word(fresh)
            fresh += 1
        for key in rng.sample(sorted(live), 2):
            apply(conn, DeleteItem(NAMESPACE, key, time.time()))
            del live[key]
        put(conn, f"k{fresh}", unique_word(fresh))
        live[f"k{fresh}"] = unique_word(fresh)
        fresh += 1
    finally:
        conn.close()
    return fresh


def run_and_kill(script: Path, path: Path, live: dict[str, str], rng: random.Random) -> tuple[bool, bool]:
    """Run the migration in a child and SIGKILL it at a random point; read the live index meanwhile.

    Returns whether the child finished, and whether it was killed while rebuilding the items' index.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path), "37"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    in_items = finished = False
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"READY\n", child.stderr.read() if child.stderr else b""
        for _ in range(rng.randint(1, 8)):
            line = child.stdout.readline()
            if line in (b"DONE\n", b""):
                finished = line == b"DONE\n"
                break
            in_items = line.startswith(b"items ")
            check_live_index(path, live)
        time.sleep(rng.uniform(0.0, 0.005))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    finished = finished or b"DONE\n" in out
    return finished, in_items and not finished


def test_an_item_migration_killed_at_random_points_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    seed = int(os.environ.get("MEMACTOR_MIGRATION_SEED", str(time.time_ns())))
    rng = random.Random(seed)
    path = tmp_path / "v3.db"
    live = make_v3(path, 400)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    fresh, kills_in_items = 10_000, 0
    for _ in range(60):
        finished, in_items = run_and_kill(script, path, live, rng)
        if finished:
            break
        kills_in_items += in_items
        check_live_index(path, live)
        fresh = write_between(path, live, rng, fresh)
        check_live_index(path, live)
    assert kills_in_items >= 1, f"seed {seed}: no kill landed in the items' rebuild"

    with memactor.open_sync(path) as mem:  # the writer's open finishes the migration, if the child did not
        found = [item.key for item in mem.items.search((), query="deploy", limit=10_000)]
        assert sorted(found) == sorted(live), f"seed {seed}: items not found exactly once"
        for key, word in live.items():
            assert [item.key for item in mem.items.search((), query=word)] == [key], f"seed {seed}: {word}"
    integrity_check(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "fts_rebuild" not in names and not any(n.endswith("_fts_new") for n in names)
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'items_fts'").fetchone()
        assert textindex.TOKENIZE in sql
    finally:
        conn.close()


def test_an_older_files_items_stem_once_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    live = make_v3(path, 30)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'deploy'").fetchone() == (0,)
    conn.close()
    with memactor.open_sync(path) as mem:
        assert sorted(item.key for item in mem.items.search((), query="deploy", limit=100)) == sorted(live)
        mem.items.put(("later",), "new", {"text": "rollouts deployed later"})
        assert [item.key for item in mem.items.search(("later",), query="deployment rollout")] == ["new"]
    integrity_check(path)


@pytest.mark.anyio
async def test_a_new_files_item_search_stems(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await mem.items.put(("ops",), "incident", {"summary": "deployed the api; the health check timed out"})
        await mem.items.put(("ops",), "other", {"summary": "lunch order"})
        assert [item.key for item in await mem.items.search((), query="deploy")] == ["incident"]
        assert [item.key for item in await mem.items.search((), query="timing out checks")] == ["incident"]
        await mem.items.put(("ops",), "incident", {"summary": "replaced: nothing about that any more"})
        assert await mem.items.search((), query="deploy") == []
    integrity_check(db_path)
