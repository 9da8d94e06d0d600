"""Servers started on demand by the code under test (`memactor.net.autostart`): find them, and clean up after."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def serve_pids(database: Path) -> list[int]:
    """Live ``memactor serve`` processes of ``database`` (by /proc: zombies and others excluded)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"serve" in args and os.fsencode(database.resolve()) in args:
            pids.append(int(entry.name))
    return sorted(pids)


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short directory holding the database and a private runtime directory; kills its servers after."""
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    root = Path(tempfile.mkdtemp(prefix="maa-", dir="/tmp"))
    (root / "run").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(root / "run"))
    yield root
    for pid in serve_pids(root / "memory.db"):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)
