"""``memactor serve`` takes its memory from ``MEMACTOR_DATABASE`` when the command line names none (how a
server started on demand gets a URL, whose password must stay out of ps), and says what to do without either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import memactor
from memactor import Fact
from tests.serveprocs import serve_pids


def test_serve_reads_the_file_from_the_environment(place: Path) -> None:
    database = place / "memory.db"
    listen = f"unix://{place}/s.sock"
    env = {**os.environ, "MEMACTOR_DATABASE": str(database)}
    log = place / "serve.log"
    try:
        with log.open("wb") as stderr:  # a file, not a pipe: the detached server keeps its end open
            started = subprocess.run(
                [sys.executable, "-m", "memactor", "serve", "--listen", listen, "--detach"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                timeout=60,
            )
        assert started.returncode == 0, log.read_text()
        (pid,) = serve_pids(listen)
        assert os.fsencode(database) not in Path(f"/proc/{pid}/cmdline").read_bytes()
        with memactor.connect_sync(listen) as mem:
            fid = mem.facts.add(Fact("served from the file the environment names"))
        with memactor.open_sync(database, readonly=True) as direct:
            assert direct.facts.get(fid).content == "served from the file the environment names"
    finally:
        for pid in serve_pids(listen):
            os.kill(pid, signal.SIGTERM)


def test_serve_without_a_memory_says_how_to_name_one() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MEMACTOR_DATABASE"}
    started = subprocess.run(
        [sys.executable, "-m", "memactor", "serve", "--listen", "unix:///nonexistent/s.sock"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert "name the memory file or database URL, or set MEMACTOR_DATABASE" in started.stderr


def test_serve_of_a_url_without_listen_asks_for_one() -> None:
    # The default socket goes beside the file; for a URL that would be "<cwd>/postgresql:/user:password@host/
    # db.sock": a failed bind, and the password in a path name. The URL is never opened: the check comes first.
    env = {**os.environ, "MEMACTOR_DATABASE": "postgresql://agent:pw-0a1b@127.0.0.1:1/memactor"}
    started = subprocess.run(
        [sys.executable, "-m", "memactor", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 1
    assert "give --listen unix:///path/to.sock" in started.stderr and "pw-0a1b" not in started.stderr
