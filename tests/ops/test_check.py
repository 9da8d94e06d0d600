"""``memactor check``: 0 on a sound file; 1 with a report for an orphaned citation or a damaged text index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import memactor
from memactor import Fact

from .conftest import cli, seed


def test_a_sound_file_checks_clean(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=10)
    result = cli("check", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": ok")


def test_an_orphaned_citation_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=3)
    with memactor.open_sync(db) as mem:
        first = mem.episodes.search(limit=1)[0].record
        mem.facts.add(Fact(content="cites a deleted episode", source_episode_ids=(first.id,)))
        mem.episodes.delete(first.id)
    result = cli("check", str(db))
    assert result.returncode == 1
    assert f"cites episode {first.id}, which does not exist" in result.stdout


def test_a_damaged_text_index_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=3)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        # An index entry for a row the table does not have: the index no longer matches its content.
        conn.execute("INSERT INTO episodes_fts (rowid, task, steps, outcome) VALUES (999999, 'ghost', '', '')")
    finally:
        conn.close()
    result = cli("check", str(db))
    assert result.returncode == 1
    assert "text index episodes_fts" in result.stdout


def test_check_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = cli("check", str(tmp_path / "nope.db"))
    assert result.returncode == 1 and "no memory file" in result.stderr and "Traceback" not in result.stderr
