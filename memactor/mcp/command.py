"""``memactor mcp``: serve the memory tools to an MCP client over stdio, or over streamable HTTP.

The handle comes from `_open_handle`: ``--url`` reaches a running ``memactor serve``; otherwise the file's
own server (by default for the per-user data file) is reached, or started on demand if none runs, so this
process never writes the file itself. Over HTTP, off loopback, every request
needs a bearer token (the token specs of ``memactor serve``); on loopback, tokens are used when given.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp.server.auth.settings import AuthSettings

from ..embed.protocol import Embedder
from ..embed.spec import SPEC_HELP, embedder_from_spec
from ..engines import POSTGRES_SCHEMES
from ..errors import InvalidInputError, MemactorError
from ..net.autostart import connect_or_start
from ..net.client import RemoteMemory, connect
from ..net.daemon import DATABASE_ENV, read_tokens
from .auth import GrantVerifier
from .reference import build_reference_server
from .tools import build_server

__all__ = ["AGENT_ID_ENV", "NAMESPACE_ENV", "add_arguments", "default_path", "mcp_command"]

AGENT_ID_ENV = "MEMACTOR_AGENT_ID"
NAMESPACE_ENV = "MEMACTOR_NAMESPACE"


def default_path() -> Path:
    """The per-user memory file: ``$XDG_DATA_HOME/memactor/memory.db`` or ``~/.local/share/memactor/memory.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "memactor" / "memory.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memactor mcp``."""
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        help=f"the memory file, or a postgresql:// URL (default: ${DATABASE_ENV}, where a URL's password stays"
        f" out of ps, else {default_path()})",
    )
    parser.add_argument("--url", default=None, help="use a running `memactor serve` at this URL instead of a file")
    parser.add_argument("--http", default=None, metavar="HOST:PORT", help="serve streamable HTTP at /mcp, not stdio")
    parser.add_argument("--allow-remote", action="store_true", help="allow --http on a non-loopback address")
    parser.add_argument(
        "--agent-id",
        default=os.environ.get(AGENT_ID_ENV),
        help=f"agent id of every record written (env {AGENT_ID_ENV})",
    )
    parser.add_argument(
        "--namespace",
        default=os.environ.get(NAMESPACE_ENV) or "default",
        help=f"the namespace the tools read and write (env {NAMESPACE_ENV}; default: default)",
    )
    parser.add_argument(
        "--tools",
        choices=("native", "reference"),
        default="native",
        help="native: memactor's memory tools (default); reference: the knowledge-graph tools of "
        "@modelcontextprotocol/server-memory, as a drop-in that many clients can share",
    )
    parser.add_argument(
        "--embedder",
        default=None,
        metavar="SPEC",
        help=f"recall by meaning too (hybrid search); the vectors are made in this process. SPEC: {SPEC_HELP}",
    )
    parser.add_argument("--token-file", action="append", help="--http: a file of token specs, as for serve")
    parser.add_argument("--token-env", action="append", metavar="VAR", help="--http: a variable of token specs")
    parser.add_argument("--token", action="append", help="--http: NAME:SECRET[:ro][:NS1,NS2] (visible in ps)")


@asynccontextmanager
async def _open_handle(args: argparse.Namespace, embedder: Embedder | None = None) -> AsyncIterator[RemoteMemory]:
    """The handle the tools use, open for the duration of the block, making vectors with ``embedder``."""
    if args.url is not None:
        async with connect(args.url, embedder=embedder) as remote:
            yield remote
        return
    path: str | Path
    # From the environment, a database URL's password stays out of this process's command line (`ps`).
    named = args.path if args.path is not None else os.environ.get(DATABASE_ENV) or None
    if named is not None and named.startswith(POSTGRES_SCHEMES):
        path = named  # a PostgreSQL database: its server is started the same way, keyed by the URL
    else:
        path = Path(named) if named is not None else default_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Never the file itself: every MCP client of a machine has a process of its own, and they share the
    # file's one `memactor serve` (started on demand, leaving once idle) so that there is one writer. Reads go
    # to the file directly (`local_reads`): recalls are faster that way (`python -m bench.mcp_bench`), and reads
    # still see every write acknowledged before them.
    async with await connect_or_start(path, local_reads=True, embedder=embedder) as remote:
        yield remote


def _address(text: str, allow_remote: bool) -> tuple[str, int, bool]:
    """Split ``HOST:PORT`` and tell whether it is loopback."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInputError(f"--http {text}: expected HOST:PORT, such as 127.0.0.1:8765")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise InvalidInputError(f"--http {text}: not a loopback address; add --allow-remote (and a token) to serve it")
    return host, int(port), loopback


def _auth(args: argparse.Namespace, host: str, port: int, loopback: bool) -> dict[str, Any]:
    tokens = read_tokens(args.token or (), args.token_file or (), args.token_env or ())
    if not tokens:
        if not loopback:
            raise InvalidInputError("--http off loopback needs a token: --token-file FILE or MEMACTOR_TOKENS")
        return {}
    # No OAuth server exists here: the issuer is this server, and no metadata route is published.
    settings = AuthSettings(issuer_url=f"http://{host}:{port}", resource_server_url=None)  # type: ignore[arg-type]
    return {"token_verifier": GrantVerifier(tokens, args.namespace), "auth": settings}


async def _serve(args: argparse.Namespace) -> None:
    http = _address(args.http, args.allow_remote) if args.http else None
    auth = _auth(args, *http) if http else {}
    # Built in a thread: an HTTP embedder asks its endpoint for the dimension.
    embedder = None if args.embedder is None else await anyio.to_thread.run_sync(embedder_from_spec, args.embedder)
    async with _open_handle(args, embedder) as handle:
        if args.tools == "reference":
            server = build_reference_server(handle, namespace=args.namespace, **auth)
        else:
            server = build_server(handle, agent_id=args.agent_id, namespace=args.namespace, **auth)
        if http is None:
            await server.run_stdio_async()
        else:
            print(f"memactor: MCP over HTTP at http://{args.http}/mcp", file=sys.stderr, flush=True)
            await server.run_streamable_http_async(host=http[0], port=http[1])


def mcp_command(args: argparse.Namespace) -> int:
    """Run ``memactor mcp`` from parsed arguments; returns the exit status."""
    try:
        anyio.run(_serve, args, backend="asyncio")
    except (MemactorError, OSError) as exc:
        print(f"memactor mcp: {exc}", file=sys.stderr)
        return 1
    return 0
