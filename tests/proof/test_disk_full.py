"""Disk full: with the ``max_size`` quota, and with a real small filesystem (a tmpfs mounted for the test,
when it runs as root with ``mount``; skipped with the reason otherwise). Failing writes raise
`StorageFullError`, acknowledged data stays intact, a failed batch is invisible, and the same open
instance accepts writes again once space is freed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor import Episode, Fact, StorageFullError

BIG = "lorem ipsum dolor " * 1200  # ~21 KB of text, FTS-indexed


async def fill(mem: Any, acked: dict[str, Episode], limit: int = 5000) -> StorageFullError:
    """Add big episodes until the store is full; return the error. Acknowledged ones go to ``acked``."""
    for n in range(limit):
        record = Episode(task=f"fill {n}", outcome=BIG, metadata={"n": n})
        try:
            await mem.episodes.add(record)
        except StorageFullError as exc:
            return exc
        acked[record.id] = record
    raise AssertionError(f"{limit} big writes and the store is still not full")


async def check_intact(mem: Any, acked: dict[str, Episode]) -> None:
    found = {r.id: r for r in await mem.episodes.get_many(list(acked))}
    assert set(found) == set(acked), f"{len(set(acked) - set(found))} acknowledged records lost"
    assert all(found[i].user_fields() == acked[i].user_fields() for i in acked)


async def failing_batch_is_invisible(mem: Any) -> None:
    facts = [Fact(content=f"batch {i} {BIG}") for i in range(8)]
    with pytest.raises(StorageFullError):
        async with mem.batch() as b:
            b.facts.add_many(facts)
    assert await mem.facts.get_many([f.id for f in facts]) == []


def test_quota_full_then_freed_then_raised(tmp_path: Path) -> None:
    path = str(tmp_path / "quota.db")

    async def main() -> None:
        acked: dict[str, Episode] = {}
        async with memactor.open(path, max_size=1024 * 1024) as mem:
            error = await fill(mem, acked)
            assert "full" in str(error)
            assert len(acked) > 5
            await check_intact(mem, acked)
            await failing_batch_is_invisible(mem)
            # Other agents' small writes that still fit are not refused for the big one's sake... but when
            # the file is full, a small write may fail too: either way it is typed and nothing half-applied.
            # Freeing space (deletes work at the quota) lets the same instance write again.
            for record_id in list(acked)[: len(acked) // 2]:
                assert await mem.episodes.delete(record_id)
                del acked[record_id]
            more = Episode(task="after delete", outcome=BIG)
            await mem.episodes.add(more)
            acked[more.id] = more
            await fill(mem, acked)
            # Raising the quota also lets it write again.
            await mem.set_max_size(64 * 1024 * 1024)
            again = Episode(task="after raise", outcome=BIG)
            await mem.episodes.add(again)
            acked[again.id] = again
            await check_intact(mem, acked)
        async with memactor.open(path) as mem:
            await check_intact(mem, acked)
        assert os.path.getsize(path) <= 64 * 1024 * 1024

    anyio.run(main)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs mounted on a fresh directory, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a real full filesystem needs root to mount a small tmpfs (not running as root)")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("a real full filesystem needs the mount and umount commands, which are not installed")
    target = tmp_path / f"small-fs-{uuid.uuid4().hex[:8]}"
    target.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(target)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (mount said: {result.stderr.strip() or result.returncode})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def test_real_disk_full(small_filesystem: Path) -> None:
    path = str(small_filesystem / "full.db")
    ballast = small_filesystem / "ballast"

    async def main() -> None:
        acked: dict[str, Episode] = {}
        async with memactor.open(path) as mem:
            # Leave about 1.5 MiB free, so the database and its WAL hit the real end of the disk.
            stat = os.statvfs(small_filesystem)
            ballast.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - 1536 * 1024))
            error = await fill(mem, acked)
            assert isinstance(error, StorageFullError)
            await check_intact(mem, acked)
            await failing_batch_is_invisible(mem)
            ballast.unlink()  # space freed outside the database
            after = Episode(task="after the disk was freed", outcome=BIG)
            await mem.episodes.add(after)
            acked[after.id] = after
            await check_intact(mem, acked)
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
        async with memactor.open(path) as mem:
            await check_intact(mem, acked)

    anyio.run(main)


def test_close_on_a_full_disk_keeps_acknowledged_data(small_filesystem: Path) -> None:
    """Closing while the disk is still full: the checkpoint may not fit; nothing acknowledged is lost."""
    path = str(small_filesystem / "full.db")
    ballast = small_filesystem / "ballast"

    async def main() -> None:
        acked: dict[str, Episode] = {}
        async with memactor.open(path) as mem:
            stat = os.statvfs(small_filesystem)
            ballast.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - 1536 * 1024))
            await fill(mem, acked)
        ballast.unlink()
        async with memactor.open(path) as mem:
            await check_intact(mem, acked)

    anyio.run(main)
