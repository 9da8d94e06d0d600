"""Many client processes through one ``memactor serve`` process; SIGKILL and restart; SIGTERM drains."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import memactor

CLIENT = Path(__file__).with_name("load_client.py")


class ServeProcess:
    """``memactor serve`` in a subprocess, started and waited for."""

    def __init__(self, db: Path, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memactor", "serve", str(db), "--listen", url, "--durability", "normal"],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        ready, _, _ = select.select([self.process.stderr], [], [], 20)
        assert ready, "the server did not start within 20 s"
        line = self.process.stderr.readline()
        assert "serving" in line, line + self.process.stderr.read()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


def start_clients(url: str, out: Path, count: int, seconds: float) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, str(CLIENT), url, str(out / f"acked-{n}.txt"), str(seconds), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]


def wait_until_all_acked(out: Path, count: int) -> None:
    """Wait (at most 30 s) until every client has an acknowledged write: all are connected and working."""
    deadline = time.monotonic() + 30
    while sum(1 for path in out.glob("acked-*.txt") if path.stat().st_size) < count:
        assert time.monotonic() < deadline, "clients did not start"
        time.sleep(0.05)


def summaries(clients: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    results = []
    for client in clients:
        stdout, stderr = client.communicate(timeout=60)
        assert client.returncode == 0, stdout + stderr
        results.append(json.loads(stdout))
    return results


def assert_all_acked_present(db: Path, out: Path) -> int:
    acked = [line for path in out.glob("acked-*.txt") for line in path.read_text().split()]

    async def check() -> None:
        async with memactor.open(db, readonly=True) as memory:
            found = set()
            for start in range(0, len(acked), 5000):
                chunk = acked[start : start + 5000]
                found |= {r.id for r in await memory.episodes.get_many(chunk)}
                found |= {r.id for r in await memory.facts.get_many(chunk)}
                found |= {r.id for r in await memory.skills.get_many(chunk)}
            missing = set(acked) - found
            assert not missing, f"{len(missing)} acknowledged writes are missing"

    anyio.run(check, backend="asyncio")
    return len(acked)


@pytest.fixture
def url(socket_dir: Path) -> str:
    return f"unix://{socket_dir}/s.sock"


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "acks"
    path.mkdir()
    yield path


def test_twenty_client_processes_with_mixed_load(db_path: Path, url: str, out: Path) -> None:
    server = ServeProcess(db_path, url)
    try:
        results = summaries(start_clients(url, out, count=20, seconds=3.0))
    finally:
        assert server.stop() == 0
    troubled = [r for r in results if r["errors"] or r["lost"]]
    assert not troubled, f"{len(troubled)} of {len(results)} clients saw errors or lost the server: {troubled[:3]}"
    assert assert_all_acked_present(db_path, out) >= 20


def test_sigkill_mid_load_then_restart(db_path: Path, url: str, out: Path) -> None:
    server = ServeProcess(db_path, url)
    clients = start_clients(url, out, count=4, seconds=7.0)
    wait_until_all_acked(out, 4)
    time.sleep(0.5)
    server.stop(signal.SIGKILL)
    time.sleep(1.5)  # longer than the clients' retry window: they see ConnectionLostError
    server = ServeProcess(db_path, url)
    try:
        results = summaries(clients)
    finally:
        assert server.stop() == 0
    assert all(r["lost"] for r in results), results  # typed errors, no hang
    assert all(r["acked_after_loss"] for r in results), results  # and they carried on
    assert all(not r["errors"] for r in results), results
    assert_all_acked_present(db_path, out)


def test_sigterm_drains_everything_acknowledged(db_path: Path, url: str, out: Path) -> None:
    server = ServeProcess(db_path, url)
    clients = start_clients(url, out, count=4, seconds=4.0)
    wait_until_all_acked(out, 4)
    time.sleep(0.5)
    assert server.stop(signal.SIGTERM) == 0
    summaries(clients)
    assert_all_acked_present(db_path, out)


def test_a_second_serve_of_the_same_file_is_refused(db_path: Path, url: str, socket_dir: Path) -> None:
    server = ServeProcess(db_path, url)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "memactor", "serve", str(db_path), "--listen", f"unix://{socket_dir}/2.sock"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 3 and "already open" in second.stderr  # ALREADY_SERVED
        assert os.path.exists(url.removeprefix("unix://"))  # the first server's socket is untouched
    finally:
        assert server.stop() == 0
