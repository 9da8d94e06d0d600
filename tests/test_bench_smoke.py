"""The benchmark suite runs end to end and writes valid JSON lines (no timing is asserted, ever)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench

pytest.importorskip("aiosqlite")  # the `locked` baseline needs it (the `bench` extra)

_TINY = ["writes=40", "reads=40", "loops=10", "bulk=50", "rows=300", "searches=20", "small_rows=200"]


def test_bench_runs_and_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.jsonl"
    systems = "raw,locked,memactor,langgraph"  # families: each also runs its -commit / -wal / -normal variant
    argv = ["--quick", "--systems", systems, "--out", str(out), "--no-plot", "--dir", str(tmp_path)]
    argv += ["--set", "agents=1,8", "--set", "repeats=2", "--set", "budget=0.5"]
    for size in _TINY:
        argv += ["--set", size]

    assert bench.main(argv) == 0

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    run, results = lines[0], [line for line in lines if line["type"] == "result"]
    assert run["type"] == "run" and run["sqlite"] and run["python"]
    systems = {line["system"] for line in results}
    assert {"raw", "raw-commit", "locked", "locked-wal", "memactor", "memactor-normal"} <= systems
    assert {"langgraph", "langgraph-wal"} <= systems
    scenarios = {line["scenario"] for line in results}
    assert {"S1-1", "S1-8", "S2-8", "S3", "S4", "S5", "S6", "P1", "P2", "P3", "P4"} <= scenarios
    measured = [line for line in results if line["note"] is None]
    assert measured and all(line["value"] is not None and line["rounds"] for line in measured)
    # memactor reports its group-commit size wherever it wrote.
    s1 = [line for line in results if line["system"] == "memactor" and line["scenario"] == "S1-8"]
    assert s1 and s1[0]["extra"]["mean_batch"] >= 1
    # The bench extra installs LangGraph's store, so it is measured, not skipped with a note.
    peer = [line for line in results if line["system"] == "langgraph" and line["scenario"] == "S1-8"]
    assert peer and peer[0]["note"] is None and peer[0]["value"] > 0
    table = capsys.readouterr().out
    assert "S1-8: writes, 8 agents" in table and "locked-wal" in table


def test_bench_rejects_unknown_system(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--systems", "nosuch", "--no-plot"]) == 2
    assert "unknown systems" in capsys.readouterr().err
