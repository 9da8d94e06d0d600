"""``memactor backup``: a consistent copy of a live memory file, taken while its agents write.

SQLite's online backup API copies the file page by page from a read-only connection that holds one read
transaction for the whole copy: in WAL mode that transaction is a snapshot, so the copy is the database as
of one commit, whatever the writer commits meanwhile (and the writer never waits for it; only WAL
checkpoints cannot pass the snapshot until the copy ends). Chosen over ``VACUUM INTO``, which is as
consistent, because the copy goes in steps, which a progress bar can follow, and copies pages as they are
(``VACUUM INTO`` rebuilds every table and index, which costs more on a big file). The copy is written
beside ``DEST`` and renamed over it only when complete and synced, so a failed backup leaves no half file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import InvalidInputError
from .progress import Progress
from .target import existing_file

__all__ = ["STEP_PAGES", "backup", "read_only"]

# Pages per backup step: each step is one progress update (4 MiB at the default 4 KiB page).
STEP_PAGES = 1024


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path`` (it never writes, so it runs beside the file's writer)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(source: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool, label: str = "backup") -> int:
    """Copy the memory at ``source`` to ``dest`` as of one commit; returns the pages copied.

    Raises:
        InvalidInputError: no file at ``source``, or ``dest`` exists and ``force`` is false.
        sqlite3.Error, OSError: reading or writing failed (``dest`` is then untouched).
    """
    origin, target = existing_file(source), Path(dest)
    if target.exists() and not force:
        raise InvalidInputError(f"{target} exists: give --force to replace it, or another DEST")
    partial = target.with_name(f"{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = read_only(origin)
    try:
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # the snapshot starts here
        copied = _copy(src, partial, label)
    finally:
        src.close()
    _sync(partial)
    for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)  # a replaced file's WAL would be replayed into the copy
    partial.replace(target)
    return copied


def _copy(src: sqlite3.Connection, partial: Path, label: str) -> int:
    dst = sqlite3.connect(partial, isolation_level=None)
    try:
        with Progress(label, "pages") as progress:

            def step(status: int, remaining: int, total: int) -> None:
                progress.advance(total - remaining - progress.done)

            src.backup(dst, pages=STEP_PAGES, progress=step)
        return progress.done
    finally:
        dst.close()
