"""`memactor bench recall` runs end to end on a slice with HashEmbedder and writes valid JSON lines.

Correctness only: which modes and fields are there, and that hits are matched to the set's ids. No quality
threshold and no timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import memactor
from bench.recall_files import build, unstemmed_copy
from memactor.cli import main as memactor_main

MODES = {"text-unstemmed", "text", "vector", "hybrid"}


def test_bench_recall_slice_writes_every_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.jsonl"
    argv = ["bench", "recall", "--slice", "12", "--no-auto", "--out", str(out), "--dir", str(tmp_path)]
    assert memactor_main(argv) == 0

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["bench"] == "recall" and lines[0]["sqlite"]
    rows = [line for line in lines if line["type"] == "recall"]
    assert {row["mode"] for row in rows} == MODES and len(rows) == 4
    assert {row["embedder"] for row in rows if row["mode"] in ("vector", "hybrid")} == {"hash"}
    for row in rows:
        assert row["queries"] == 12 and row["records"] >= 12
        for name in ("recall_at_5", "recall_at_10", "mrr"):
            assert 0.0 <= row[name] <= 1.0, row
        assert row["recall_at_5"] <= row["recall_at_10"], row
        assert set(row["recall_at_10_by_overlap"]) == {"0", "1", "2+"}
        assert 0 < row["p50_ms"] <= row["p99_ms"], row
    # Hits are matched to the set's ids: text search finds some answers on a slice whose answers are all in.
    assert next(r for r in rows if r["mode"] == "text")["recall_at_10"] > 0
    checks = [line for line in lines if line["type"] == "recall-check"]
    assert len(checks) == 1 and checks[0]["embedder"] == "hash" and isinstance(checks[0]["met"], bool)
    table = capsys.readouterr().out
    assert all(mode in table for mode in MODES) and "hybrid against the better" in table


def test_bench_recall_rejects_a_bad_slice(capsys: pytest.CaptureFixture[str]) -> None:
    assert memactor_main(["bench", "recall", "--slice", "0"]) == 2
    assert "--slice" in capsys.readouterr().err


def test_the_unstemmed_copy_matches_exact_words_only(tmp_path: Path) -> None:
    stemmed, copy = tmp_path / "m.db", tmp_path / "copy.db"
    line = {"id": "r1", "kind": "fact", "fields": {"content": "deployments failed on the servers"}}
    asyncio.run(build(stemmed, [line], None))
    unstemmed_copy(stemmed, copy)

    async def found(path: Path, text: str) -> list[str]:
        async with memactor.open(path) as mem:
            return [hit.record.id for hit in await mem.facts.search(text, mode="text")]

    assert asyncio.run(found(stemmed, "server failing")) == ["r1"]
    assert asyncio.run(found(copy, "server failing")) == []
    assert asyncio.run(found(copy, "servers")) == ["r1"]
    assert asyncio.run(found(stemmed, "server failing")) == ["r1"]  # the original is left as it was
