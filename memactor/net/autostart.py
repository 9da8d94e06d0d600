"""`connect_or_start`: reach the one ``memactor serve`` of a memory file, starting it when none runs.

Many processes (MCP clients, scripts) may each want to write one file; only one process may (see the
writer lock in `memactor.sqlite.filelock`). So none of them opens it: each connects to the file's server,
and the first to find none starts it, detached, with an idle exit so it does not outlive its clients.

- **One socket per file.** The socket is named after the file's device and inode (the file is created
  first if missing), so every spelling of one file (relative, absolute, through symlinks, hard links)
  leads to one socket. It lives in the user's runtime directory: ``$XDG_RUNTIME_DIR/memactor/``, or else
  ``<temp dir>/memactor-<uid>/``, created mode 0700 and refused unless owned by this user and closed to
  everyone else.
- **One server, however many start at once.** Starting is an election: a client holds an ``flock`` on
  ``<socket>.start.lock`` while it checks for a server, spawns one and waits for it to listen, so clients
  arriving meanwhile wait and then find it. The server's own writer lock is the last guard: a server that
  finds the file already written exits with `ALREADY_SERVED`, and its client looks for the running server
  in every runtime directory this user may have (another client may see another ``$XDG_RUNTIME_DIR``).
- **A killed server is restarted** by the next client that needs it: a handle from `connect_or_start`
  runs the same start when its reconnect finds nobody listening. Every acknowledged write was committed
  before its acknowledgement, and the new server reopens the file.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from ..actor.blocking import SyncHandle
from ..engine import redacted
from ..engines import POSTGRES_SCHEMES
from ..errors import AlreadyOpenError, ConnectionLostError
from .client import RemoteMemory
from .daemon import ALREADY_SERVED, DATABASE_ENV, TOKENS_ENV

__all__ = ["connect_or_start", "connect_or_start_sync", "runtime_dir", "socket_path"]

# sun_path holds 108 bytes with the terminating NUL.
_SOCKET_PATH_MAX = 107
# The log keeps only the latest servers' lines once it passes this size.
_LOG_MAX = 1024 * 1024
_LOG_TAIL = 2000


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The private directory of this user's server sockets, created if missing.

    Raises:
        PermissionError: the directory is not a directory owned by this user and closed to others.
    """
    return _private_dir(_runtime_dirs(os.environ if environ is None else environ)[0])


def _runtime_dirs(environ: Mapping[str, str]) -> list[Path]:
    """Where sockets may be, in order of preference."""
    fallback = Path(tempfile.gettempdir()) / f"memactor-{os.getuid()}"
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return [Path(xdg) / "memactor", fallback]
    return [fallback]


def _private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    if not _is_private(path):
        info = os.lstat(path)
        raise PermissionError(
            f"{path} must be a directory owned by you with mode 0700 (it holds the sockets of your memactor "
            f"servers); it is not (mode {stat.S_IMODE(info.st_mode):04o}, owner uid {info.st_uid}): remove it, or "
            "set XDG_RUNTIME_DIR to a private directory of yours"
        )
    return path


def _is_private(path: Path) -> bool:
    try:
        info = os.lstat(path)  # lstat: a symlink planted here by someone else is refused, not followed
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _identity(database: str) -> tuple[int, int]:
    """The file's (device, inode), creating it empty first if it is missing."""
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        pass  # already there (or created meanwhile by another client): its identity is what counts
    info = os.stat(database)
    return info.st_dev, info.st_ino


def _socket_name(database: str) -> str:
    device, inode = _identity(database)
    return hashlib.sha256(f"{device}:{inode}".encode()).hexdigest()[:20] + ".sock"


def _served(path: str | os.PathLike[str]) -> str:
    """What the server opens: a PostgreSQL URL as it is, a file by its real path (one server per file, whatever
    its spelling)."""
    target = os.fspath(path)
    return target if target.startswith(POSTGRES_SCHEMES) else os.path.realpath(target)


