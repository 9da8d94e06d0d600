"""The demo runs every scenario, reports its checks and exits 0; also through ``python -m memactor demo``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memactor.demo.run import run_demo


def test_demo_summary_reports_every_write_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_demo(agents=4, seconds=1.0, path=str(tmp_path / "demo.db"))
    out = capsys.readouterr().out
    assert status == 0, out
    assert "every acknowledged write readable after reopening: OK" in out
    assert "record_use calls made: equal" in out
    for scenario in ("episodes", "facts", "skills", "batches", "streamed", "batch sizes", "p99"):
        assert scenario in out


def test_demo_refuses_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "taken.db"
    existing.write_bytes(b"")
    assert run_demo(agents=1, seconds=0.1, path=str(existing)) == 2
    assert "exists" in capsys.readouterr().err


def test_demo_runs_from_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memactor", "demo", "--agents", "3", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "readable after reopening: OK" in result.stdout
    # Progress goes to stderr; piped into a log it is whole lines, not one line of carriage returns.
    progress = [line for line in result.stderr.splitlines() if "writes/s" in line]
    assert progress and "\r" not in result.stderr
