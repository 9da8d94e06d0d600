"""One writer per file, whatever name it is opened by: an advisory lock on a sidecar, plus this process's
own record of the files it writes.

- The sidecar ``<resolved path>-writer.lock`` is named after the resolved path (symlinks, ``..`` and
  relative spellings all lead to one sidecar) and held with ``flock``. The kernel releases a ``flock``
  when its process dies, even by SIGKILL, so a crashed writer never leaves the file locked; a ``flock``
  belongs to one open file description, so a second handle in the same process is refused too.
- Hard links and bind mounts give one file several resolved paths. Within this process the writers are
  recorded by the database file's device and inode, so a second name is refused. Across processes a
  database with more than one hard link is refused outright: SQLite keeps its WAL beside the name it was
  given, so two names would mean two WALs for one file. (A bind mount seen by another process under
  another path is not covered.)

SQLite's own ``locking_mode=EXCLUSIVE`` is not used: it would lock out readers too. The database file itself
is never locked or held open here: closing any descriptor of a file drops every POSIX lock this process
holds on it, SQLite's included.
"""

from __future__ import annotations

import fcntl
import os
import threading

from ..errors import AlreadyOpenError, InvalidInputError

__all__ = ["WriterLock"]

# The files this process writes, by (device, inode). Process-wide on purpose, like the flock it mirrors;
# guarded by a lock because a writer's thread releases its entry as its last act.
_WRITING: dict[tuple[int, int], str] = {}
_GUARD = threading.Lock()


class WriterLock:
    """Held by the one handle that writes a database file."""

    def __init__(self, path: str) -> None:
        self.database = os.path.realpath(path)
        self.path = f"{self.database}-writer.lock"
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def acquire(self) -> None:
        """Take the lock without waiting; creates the (empty) database file if it is missing.

        Raises:
            AlreadyOpenError: another live process or handle holds it, under this name or another.
            InvalidInputError: the database file has more than one hard link.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyOpenError(
                f"{self.database} is already open for writing (pid {holder}); "
                "open it with readonly=True, or share it through `memactor serve`"
            ) from None
        try:
            self._identity = self._register()
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _register(self) -> tuple[int, int]:
        stat = _stat_or_create(self.database)
        identity = (stat.st_dev, stat.st_ino)
        with _GUARD:
            other = _WRITING.get(identity)
            if other is not None:
                raise AlreadyOpenError(
                    f"{self.database} is already open for writing in this process (as {other}); "
                    "share that handle, or open this one with readonly=True"
                )
            if stat.st_nlink > 1:
                raise InvalidInputError(
                    f"{self.database} has {stat.st_nlink} hard links: SQLite keeps its WAL beside each name, so "
                    "writing through two names can corrupt it; keep one name (remove the other links) or copy it"
                )
            _WRITING[identity] = self.database
        return identity

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the flock). Idempotent; any thread may call it."""
        with _GUARD:
            if self._identity is not None:
                _WRITING.pop(self._identity, None)
                self._identity = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        """This handle holds the lock now."""
        return self._fd is not None


def _stat_or_create(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        pass
    try:
        # A new, empty file is an empty SQLite database. It must exist to have an identity to record.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        pass  # created meanwhile by someone else: its identity is what counts
    return os.stat(path)
