"""The operations commands as a user runs them: ``python -m memactor ...`` in a subprocess, on a file or a server."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import memactor
from memactor import Episode, Fact, Skill

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m memactor *args`` with this checkout first on the path; stdin/stdout are not terminals."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "memactor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=stdin,
    )


def seed(path: Path, episodes: int = 30) -> None:
    """Write a small memory: episodes in two namespaces, facts citing them, a used skill, items."""
    with memactor.open_sync(path, durability="normal") as mem:
        ids = mem.episodes.add_many(
            Episode(
                task=f"deploy service {i}",
                namespace="team-a" if i % 3 else "team-b",
                agent_id=f"a{i % 4}",
                steps=("build", "push"),
                metadata={"n": i, "nested": {"x": [1, 2]}},
                success=i % 2 == 0,
            )
            for i in range(episodes)
        )
        mem.facts.add(Fact(content="health checks time out under load", source_episode_ids=(ids[0], ids[1])))
        skill = mem.skills.add(Skill(name="rollback", description="undo a bad deploy", steps=("revert",)))
        mem.skills.record_use(skill, success=True)
        mem.items.put(("prefs", "a1"), "colour", {"value": "blue", "ü": [1, 2.5, None]})
        mem.items.put(("prefs",), "ttl", {"v": 1}, ttl=3600)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="mao-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Served:
    """``memactor serve PATH`` in a subprocess on a Unix socket, waited for, stopped with SIGTERM."""

    def __init__(self, db: Path, socket_dir: Path) -> None:
        self.url = f"unix://{socket_dir}/s.sock"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memactor", "serve", str(db), "--listen", self.url, "--durability", "normal"],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stderr is not None
        ready, _, _ = select.select([self.process.stderr], [], [], 30)
        assert ready, "the server did not start within 30 s"
        line = self.process.stderr.readline()
        assert "serving" in line, line + self.process.stderr.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        assert self.process.stderr is not None
        self.process.stderr.close()


@pytest.fixture
def served(tmp_path: Path, socket_dir: Path) -> Iterator[Served]:
    """A seeded memory file behind a running server."""
    db = tmp_path / "served.db"
    seed(db)
    server = Served(db, socket_dir)
    yield server
    server.stop()