def socket_path(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Path:
    """The socket of the server of the memory file ``path`` (which is created, empty, if missing), or of the
    PostgreSQL database a ``postgresql://`` URL names (one socket per URL, nothing created).

    Raises:
        PermissionError: the runtime directory is not private (see `runtime_dir`).
        OSError: the file cannot be created, or the socket path is too long for a Unix socket.
    """
    served = _served(path)
    if served.startswith(POSTGRES_SCHEMES):
        # A hash of the whole URL: the same URL from every client finds one server; nothing of it is readable.
        name = hashlib.sha256(f"url:{served}".encode()).hexdigest()[:20] + ".sock"
    else:
        name = _socket_name(served)
    sock = runtime_dir(environ) / name
    if len(os.fsencode(sock)) > _SOCKET_PATH_MAX:
        raise OSError(
            f"the socket path {sock} is longer than a Unix socket allows ({_SOCKET_PATH_MAX} bytes): set "
            "XDG_RUNTIME_DIR (or TMPDIR) to a shorter directory"
        )
    return sock


def _answers(sock: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(5.0)
    try:
        probe.connect(os.fspath(sock))
    except (FileNotFoundError, ConnectionRefusedError):
        return False  # no socket, or one left behind by a server that died
    finally:
        probe.close()
    return True


class _Starter:
    """Finds or starts the server of one file; calling it returns the URL where a server answers."""

    def __init__(self, database: str, sock: Path, idle_exit: float | None, timeout: float) -> None:
        self.database = database
        self.socket = sock
        self.log = sock.with_suffix(".log")
        self._idle_exit = idle_exit
        self._timeout = timeout

    async def __call__(self) -> str:
        return await anyio.to_thread.run_sync(self.ensure)

    def ensure(self) -> str:
        """Connect-or-start, under the election lock (blocking).

        Raises:
            ConnectionLostError: the server did not start within the timeout; the message ends with its log.
            AlreadyOpenError: another process, not a server this user's clients can find, writes the file.
        """
        lock = os.open(f"{self.socket}.start.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._find_or_start(time.monotonic() + self._timeout)
        finally:
            os.close(lock)  # releases the flock

    def _find_or_start(self, deadline: float) -> str:
        delay = 0.05
        while True:
            url = self._running()
            if url is not None:
                return url
            status = self._spawn()
            if status == 0:
                return f"unix://{self.socket}"  # it listened when it said so; if it died since, the client restarts it
            if status != ALREADY_SERVED:
                raise ConnectionLostError(
                    f"the memactor server for {redacted(self.database)} failed to start; {self._tail()}"
                )
            # Another process writes the file: a server seen in no runtime directory of ours yet, or one
            # still draining after its idle exit. Look again, until the deadline (each spawn has its own).
            if time.monotonic() + delay > deadline:
                raise AlreadyOpenError(
                    f"{redacted(self.database)} is open for writing by another process that serves no socket memactor "
                    f"can find; connect to that process's server with memactor.connect, or stop it; {self._tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _running(self) -> str | None:
        for directory in _runtime_dirs(os.environ):
            sock = directory / self.socket.name
            if _is_private(directory) and _answers(sock):
                return f"unix://{sock}"
        return None

    def _spawn(self) -> int:
        """Run ``memactor serve --detach`` and return its status: 0 once the server listens."""
        # Not the caller's tokens: they are for its own listeners (`memactor mcp --http`, say). This server is
        # reached by its owner alone, through a private socket, and with tokens it would refuse every client
        # that reaches it this way, without one.
        env = {key: value for key, value in os.environ.items() if key not in (TOKENS_ENV, DATABASE_ENV)}
        named: list[str] = [self.database]  # a file's path stays in sight, as `memactor serve PATH` shows it
        if self.database.startswith(POSTGRES_SCHEMES):
            # A URL may hold a password: a command line is readable by every local user (ps), a process's
            # environment by its owner alone.
            env[DATABASE_ENV] = self.database
            named = []
        command = [sys.executable, "-m", "memactor", "serve", *named, "--listen", f"unix://{self.socket}"]
        if self._idle_exit is not None:
            command += ["--idle-exit", repr(self._idle_exit)]
        with self._open_log() as log:
            process = subprocess.Popen(
                [*command, "--detach"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        try:
            return process.wait(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ConnectionLostError(
                f"the memactor server for {redacted(self.database)} did not listen within {self._timeout:g} s; "
                f"{self._tail()}"
            ) from None

    def _open_log(self) -> Any:
        descriptor = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if os.fstat(descriptor).st_size > _LOG_MAX:
            os.ftruncate(descriptor, 0)
        return open(descriptor, "ab")

    def _tail(self) -> str:
        try:
            with open(self.log, "rb") as log:
                log.seek(max(os.fstat(log.fileno()).st_size - _LOG_TAIL, 0))
                return f"its log ({self.log}) ends with:\n{log.read().decode(errors='replace')}"
        except OSError as exc:
            return f"its log ({self.log}) cannot be read: {exc}"


async def connect_or_start(
    path: str | os.PathLike[str],
    *,
    idle_exit: float | None = 300.0,
    local_reads: bool = False,
    start_timeout: float = 15.0,
    **connect_options: Any,
) -> RemoteMemory:
    """A handle on the server of the memory file ``path``, started (detached) first if none runs.

    The server is running when this returns; the handle is not yet open: use it as
    ``async with await connect_or_start(path) as mem:``. If the server is gone when the handle connects
    or reconnects (killed, or left after its idle period), the handle starts a new one.

    Args:
        path: The memory file (created, empty, if missing). Any spelling of one file reaches one server.
        idle_exit: Seconds a server started here waits with no client before it shuts down cleanly
            (None: never). A server already running keeps its own setting.
        local_reads: Read the file through this process's own read-only pool (see `memactor.connect`).
        start_timeout: Seconds to wait for a new server to listen.
        **connect_options: More options of `memactor.connect` (``retry_window``, ``connect_timeout``,
            ``read_connections``, ``embedder``).

    Returns:
        A `RemoteMemory` handle, not yet entered.

    Raises:
        PermissionError: the runtime directory is not private to this user.
        ConnectionLostError: a new server did not start; the message ends with its log.
        AlreadyOpenError: another process, not a server these clients can find, writes the file.
        OSError: the file cannot be created, or the socket path is too long.
    """
    database = _served(path)
    sock = await anyio.to_thread.run_sync(socket_path, database)
    starter = _Starter(database, sock, idle_exit, start_timeout)
    url = await starter()
    return RemoteMemory(url, local_reads=local_reads, start_server=starter, **connect_options)


def connect_or_start_sync(path: str | os.PathLike[str], **options: Any) -> SyncHandle:
    """`connect_or_start` for blocking code; takes the same options.

    The handle is open on return. Use it in a ``with`` block, or keep it and call ``close()`` when done;
    one never closed is closed at interpreter exit.

    Returns:
        A blocking `RemoteMemory`, open: the same stores and methods, each call blocking until done.
    """
    return SyncHandle(functools.partial(connect_or_start, path, **options), f"the handle on the server of {path}")
