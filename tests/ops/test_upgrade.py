"""``memactor upgrade PATH``: the migration on its own, with progress; resumable after a SIGKILL; refused while
another process writes the file."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
from pathlib import Path

import memactor
from memactor.sqlite.schema import SCHEMA_VERSION
from tests.fts_check import integrity_check
from tests.test_migration_stemming import STORES, make_v2

from .conftest import ROOT, cli


def _found_once(path: Path, live: dict[str, dict[str, str]]) -> None:
    with memactor.open_sync(path, readonly=True) as mem:
        for kind, words in live.items():
            hits = getattr(mem, STORES[kind]).search("deploy", limit=10_000)  # stems: the records say "deployed"
            assert sorted(hit.record.id for hit in hits) == sorted(words), kind


def _indexed_episodes(path: Path) -> int:
    """How many episodes an interrupted rebuild has indexed into the new index."""
    conn = sqlite3.connect(path)
    try:
        sql = "SELECT count(*) FROM episodes WHERE rowid <= (SELECT done_rowid FROM fts_rebuild WHERE tbl = 'episodes')"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_upgrade_migrates_with_a_line_per_tenth_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    live = make_v2(db, 2500)
    done = cli("upgrade", str(db))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{db}: upgraded from schema version 2 to {SCHEMA_VERSION}\n"
    for table in ("episodes", "facts", "skills"):  # 2,000 rows per transaction: a line for each, and the end
        assert f"upgrade {table}: 2000 of 2500 rows\nupgrade {table}: 2500 of 2500 rows\n" in done.stderr
    assert "upgrade items" not in done.stderr  # an empty table: nothing to show
    assert _version(db) == SCHEMA_VERSION
    integrity_check(db)
    _found_once(db, live)
    again = cli("upgrade", str(db))
    assert (again.returncode, again.stdout, again.stderr) == (
        0,
        f"{db}: schema version {SCHEMA_VERSION}, up to date\n",
        "",
    )


def test_an_upgrade_killed_midway_goes_on_where_it_stopped(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    live = make_v2(db, 4500)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "memactor", "upgrade", str(db)], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stderr is not None
        for expected in ("upgrade episodes: 2000 of 4500 rows\n", "upgrade episodes: 4000 of 4500 rows\n"):
            line = child.stderr.readline()
            assert line == expected, line + child.stderr.read()
        child.send_signal(signal.SIGKILL)  # at the latest, while the last 500 episodes or the facts are indexed
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert _version(db) < SCHEMA_VERSION
    committed = _indexed_episodes(db)
    assert committed in (4000, 4500)
    resumed = cli("upgrade", str(db))
    assert resumed.returncode == 0, resumed.stderr
    # It starts from what the killed run committed, not from nothing (which would show 2000 first).
    assert resumed.stderr.splitlines()[0] == f"upgrade episodes: {committed} of 4500 rows", resumed.stderr
    assert "upgrade facts: 4500 of 4500 rows" in resumed.stderr
    assert _version(db) == SCHEMA_VERSION
    integrity_check(db)
    _found_once(db, live)


def test_ctrl_c_stops_an_upgrade_which_says_how_to_go_on(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    # Enough rows that the signal lands mid-rebuild even when this process is slow to send it (a loaded machine).
    live = make_v2(db, 9_000)  # under the search limit that _found_once reads with
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "memactor", "upgrade", str(db)], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        assert line == "upgrade episodes: 2000 of 9000 rows\n", line + child.stderr.read()
        child.send_signal(signal.SIGINT)
        _, rest = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, rest
    assert rest.endswith("to go on from where it stopped\n") and "Traceback" not in rest
    assert _version(db) < SCHEMA_VERSION and _indexed_episodes(db) % 2000 == 0
    assert cli("upgrade", str(db)).returncode == 0
    integrity_check(db)
    _found_once(db, live)


def test_on_a_terminal_upgrade_shows_a_bar_per_table(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    make_v2(db, 300)
    leader, follower = os.openpty()  # stderr a terminal, as when a person runs it
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new pty is 0 columns wide
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "memactor", "upgrade", str(db)]
        done = subprocess.run(command, stderr=follower, stdout=subprocess.PIPE, env=env, timeout=120)
        os.close(follower)
        follower = -1
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0
    for table in (b"episodes", b"facts", b"skills"):
        assert b"upgrade " + table + b": 100%" in shown and b"300/300" in shown
    assert b"of 300 rows" not in shown  # a bar, not the plain lines


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other end is closed and everything was read
        return b""


def test_upgrade_refuses_a_file_another_process_writes_and_a_missing_one(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with memactor.open_sync(db):
        busy = cli("upgrade", str(db))
    assert busy.returncode == 1
    assert "is open for writing by another process, which upgraded it when it opened it" in busy.stderr
    missing = cli("upgrade", str(tmp_path / "nothing.db"))
    assert missing.returncode == 1 and "no memory file at" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()
    newer = tmp_path / "newer.db"
    with memactor.open_sync(newer):
        pass
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    refused = cli("upgrade", str(newer))
    assert refused.returncode == 1 and f"schema version {SCHEMA_VERSION + 1}" in refused.stderr
