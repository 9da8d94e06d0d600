"""The PostgreSQL systems of the benchmark suite run end to end on the test server (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

import bench
from bench.pg_processes import main as processes_main
from bench.systems import select
from tests.postgres.server import PgServer

_TINY = ["writes=40", "reads=40", "loops=10", "bulk=50", "rows=300", "agents=1,8", "budget=0.5"]


def _bench_schemas(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench\\_%'").fetchone()
    return int(row[0]) if row else -1


def test_pg_systems_run_in_fresh_schemas(
    pg_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    before = _bench_schemas(pg_server.url)
    argv = ["--quick", "--systems", "pg", "--scenarios", "S1,S2,S3,S4", "--rounds", "2", "--out", str(out)]
    argv += ["--no-plot", "--dir", str(tmp_path), "--pg-url", pg_server.url]
    argv += ["--pg-replica-url", pg_server.replica_url or ""]
    for size in _TINY:
        argv += ["--set", size]

    assert bench.main(argv) == 0

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    results = {(line["scenario"], line["system"]): line for line in lines if line["type"] == "result"}
    expected = {"pg-raw", "pg-raw-commit", "memactor-pg", "langgraph-pg"}
    if pg_server.replica_url:
        expected.add("memactor-pg-replica")
    assert {system for _, system in results} == expected
    # Both rounds measured everywhere: the second round writes the same ids, which a reused schema would refuse.
    assert all(line["note"] is None and len(line["rounds"]) == 2 for line in results.values()), [
        (key, line["note"]) for key, line in results.items() if line["note"] or len(line["rounds"]) != 2
    ]
    assert results[("S1-8", "memactor-pg")]["ratio_to_raw"] > 0  # against pg-raw, not SQLite's raw
    assert results[("S1-8", "memactor-pg")]["extra"]["mean_batch"] >= 1
    assert _bench_schemas(pg_server.url) == before  # every measurement dropped its schema
    table = capsys.readouterr().out
    assert "memactor-pg vs peers: pg-raw-commit" in table


def test_pg_systems_without_a_url_say_why() -> None:
    systems, skipped = select(["pg"], None)
    assert systems == [] and len(skipped) == 5
    assert all("needs a PostgreSQL server: pass --pg-url or set MEMACTOR_PG_URL" in s for s in skipped)
    default, _ = select(None, None)
    assert not any(s.family == "pg" for s in default)


def test_several_writer_processes_store_every_acknowledged_write(pg_server: PgServer, tmp_path: Path) -> None:
    out = tmp_path / "processes.jsonl"
    argv = ["--pg-url", pg_server.url, "--processes", "2", "--agents", "4", "--writes", "30", "--rounds", "1"]
    assert processes_main([*argv, "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {line["system"] for line in lines} == {"pg-raw", "pg-raw-commit", "memactor-pg"}
    assert all(r["ops"] == r["stored"] == 60 for line in lines for r in line["rounds"])
