"""Why memactor indexes text once per group commit: FTS5 trigger per row vs one ``INSERT ... SELECT`` per batch.

Run ``python -m bench.fts_probe [--rows 20000 --batch 500]``. Every variant inserts the same episodes into
memactor's own schema (WAL, synchronous=NORMAL) in transactions of ``--batch`` rows and prints rows/s:

- ``trigger``: an FTS insert trigger per row, one ``executemany`` per transaction;
- ``trigger+savepoint``: the same with a SAVEPOINT per row (FTS5 flushes its pending terms at each RELEASE);
- ``per-batch``: no insert trigger, the batch's rows indexed by `memactor.sqlite.schema.index_new_rows` before COMMIT
  (what memactor's writer does);
- ``per-batch+savepoint``: the same with a SAVEPOINT per row.

With ``--merges`` it measures FTS5's ``automerge`` instead (memactor's schema sets 16; SQLite's default is
4): the same rows in commits of 64 (``--batch``), indexed per commit as memactor does, in interleaved rounds,
printing each commit's mean, p50, p99 and max time and a search's mean time over the result.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from memactor.sqlite.schema import index_new_rows, migrate

_COLUMNS = (
    "id, namespace, agent_id, tags, metadata, created_at, updated_at, version,"
    " task, steps, outcome, success, reward, importance"
)
_INSERT = f"INSERT INTO episodes ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_TRIGGER = (
    "CREATE TEMP TRIGGER probe_fts AFTER INSERT ON episodes BEGIN "
    "INSERT INTO episodes_fts(rowid, task, steps, outcome) VALUES (new.rowid, new.task, new.steps, new.outcome); END"
)


def _rows(count: int) -> list[tuple[object, ...]]:
    rng = random.Random(1)
    words = [f"w{i}" for i in range(3000)]
    now = time.time()
    return [
        (f"{i:032x}", "default", f"a{i % 64}", "[]", "{}", now, now, 1, " ".join(rng.choices(words, k=8)),
         json.dumps(rng.choices(words, k=5)), " ".join(rng.choices(words, k=10)), 1, None, 0.5)
        for i in range(count)
    ]  # fmt: skip


def _run(path: Path, rows: list[tuple[object, ...]], batch: int, *, trigger: bool, savepoint: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn)
    if trigger:
        conn.execute(_TRIGGER)
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        if savepoint:
            for row in rows[start : start + batch]:
                conn.execute("SAVEPOINT one")
                conn.execute(_INSERT, row)
                conn.execute("RELEASE one")
        else:
            conn.executemany(_INSERT, rows[start : start + batch])
        if trigger:
            # Keep the per-batch step from indexing the same rows twice.
            conn.execute(
                "UPDATE fts_progress SET indexed_rowid = (SELECT max(rowid) FROM episodes) WHERE tbl = 'episodes'"
            )
        else:
            index_new_rows(conn)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


_QUERIES = ("w1 w2", "w17", "w300 w2999 w5", "w42 w43 w44 w45")


def _merges(path: Path, rows: list[tuple[object, ...]], batch: int, automerge: int) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn)
    conn.execute(f"INSERT INTO episodes_fts (episodes_fts, rank) VALUES ('automerge', {automerge})")
    commits = []
    for start in range(0, len(rows), batch):
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, rows[start : start + batch])
        index_new_rows(conn)
        conn.execute("COMMIT")
        commits.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    for query in _QUERIES * 25:
        match = " OR ".join(f'"{word}"' for word in query.split())
        conn.execute(
            "SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH ? ORDER BY rank LIMIT 50", (match,)
        ).fetchall()
    search_ms = (time.perf_counter() - began) * 1000 / (len(_QUERIES) * 25)
    conn.close()
    commits.sort()
    mean = sum(commits) / len(commits)
    p50, p99 = commits[len(commits) // 2], commits[int(len(commits) * 0.99)]
    return (
        f"commit mean {mean:5.2f} ms  p50 {p50:5.2f}  p99 {p99:6.2f}  max {commits[-1]:6.2f}"
        f"   search {search_ms:6.2f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print rows/s for each way of indexing; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.fts_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="episodes to insert (default 20,000, or 50,000 with --merges)")
    parser.add_argument("--batch", type=int, help="rows per transaction (default 500, or 64 with --merges)")
    parser.add_argument("--merges", action="store_true", help="compare FTS5 automerge 4 (default) and 16")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (--merges)")
    args = parser.parse_args(argv)
    if args.merges:
        rows = _rows(args.rows or 50_000)
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for automerge in (4, 16):
                    path = Path(tmp) / f"merge-{automerge}-{round_}.db"
                    print(f"automerge {automerge:2}  {_merges(path, rows, args.batch or 64, automerge)}", flush=True)
        return 0
    rows = _rows(args.rows or 20_000)
    args.batch = args.batch or 500
    with tempfile.TemporaryDirectory() as tmp:
        for name, trigger, savepoint in (
            ("trigger", True, False),
            ("trigger+savepoint", True, True),
            ("per-batch", False, False),
            ("per-batch+savepoint", False, True),
        ):
            rate = _run(Path(tmp) / f"{name}.db", rows, args.batch, trigger=trigger, savepoint=savepoint)
            print(f"{name:20} {rate:10,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
