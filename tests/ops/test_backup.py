"""``memactor backup``: a consistent copy while agents write; refuses to overwrite without --force."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import memactor
from memactor import Episode, Fact
from tests.fts_check import integrity_check

from .conftest import cli, seed


def test_backup_while_agents_write_is_consistent(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    seed(db, episodes=20_000)
    stop = threading.Event()
    written = []

    def agents() -> None:
        with memactor.open_sync(db, durability="normal") as mem:
            while not stop.is_set():
                # Each batch: an episode and a fact citing it, so a torn copy would show an orphan.
                with mem.batch() as b:
                    eid = b.episodes.add(Episode(task=f"live {len(written)}", outcome="y" * 500))
                    b.facts.add(Fact(content=f"learned {len(written)}", source_episode_ids=(eid,)))
                written.append(eid)

    writer = threading.Thread(target=agents)
    writer.start()
    try:
        while len(written) < 50:
            stop.wait(0.01)
        started = len(written)
        result = cli("backup", str(db), str(copy))
        ended = len(written)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert ended > started, "the agents did not write during the backup"
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    integrity_check(copy)  # FTS5's own check of every text index
    with memactor.open_sync(copy) as mem:
        assert mem.facts.count() == mem.episodes.count() - 20_000 + 1  # seed: one fact; live: one per episode


def test_backup_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    db, copy = tmp_path / "m.db", tmp_path / "copy.db"
    seed(db, episodes=3)
    copy.write_text("precious")
    refused = cli("backup", str(db), str(copy))
    assert refused.returncode == 1 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert copy.read_text() == "precious"
    forced = cli("backup", str(db), str(copy), "--force")
    assert forced.returncode == 0, forced.stderr
    with memactor.open_sync(copy) as mem:
        assert mem.episodes.count() == 3
    assert "pages" in forced.stderr  # the plain progress line off a terminal
