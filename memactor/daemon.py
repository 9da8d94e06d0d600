"""The ``memactor serve`` process: open the file, listen, serve until SIGTERM or SIGINT, drain, exit.

The file is opened before the socket is bound, so a second ``serve`` of the same file stops at the
writer lock (`AlreadyOpenError`) without touching the first one's socket. On a signal the server stops
accepting and reading, answers the requests in flight, and the `Memory` handle then commits everything
still queued, checkpoints the WAL and closes.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio

from .connection import Limits
from .errors import InvalidInputError, MemactorError
from .memory import Durability, Memory
from .scope import Token
from .server import Server

__all__ = ["read_tokens", "run", "serve_command"]

log = logging.getLogger("memactor.server")


def read_tokens(specs: Sequence[str], files: Sequence[str]) -> list[Token]:
    """Parse ``--token`` specs and ``--token-file`` files (one spec per line, ``#`` comments).

    Raises:
        InvalidInputError: a malformed spec, or two tokens with the same name.
    """
    lines = list(specs)
    for name in files:
        lines += [
            line for line in Path(name).read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
    tokens = [Token.parse(line) for line in lines]
    names = [token.grant.name for token in tokens]
    if len(set(names)) != len(names):
        raise InvalidInputError("two tokens share a name")
    return tokens


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
) -> None:
    """Serve ``path`` on ``listen`` until SIGTERM or SIGINT, then shut down gracefully.

    ``max_size`` is the file's quota in bytes (see `memactor.open`); only an unrestricted token may
    change it while the server runs.

    Raises:
        AlreadyOpenError: another process writes (or serves) this file.
        OSError: the address is taken or cannot be bound.
        InvalidInputError: a bad option (e.g. TCP without a token).
    """
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with Memory(path, durability=durability, max_size=max_size, read_connections=read_connections) as memory:
            server = Server(
                memory, listen, tokens=tokens, allow_remote=allow_remote, max_connections=max_connections, limits=limits
            )
            url = await server.bind()
            async with anyio.create_task_group() as group:
                group.start_soon(server.serve)
                print(f"memactor: serving {memory.path} on {url}", file=sys.stderr, flush=True)
                async for signum in signals:
                    log.info("signal %s: draining and shutting down", signal.Signals(signum).name)
                    break
                await server.shutdown(grace)
    log.info("stopped; everything acknowledged is committed")


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _raise_fd_limit()
    options = vars(args)
    listen = options["listen"] or f"unix://{Path(options['path']).resolve()}.sock"
    try:
        tokens = read_tokens(options["token"] or (), options["token_file"] or ())
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
            ),
            backend="asyncio",
        )
    except (MemactorError, OSError) as exc:
        print(f"memactor serve: {exc}", file=sys.stderr)
        return 1
    return 0
