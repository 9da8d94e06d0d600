"""The ``memactor`` command: ``demo``, ``bench``, ``serve``, ``mcp``, ``reindex``, ``import-graph``, ``upgrade``,
the operations and ``--version``.

Each subcommand imports what it needs only when it runs, so ``import memactor`` stays light.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

# Subcommands run by `memactor.ops`: each registers its arguments in its own `_add_...` block below.
_OPERATIONS = frozenset({"stats", "export", "import", "backup", "check", "search"})


def _version() -> str:
    """The installed distribution's version; the package's own when run from a tree never installed."""
    try:
        return importlib.metadata.version("memactor")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sys.modules["memactor"], "__version__", "unknown"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memactor", description="Shared, durable memory for concurrent agents.")
    parser.add_argument("--version", action="version", version=f"memactor {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run simulated agents sharing one memory file, with live progress")
    demo.add_argument("--agents", type=int, default=20, help="concurrent agents (default 20)")
    demo.add_argument("--seconds", type=float, default=5.0, help="how long the agents work (default 5)")
    demo.add_argument("--path", default=None, help="memory file (default: a new file in a temporary directory)")
    demo.add_argument("--durability", choices=("full", "normal"), default="full")

    commands.add_parser("bench", help="run the benchmark suite (see `memactor bench --help`)", add_help=False)

    serve = commands.add_parser("serve", help="serve one memory file to many processes over a socket")
    serve.add_argument(
        "path",
        nargs="?",
        default=None,
        help="the memory file (created if missing) or a postgresql:// URL (default: $MEMACTOR_DATABASE, where a "
        "URL's password stays out of ps)",
    )
    serve.add_argument(
        "--listen", default=None, help="unix:///path/to.sock (default: PATH.sock) or tcp://127.0.0.1:PORT"
    )
    serve.add_argument(
        "--token-file",
        action="append",
        help="a file of token specs NAME:SECRET[:ro][:NS1,NS2], one per line, mode 0600 (repeatable; TCP needs a "
        "token)",
    )
    serve.add_argument(
        "--token-env",
        action="append",
        metavar="VAR",
        help="an environment variable holding token specs, one per line (repeatable; MEMACTOR_TOKENS is read when set)",
    )
    serve.add_argument(
        "--token",
        action="append",
        help="NAME:SECRET[:ro][:NS1,NS2] (repeatable); visible to every local user in ps: prefer --token-file",
    )
    serve.add_argument("--allow-remote", action="store_true", help="allow TCP on a non-loopback address")
    serve.add_argument("--durability", choices=("full", "normal"), default="full")
    serve.add_argument("--max-size", type=int, default=None, help="quota of the memory file in bytes (default: none)")
    serve.add_argument(
        "--allow-foreign-tables",
        action="store_true",
        help="serve a SQLite file that also holds another application's tables (memactor adds its own beside them)",
    )
    serve.add_argument("--read-connections", type=int, default=1, help="read-only connections (default 1)")
    serve.add_argument("--max-connections", type=int, default=4096, help="connections at once (default 4096)")
    serve.add_argument("--max-in-flight", type=int, default=128, help="requests in flight per connection (default 128)")
    serve.add_argument(
        "--max-frame", type=int, default=64 * 1024 * 1024, help="largest frame in bytes (default 64 MiB)"
    )
    serve.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="shut down cleanly after SECONDS with no connected client (default: never)",
    )
    serve.add_argument(
        "--detach",
        action="store_true",
        help="serve in the background: return once the server listens (status 0), or with its exit status if "
        "it cannot start (3: the file is already open for writing by another process)",
    )
    _add_mcp(commands)
    _add_reindex(commands)
    _add_import_graph(commands)
    _add_stats(commands)
    _add_export(commands)
    _add_import(commands)
    _add_backup(commands)
    _add_check(commands)
    _add_search(commands)
    _add_upgrade(commands)
    return parser


def _add_target(command: Any) -> None:
    # The operations commands that work on a file or on a running server take the same two ways to name it.
    command.add_argument("path", nargs="?", default=None, help="the memory file (or give --url)")
    command.add_argument("--url", default=None, help="a running `memactor serve` instead (token from MEMACTOR_TOKEN)")


def _add_stats(commands: Any) -> None:
    stats = commands.add_parser(
        "stats", help="count records per store and namespace; file and WAL size, schema version, last writes"
    )
    _add_target(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _add_export(commands: Any) -> None:
    export = commands.add_parser("export", help="write every record and item as JSON lines (streamed)")
    _add_target(export)
    export.add_argument("-o", "--output", default=None, help="the JSONL file to write (default: stdout)")


def _add_import(commands: Any) -> None:
    load = commands.add_parser(
        "import", help="write a JSONL file of `memactor export` into a memory (atomic batches; safe to re-run)"
    )
    load.add_argument("path", nargs="?", default=None, help="the memory file (or give --url)")
    load.add_argument("file", help="the JSONL file")
    load.add_argument("--url", default=None, help="a running `memactor serve` instead (token from MEMACTOR_TOKEN)")


def _add_backup(commands: Any) -> None:
    copy = commands.add_parser("backup", help="copy a live memory file consistently while agents write")
    copy.add_argument("path", help="the memory file")
    copy.add_argument("dest", help="the copy to write")
    copy.add_argument("--force", action="store_true", help="replace DEST if it exists")


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check", help="integrity, schema version, text indexes, orphaned citations (exit 1 when not clean)"
    )
    check.add_argument("path", help="the memory file")


def _add_upgrade(commands: Any) -> None:
    upgrade = commands.add_parser(
        "upgrade", help="bring a memory file to this memactor's schema now, with progress (resumable)"
    )
    upgrade.add_argument("path", help="the memory file (not open for writing by another process)")


def _add_search(commands: Any) -> None:
    find = commands.add_parser("search", help="find records (or items) by text, best first")
    find.add_argument("path", nargs="?", default=None, help="the memory file (or give --url)")
    find.add_argument("text", help="free text; empty for the newest records")
    find.add_argument("--url", default=None, help="a running `memactor serve` instead (token from MEMACTOR_TOKEN)")
    find.add_argument(
        "--kind",
        action="append",
        choices=("episode", "fact", "skill", "item"),
        help="search only this kind (repeatable; default: episodes, facts and skills)",
    )
    find.add_argument("--agent-id", default=None, help="only records of this agent")
    find.add_argument("--namespace", default=None, help="only this namespace (items: this prefix, labels joined by .)")
    find.add_argument("--limit", type=int, default=10, help="at most this many results (default 10)")
    find.add_argument("--json", action="store_true", help="one JSON object per result")


def _add_import_graph(commands: Any) -> None:
    graph = commands.add_parser(
        "import-graph", help="load the JSONL file of @modelcontextprotocol/server-memory into a memory (extra `mcp`)"
    )
    graph.add_argument("file", help="the reference server's memory.jsonl")
    graph.add_argument("path", nargs="?", default=None, help="the memory file (default: the one `memactor mcp` uses)")
    graph.add_argument("--url", default=None, help="import through a running `memactor serve` at this URL instead")
    graph.add_argument(
        "--namespace", default=None, help="the namespace `memactor mcp --tools reference` serves (default: as it)"
    )


def _import_graph(args: argparse.Namespace) -> int:
    try:
        from .mcp.graphfile import import_command
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in ("mcp", "mcp_types"):
            raise
        print("memactor import-graph: the MCP SDK is not installed: pip install 'memactor[mcp]'", file=sys.stderr)
        return 2
    return import_command(args)


def _add_reindex(commands: Any) -> None:
    from .embed.spec import SPEC_HELP  # the one list of embedder specs (numpy is not imported by it)

    reindex = commands.add_parser(
        "reindex",
        help="give a memory's records their vectors (those without one, or --all); resumable",
    )
    reindex.add_argument("path", help="the memory file, or a postgresql:// URL (opened directly, no server)")
    reindex.add_argument(
        "--embedder",
        required=True,
        metavar="SPEC",
        help=SPEC_HELP,
    )
    reindex.add_argument("--batch", type=int, default=64, help="records per embedding call and write (default 64)")
    reindex.add_argument(
        "--all", dest="every", action="store_true", help="re-embed every record, not only those without a vector"
    )
    reindex.add_argument(
        "--switch",
        action="store_true",
        help="move the memory to this embedder (another than its own): embed every record into a stage, then swap"
        " them in at once; searches use the old vectors until then; resumable",
    )


def _add_mcp(commands: Any) -> None:
    # Options are registered by memactor.mcp only when that subcommand runs: its SDK is an optional extra.
    commands.add_parser(
        "mcp", help="serve memory tools to MCP clients (stdio, or --http; see `memactor mcp --help`)", add_help=False
    )


def _mcp(argv: list[str]) -> int:
    try:
        from .mcp.command import add_arguments, mcp_command
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in ("mcp", "mcp_types"):
            raise
        print("memactor mcp: the MCP SDK is not installed: pip install 'memactor[mcp]'", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="memactor mcp", description="Serve memactor's memory tools over MCP.")
    add_arguments(parser)
    return mcp_command(parser.parse_args(argv))


def _bench(argv: list[str]) -> int:
    # The benchmark suite is not part of the wheel (a top-level `bench` package would collide with anything
    # of that name); it runs from a source checkout, where it sits beside the `memactor` package.
    checkout = Path(__file__).resolve().parent.parent
    in_checkout = (checkout / "pyproject.toml").is_file() and (checkout / "bench" / "__init__.py").is_file()
    spec = importlib.util.find_spec("bench") if in_checkout else None
    if spec is None or spec.origin is None or Path(spec.origin).resolve().parent.parent != checkout:
        print(
            "memactor bench: the benchmark suite is not installed with memactor; run `python -m bench` "
            "from a source checkout of memactor (git clone, then pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return 2
    from bench import main as bench_main

    return int(bench_main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    if argv[:1] == ["mcp"]:
        return _mcp(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo.run import run_demo

        return int(run_demo(agents=args.agents, seconds=args.seconds, path=args.path, durability=args.durability))
    if args.command == "serve":
        from .net.daemon import serve_command

        return serve_command(args)
    if args.command == "import-graph":
        return _import_graph(args)
    if args.command in _OPERATIONS:
        from .ops.command import run

        return run(args)
    if args.command == "reindex":
        from .net.reindexcmd import reindex_command

        return reindex_command(args)
    if args.command == "upgrade":
        from .ops.upgrade import upgrade_command

        return upgrade_command(args)
    return 2
