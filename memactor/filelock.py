"""One writer per file: an advisory lock on a sidecar ``<file>-writer.lock``.

The kernel releases a ``flock`` when its process dies, even by SIGKILL, so a crashed writer never leaves
the file locked. SQLite's own ``locking_mode=EXCLUSIVE`` is not used: it would lock out readers too.
"""

from __future__ import annotations

import fcntl
import os

from .errors import AlreadyOpenError

__all__ = ["WriterLock"]


class WriterLock:
    """Held by the one handle that writes ``path``."""

    def __init__(self, path: str) -> None:
        self.path = f"{path}-writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            AlreadyOpenError: another live process or handle holds it.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyOpenError(
                f"{self.path[: -len('-writer.lock')]} is already open for writing (pid {holder}); "
                "open it with readonly=True, or share it through `memactor serve`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
