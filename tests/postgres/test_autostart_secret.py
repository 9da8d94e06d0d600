"""A server started on demand for a URL with a password keeps the password off its command line (which every
local user reads in ps): the URL reaches it through the environment, and its log names the URL redacted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from memactor import Fact
from memactor.net.autostart import connect_or_start, socket_path
from tests.serveprocs import serve_pids, started_server_pids

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-in-the-url-7c1e"


def _with_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    user, at, host = rest.partition("@")
    assert at and ":" not in user, url
    return f"{scheme}://{user}:{PASSWORD}@{host}"


async def test_a_started_server_has_no_password_on_its_command_line(pg_url: str, place: Path) -> None:
    url = _with_password(pg_url)
    with psycopg.connect(url) as conn:  # the test server trusts loopback: the password is taken and ignored
        assert conn.execute("SELECT 1").fetchone() == (1,)
    try:
        async with await connect_or_start(url) as mem:
            fid = await mem.facts.add(Fact("served from a URL with a password"))
            assert (await mem.facts.get(fid)).content == "served from a URL with a password"
        pids = started_server_pids(url)
        assert len(pids) == 1, pids
        cmdline = Path(f"/proc/{pids[0]}/cmdline").read_bytes()
        assert PASSWORD.encode() not in cmdline, cmdline.split(b"\0")
        log = socket_path(url).with_suffix(".log").read_text()
        assert "serving" in log and PASSWORD not in log, log
    finally:
        for pid in started_server_pids(url):
            os.kill(pid, signal.SIGKILL)


def test_serve_named_on_the_command_line_warns_that_ps_shows_the_password(pg_url: str, place: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MEMACTOR_DATABASE"}
    listen = f"unix://{place}/s.sock"
    command = [sys.executable, "-m", "memactor", "serve", _with_password(pg_url), "--listen", listen, "--detach"]
    log = place / "serve.log"
    try:
        with log.open("wb") as stderr:  # a file, not a pipe: the detached server keeps its end open
            started = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, timeout=60)
        warning = log.read_text()
        assert started.returncode == 0, warning
        assert "password is visible to every local user in ps" in warning
        assert "MEMACTOR_DATABASE" in warning and "serving" in warning and PASSWORD not in warning, warning
    finally:
        for pid in serve_pids(listen):
            os.kill(pid, signal.SIGKILL)
