"""``memactor stats``: counts per store and namespace, last writes, file facts; on a file and on a server."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Served, cli, seed


def test_stats_counts_every_store_and_namespace(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=30)
    result = cli("stats", str(db), "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    episodes = stats["stores"]["episode"]
    assert episodes["total"] == 30
    assert episodes["namespaces"] == {"team-a": 20, "team-b": 10}
    assert episodes["last_write"] is not None
    assert stats["stores"]["fact"]["total"] == 1
    assert stats["stores"]["skill"]["total"] == 1
    assert stats["stores"]["item"]["namespaces"] == {"prefs": 1, "prefs.a1": 1}
    assert stats["schema_version"] == 6
    assert stats["file_bytes"] > 0 and "wal_bytes" in stats


def test_stats_prints_a_table_without_json(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=3)
    result = cli("stats", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["store", "namespace", "count", "last", "write"]
    assert "schema_version: 6" in result.stdout


def test_stats_through_a_server(served: Served) -> None:
    result = cli("stats", "--url", served.url, "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["stores"]["episode"]["total"] == 30
    assert "file_bytes" not in stats


def test_stats_errors_are_one_line(tmp_path: Path) -> None:
    result = cli("stats", str(tmp_path / "missing.db"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no memory file" in result.stderr
    assert "Traceback" not in result.stderr
    neither = cli("stats")
    assert neither.returncode == 1 and "--url" in neither.stderr
