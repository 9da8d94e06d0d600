"""Why memactor indexes text once per group commit: FTS5 trigger per row vs one ``INSERT ... SELECT`` per batch.

Run ``python -m bench.fts_probe [--rows 20000 --batch 500]``. Every variant inserts the same episodes into
memactor's own schema (WAL, synchronous=NORMAL) in transactions of ``--batch`` rows and prints rows/s:

- ``trigger``: an FTS insert trigger per row, one ``executemany`` per transaction;
- ``trigger+savepoint``: the same with a SAVEPOINT per row (FTS5 flushes its pending terms at each RELEASE);
- ``per-batch``: no insert trigger, the batch's rows indexed by `memactor.schema.index_new_rows` before COMMIT
  (what memactor's writer does);
- ``per-batch+savepoint``: the same with a SAVEPOINT per row.
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

from memactor.schema import index_new_rows, migrate

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


def main(argv: Sequence[str] | None = None) -> int:
    """Print rows/s for each way of indexing; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.fts_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    rows = _rows(args.rows)
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
