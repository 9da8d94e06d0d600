"""``memactor upgrade PATH``: bring a memory file to this memactor's schema now, with progress shown.

Opening a file for writing migrates it too, while `open()` waits and logs; this runs the same migration
(`memactor.sqlite.schema.migrate`) on its own, as the file's one writer (it takes the writer's lock, so a
file another process writes is refused), and shows how far each text index rebuild has come: a bar per
table on a terminal, a line per tenth otherwise. Interrupted by anything, even SIGKILL, it goes on from
where it stopped when run again (or when the file is next opened for writing). It runs on the main thread,
with no event loop, so Ctrl-C stops it between two statements (the chunk in flight rolls back).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from ..errors import AlreadyOpenError, MemactorError
from ..sqlite.filecheck import check_file
from ..sqlite.filelock import WriterLock
from ..sqlite.schema import configure_writer, migrate
from ..sqlite.textindex import Progress as Rebuilt
from .progress import Progress
from .target import existing_file

__all__ = ["TableBars", "Upgraded", "upgrade", "upgrade_command"]


@dataclass(frozen=True, slots=True)
class Upgraded:
    """What an upgrade did.

    Attributes:
        before: The file's schema version before.
        after: Its schema version now (this memactor's).
    """

    before: int
    after: int


class TableBars:
    """Shows a migration's progress reports: one `Progress` per table with rows to index, one after another.

    Use as a context manager and pass it as `migrate`'s ``progress`` callback.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._table: str | None = None
        self._bar: Progress | None = None

    def __call__(self, report: Rebuilt) -> None:
        if report.table != self._table:
            self._close()
            self._table = report.table
            if report.total > 0:  # an empty table has nothing worth a bar or a line
                every = max(1, report.total // 10)
                self._bar = Progress(f"upgrade {report.table}", "rows", report.total, self._stream, every).__enter__()
        if self._bar is not None and report.done > self._bar.done:
            self._bar.advance(report.done - self._bar.done)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> TableBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None


def upgrade(path: str | os.PathLike[str], bars: TableBars) -> Upgraded:
    """Migrate the memory file at ``path`` to this memactor's schema, reporting to ``bars``.

    Raises:
        InvalidInputError: no file at ``path``.
        NotAMemoryError: the file is not a memory (not SQLite, another application's, empty).
        AlreadyOpenError: another process writes the file (it migrated the file when it opened it).
        SchemaError: the file was written by a newer memactor.
        sqlite3.Error: SQLite failed; what was done so far stays, and the next run goes on from there.
    """
    file = str(existing_file(path))
    check_file(file, readonly=True)  # a memory already: upgrading never creates one
    lock = WriterLock(file)
    try:
        lock.acquire()
    except AlreadyOpenError:
        raise AlreadyOpenError(
            f"{file} is open for writing by another process, which upgraded it when it opened it: nothing to do"
            " (`memactor stats` shows its schema version)"
        ) from None
    try:
        conn = sqlite3.connect(file, isolation_level=None)
        try:
            before = conn.execute("PRAGMA user_version").fetchone()[0]
            configure_writer(conn, durability="full")
            migrate(conn, bars)
            return Upgraded(before, conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    finally:
        lock.release()


def upgrade_command(args: argparse.Namespace) -> int:
    """Run ``memactor upgrade PATH``; returns the exit status (130 when interrupted by Ctrl-C)."""
    try:
        with TableBars() as bars:
            done = upgrade(args.path, bars)
    except KeyboardInterrupt:
        print(
            f"memactor upgrade: interrupted; run it again (or open {args.path} for writing) to go on from where it"
            " stopped",
            file=sys.stderr,
        )
        return 130
    except (MemactorError, OSError, sqlite3.Error) as exc:
        print(f"memactor upgrade: {exc}", file=sys.stderr)
        return 1
    if done.before == done.after:
        print(f"{args.path}: schema version {done.after}, up to date")
    else:
        print(f"{args.path}: upgraded from schema version {done.before} to {done.after}")
    return 0
