"""``memactor export``: every record and item, one JSON object per line, streamed with bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import memactor
from memactor import Episode

from .conftest import ROOT, Served, cli, seed


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_writes_every_record_and_item(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=30)
    out = tmp_path / "out.jsonl"
    result = cli("export", str(db), "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = _lines(out.read_text())
    kinds = [line["kind"] for line in lines]
    assert kinds.count("episode") == 30 and kinds.count("fact") == 1 and kinds.count("skill") == 1
    assert kinds.count("item") == 2
    skill = next(line for line in lines if line["kind"] == "skill")
    assert skill["uses"] == 1 and skill["successes"] == 1
    item = next(line for line in lines if line["kind"] == "item" and line["key"] == "colour")
    assert item["namespace"] == ["prefs", "a1"] and item["value"] == {"value": "blue", "ü": [1, 2.5, None]}
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_export_to_stdout_through_a_server(served: Served) -> None:
    result = cli("export", "--url", served.url)
    assert result.returncode == 0, result.stderr
    assert len(_lines(result.stdout)) == 30 + 1 + 1 + 2


def _peak_rss_kib(db: Path, out: Path) -> int:
    # Peak RSS of one export child process (ru_maxrss of a waited child, via a wrapper that reports it).
    script = (
        "import resource, subprocess, sys; "
        f"subprocess.run([sys.executable, '-m', 'memactor', 'export', {str(db)!r}, '-o', {str(out)!r}], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(ROOT)}
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_export_memory_stays_bounded(tmp_path: Path) -> None:
    small, large = tmp_path / "small.db", tmp_path / "large.db"
    text = "x" * 4000
    for db, count in ((small, 100), (large, 20_000)):  # 20,000 x 4 KB: 80 MB of text
        with memactor.open_sync(db, durability="normal") as mem:
            for start in range(0, count, 1000):
                mem.episodes.add_many(
                    Episode(task=f"t{i}", outcome=text) for i in range(start, min(count, start + 1000))
                )
    base = _peak_rss_kib(small, tmp_path / "small.jsonl")
    peak = _peak_rss_kib(large, tmp_path / "large.jsonl")
    assert (tmp_path / "large.jsonl").stat().st_size > 80_000_000
    # Holding the export would add >= 80 MB; a few pages of 1,000 records are ~4 MB each.
    assert peak - base < 40_000, (base, peak)
