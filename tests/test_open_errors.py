"""Every failure a user can cause at open or connect is a `MemactorError` whose message says what to do.

Each refused path is left as it was: no table added, no WAL switch, no lock file beside it. The same
messages reach the user of ``memactor serve PATH``, printed on one line, without a traceback.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import memactor
from memactor import ConnectionLostError, Fact, NotAMemoryError, StorageError

ROOT = Path(__file__).resolve().parent.parent


def _missing_directory(tmp: Path) -> Path:
    return tmp / "no-such-dir" / "memory.db"


def _directory(tmp: Path) -> Path:
    (tmp / "a-dir").mkdir()
    return tmp / "a-dir"


def _not_sqlite(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 200)
    return path


def _foreign(tmp: Path) -> Path:
    path = tmp / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('a@example.com')")
    conn.close()
    return path


def _foreign_version(tmp: Path) -> Path:
    path = tmp / "versioned.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    return path


# (how to make the path, the words the message must hold, refused for writing too)
CASES: dict[str, tuple[Callable[[Path], Path], str, bool]] = {
    "missing-directory": (_missing_directory, "does not exist; create it first", True),
    "directory": (_directory, "is a directory; give the path of a memory file", True),
    "not-sqlite": (_not_sqlite, "is not a SQLite database", True),
    "foreign-tables": (_foreign, "another application's SQLite database (tables users)", True),
    "foreign-user-version": (_foreign_version, "set by another application", True),
    "empty-file": (lambda tmp: (tmp / "empty.db").open("w").close() or tmp / "empty.db", "holds no memory yet", False),
    "missing-file": (lambda tmp: tmp / "missing.db", "open it once without readonly=True", False),
}


def _snapshot(tmp: Path) -> dict[str, str]:
    """Every file under ``tmp`` with a hash of its content: a refusal must change none of them."""
    return {
        str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(tmp.rglob("*"))
    }


@pytest.mark.parametrize("readonly", [False, True], ids=["write", "readonly"])
@pytest.mark.parametrize("case", CASES)
def test_a_bad_path_is_refused_clearly_and_left_alone(tmp_path: Path, case: str, readonly: bool) -> None:
    make, words, refused_for_writing = CASES[case]
    path = make(tmp_path)
    before = _snapshot(tmp_path)
    if not readonly and not refused_for_writing:
        with memactor.open_sync(path) as mem:  # a new or empty file becomes a memory
            mem.facts.add(Fact(content="first"))
        return
    with pytest.raises(NotAMemoryError) as caught:
        memactor.open_sync(path, readonly=readonly)
    assert words in str(caught.value)
    assert isinstance(caught.value, StorageError)
    assert _snapshot(tmp_path) == before


def test_allow_foreign_tables_shares_the_file(tmp_path: Path) -> None:
    path = _foreign(tmp_path)
    with memactor.open_sync(path, allow_foreign_tables=True) as mem:
        mem.facts.add(Fact(content="beside the app's tables"))
    with memactor.open_sync(path, readonly=True, allow_foreign_tables=True) as mem:
        assert mem.facts.count() == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("a@example.com",)]
    conn.close()
    with pytest.raises(NotAMemoryError, match="allow_foreign_tables=True"):
        memactor.open_sync(path)  # sharing is asked for at every open


@pytest.mark.anyio
async def test_the_async_open_raises_the_same(tmp_path: Path) -> None:
    with pytest.raises(NotAMemoryError, match="is not a SQLite database"):
        async with memactor.open(_not_sqlite(tmp_path)):
            pass
    with pytest.raises(NotAMemoryError, match="holds no memory yet"):
        (tmp_path / "empty.db").touch()
        async with memactor.open(tmp_path / "empty.db", readonly=True):
            pass


def test_a_lock_file_that_cannot_be_created(tmp_path: Path) -> None:
    # What an unwritable directory gives a non-root user; a directory in the lock file's place fails for root too.
    (tmp_path / "memory.db-writer.lock").mkdir()
    with pytest.raises(StorageError, match="writing needs a writable directory"):
        memactor.open_sync(tmp_path / "memory.db")


@pytest.mark.parametrize("case", ["missing-directory", "directory", "not-sqlite", "foreign-tables"])
def test_serve_prints_the_message_and_exits_non_zero(tmp_path: Path, case: str) -> None:
    make, words, _ = CASES[case]
    path = make(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "memactor", "serve", str(path), "--listen", f"unix://{tmp_path}/s.sock"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode != 0
    assert words in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_serve_allow_foreign_tables_serves_the_shared_file(tmp_path: Path) -> None:
    path = _foreign(tmp_path)
    socket = tmp_path / "s.sock"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memactor",
            "serve",
            str(path),
            "--listen",
            f"unix://{socket}",
            "--allow-foreign-tables",
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert server.stderr is not None
        assert "serving" in server.stderr.readline()  # its first line says it listens
        with memactor.connect_sync(f"unix://{socket}") as memory:
            memory.episodes.add(memactor.Episode(task="beside the other application's tables"))
            assert memory.episodes.count() == 1
    finally:
        server.terminate()
        server.communicate(timeout=60)
    check = sqlite3.connect(path)
    assert check.execute("SELECT email FROM users").fetchall() == [("a@example.com",)]  # left as it was
    check.close()


@pytest.mark.parametrize("url", ["unix:///nonexistent-dir/memactor.sock", "tcp://127.0.0.1:1"])
def test_connect_to_nobody_is_a_connection_lost_error(url: str) -> None:
    secret = "s3cret-token-value-0123456789"
    with pytest.raises(ConnectionLostError, match="check that `memactor serve` is running") as caught:
        memactor.connect_sync(url, token=secret, retry_window=0.1)
    assert secret not in str(caught.value)


def test_a_socket_that_never_answers_is_named_in_the_message(tmp_path: Path) -> None:
    import socket

    silent = socket.socket(socket.AF_UNIX)
    with silent:
        silent.bind(str(tmp_path / "silent.sock"))
        silent.listen()
        with pytest.raises(ConnectionLostError, match=r"\(TimeoutError\); check that") as caught:
            memactor.connect_sync(f"unix://{tmp_path}/silent.sock", retry_window=0.1, connect_timeout=0.2)
    assert "()" not in str(caught.value)


def test_an_address_with_a_password_is_refused_without_showing_it() -> None:
    with pytest.raises(memactor.InvalidInputError, match="takes no user or password") as caught:
        memactor.connect_sync("tcp://agent:s3cret-in-the-url@127.0.0.1:1", retry_window=0.1)
    assert "s3cret" not in str(caught.value)
