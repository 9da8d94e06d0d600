"""The ``memactor serve`` process: open the file, listen, serve until SIGTERM or SIGINT, drain, exit.

With ``--idle-exit SECONDS`` it also leaves, the same clean way, once no client has been connected for that
long. With ``--detach`` the command returns as soon as the server listens (status 0), while the server goes
on in a process of its own; if the server cannot start, the command exits with the server's own status.
`ALREADY_SERVED` (3) means another process already writes the file, which a client starting servers on
demand (`memactor.net.autostart`) reads as "lost the election", not as a failure.

The memory may also be named by the environment variable ``MEMACTOR_DATABASE`` instead of the command line,
where every local user can read it (``ps``): a ``postgresql://`` URL with a password goes there (servers
started on demand get theirs that way). The server removes it from its environment once read, so nothing it
starts inherits it.

The file is opened before the socket is bound, so a second ``serve`` of the same file stops at the
writer lock (`AlreadyOpenError`) without touching the first one's socket. On a signal the server stops
accepting and reading, answers the requests in flight, and the `Memory` handle then commits everything
still queued, checkpoints the WAL and closes.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import stat
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from ..actor.memory import Durability, Memory
from ..engine import redacted
from ..engines import POSTGRES_SCHEMES
from ..errors import AlreadyOpenError, InvalidInputError, MemactorError
from .connection import Limits
from .scope import Token
from .server import Server

__all__ = ["ALREADY_SERVED", "DATABASE_ENV", "TOKENS_ENV", "read_tokens", "run", "serve_command"]

log = logging.getLogger("memactor.net.server")


TOKENS_ENV = "MEMACTOR_TOKENS"
# Where ``memactor serve`` finds its memory file or database URL when the command line names none.
DATABASE_ENV = "MEMACTOR_DATABASE"

# Exit status of a ``serve`` that found its file already open for writing by another process.
ALREADY_SERVED = 3
_SPEC_FORM = "NAME:SECRET[:ro][:NS1,NS2]"


def read_tokens(
    specs: Sequence[str] = (),
    files: Sequence[str] = (),
    env_vars: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[Token]:
    """Parse token specs from ``--token``, ``--token-file`` files, and environment variables.

    Files and variables hold one spec per line (``#`` starts a comment line). ``MEMACTOR_TOKENS`` is
    read when set, besides the variables named in ``env_vars``. An error never shows a spec: it may
    hold a secret.

    Args:
        specs: ``--token`` values.
        files: Token files; each must be readable by its owner only (mode 0600 or 0400).
        env_vars: Names of environment variables that hold specs.
        environ: The environment (default `os.environ`).

    Raises:
        InvalidInputError: a malformed spec, a token file others can read, a variable that is not set,
            or two tokens with the same name.
    """
    environ = os.environ if environ is None else environ
    sources = [(f"--token #{n}", spec) for n, spec in enumerate(specs, 1)]
    for name in files:
        sources += _lines(name, _read_private(name))
    for var in [*env_vars, *([TOKENS_ENV] if TOKENS_ENV in environ and TOKENS_ENV not in env_vars else [])]:
        if var not in environ:
            raise InvalidInputError(f"--token-env {var}: the environment variable {var} is not set")
        sources += _lines(f"${var}", environ[var])
    tokens = [_parse(source, spec) for source, spec in sources]
    names = [token.grant.name for token in tokens]
    if len(set(names)) != len(names):
        raise InvalidInputError("two tokens share a name")
    return tokens


def _lines(source: str, text: str) -> list[tuple[str, str]]:
    return [
        (f"{source} line {n}", line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _read_private(name: str) -> str:
    with open(name) as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & 0o077:
            raise InvalidInputError(
                f"token file {name} is open to other users (mode {stat.S_IMODE(mode):04o}): run chmod 600 {name}"
            )
        return file.read()


def _parse(source: str, spec: str) -> Token:
    try:
        return Token.parse(spec)
    except InvalidInputError as exc:
        # The parser names the token, and a spec without its colons has the secret where the name goes.
        reason = str(exc).split(": ", 1)[-1]
        raise InvalidInputError(
            f"{source}: malformed token spec ({reason}); expected {_SPEC_FORM} (the spec is not shown: it may "
            "hold a secret)"
        ) from None


async def run(
    path: str,
    listen: str,
    *,
    tokens: Sequence[Token] = (),
    allow_remote: bool = False,
    durability: Durability = "full",
    max_size: int | None = None,
    read_connections: int = 1,
    max_connections: int = 4096,
    limits: Limits | None = None,
    grace: float = 10.0,
    idle_exit: float | None = None,
    allow_foreign_tables: bool = False,
    ready: Callable[[str], object] = lambda url: None,
) -> None:
    """Serve ``path`` on ``listen`` until SIGTERM or SIGINT, then shut down gracefully.

        ``max_size`` is the file's quota in bytes (see `memactor.open`); only an unrestricted token may
        change it while the server runs. ``idle_exit``: also shut down, the same way, after that many seconds
        without a connected client. ``allow_foreign_tables``: serve a SQLite file that also holds another
    application's tables (see `memactor.open`). ``ready`` is called with the URL once the server listens.

        Raises:
            AlreadyOpenError: another process writes (or serves) this file.
            OSError: the address is taken or cannot be bound.
            InvalidInputError: a bad option (e.g. TCP without a token, or ``idle_exit`` not above 0).
    """
    if idle_exit is not None and not idle_exit > 0:
        raise InvalidInputError(f"--idle-exit must be a positive number of seconds, not {idle_exit}")
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with Memory(
            path,
            durability=durability,
            max_size=max_size,
            read_connections=read_connections,
            allow_foreign_tables=allow_foreign_tables,
        ) as memory:
            server = Server(
                memory, listen, tokens=tokens, allow_remote=allow_remote, max_connections=max_connections, limits=limits
            )
            url = await server.bind()
            async with anyio.create_task_group() as group:
                group.start_soon(server.serve)
                print(f"memactor: serving {memory.path} on {url}", file=sys.stderr, flush=True)
                ready(url)
                async with anyio.create_task_group() as reasons:
                    reasons.start_soon(_first_signal, signals, reasons.cancel_scope)
                    if idle_exit is not None:
                        reasons.start_soon(_idle, server, idle_exit, reasons.cancel_scope)
                await server.shutdown(grace)
    log.info("stopped; everything acknowledged is committed")


async def _first_signal(signals: AsyncIterator[int], done: anyio.CancelScope) -> None:
    async for signum in signals:
        log.info("signal %s: draining and shutting down", signal.Signals(signum).name)
        break
    done.cancel()


async def _idle(server: Server, seconds: float, done: anyio.CancelScope) -> None:
    await server.wait_idle(seconds)
    log.info("no client for %g s: draining and shutting down", seconds)
    done.cancel()


def _raise_fd_limit() -> None:
    # Each connection is a file descriptor: take the hard limit the system allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def serve_command(args: object) -> int:
    """Run ``memactor serve`` from parsed command-line arguments; returns the exit status."""
    options = vars(args)
    # Read (and removed) before a detached server forks, so neither process passes it on.
    from_environment = os.environ.pop(DATABASE_ENV, "")
    named = options.get("path")
    options["path"] = named or from_environment
    if not options["path"]:
        print(f"memactor serve: name the memory file or database URL, or set {DATABASE_ENV}", file=sys.stderr)
        return 2
    if named and named.startswith(POSTGRES_SCHEMES) and redacted(named) != named:
        print(
            "memactor serve: warning: the database URL's password is visible to every local user in ps; set "
            f"{DATABASE_ENV} to the URL instead, or keep the password in PGPASSWORD or ~/.pgpass",
            file=sys.stderr,
        )
    if options.get("detach"):
        return _detached(lambda ready: _serve(options, ready))
    return _serve(options, lambda url: None)


def _detached(serve: Callable[[Callable[[str], object]], int]) -> int:
    """Serve in a forked child; return 0 once it listens, or its exit status if it stops before that."""
    # Forked before any thread or event loop exists. The pipe is the readiness signal: the child writes
    # to it once bound; its end closes without a byte if the child exits first.
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(readable)
        os.setsid()  # outlives the command's session and terminal

        def ready(url: str) -> None:
            os.write(writable, b"1")
            os.close(writable)

        return serve(ready)
    os.close(writable)
    with open(readable, "rb") as signal_end:
        listening = signal_end.read(1)
    if listening:
        return 0
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _default_listen(path: str) -> str:
    if path.startswith(POSTGRES_SCHEMES):
        raise InvalidInputError(
            "a database URL has no file to put the socket beside: give --listen unix:///path/to.sock (or "
            "tcp://127.0.0.1:PORT with a token)"
        )
    return f"unix://{Path(path).resolve()}.sock"


def _serve(options: dict[str, Any], ready: Callable[[str], object]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _raise_fd_limit()
    try:
        listen = options["listen"] or _default_listen(options["path"])
        if options["token"]:
            print(
                "memactor serve: warning: --token shows its secret to every local user (ps); use --token-file "
                f"FILE (mode 0600) or the environment variable {TOKENS_ENV} instead",
                file=sys.stderr,
            )
        tokens = read_tokens(options["token"] or (), options["token_file"] or (), options["token_env"] or ())
        limits = Limits(max_in_flight=options["max_in_flight"], max_frame=options["max_frame"])
        anyio.run(
            lambda: run(
                options["path"],
                listen,
                tokens=tokens,
                allow_remote=options["allow_remote"],
                durability=options["durability"],
                max_size=options["max_size"],
                read_connections=options["read_connections"],
                max_connections=options["max_connections"],
                limits=limits,
                idle_exit=options.get("idle_exit"),
                allow_foreign_tables=options.get("allow_foreign_tables", False),
                ready=ready,
            ),
            backend="asyncio",
        )
    except AlreadyOpenError as exc:
        print(f"memactor serve: {exc}", file=sys.stderr)
        return ALREADY_SERVED
    except (MemactorError, OSError) as exc:
        print(f"memactor serve: {exc}", file=sys.stderr)
        return 1
    return 0
