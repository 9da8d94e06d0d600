"""Run an operations command from parsed arguments: one line per error, exit status 0, 1 or 2."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from ..errors import MemactorError
from .backup import backup
from .check import check
from .export import export
from .importer import import_lines
from .progress import Progress
from .search import RECORD_KINDS, search
from .search import render as render_hits
from .stats import collect, file_facts, render
from .target import opened

__all__ = ["run"]


async def _stats(args: argparse.Namespace) -> int:
    async with opened(args.path, args.url, readonly=True) as handle:
        stats = await collect(handle)
    if args.path is not None:
        stats.file = file_facts(args.path)
    print(render(stats, args.json))
    return 0


async def _export(args: argparse.Namespace) -> int:
    async with opened(args.path, args.url, readonly=True) as handle:
        if args.output in (None, "-"):
            with Progress("export", "records") as progress:
                count = await export(handle, sys.stdout, progress)
        else:
            # Written beside the target and renamed at the end: an interrupted export leaves no half file.
            partial = Path(f"{args.output}.partial")
            with partial.open("w", encoding="utf-8") as out, Progress("export", "records") as progress:
                count = await export(handle, out, progress)
            partial.replace(args.output)
    print(f"exported {count} records and items to {args.output or 'stdout'}", file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> int:
    with Path(args.file).open(encoding="utf-8") as lines:
        async with opened(args.path, args.url, readonly=False) as handle:
            with Progress("import", "lines") as progress:
                done = await import_lines(handle, lines, progress)
    print(
        f"imported {done.records} records and {done.items} items from {args.file}"
        + (f"; {done.items_present} items were there already" if done.items_present else ""),
        file=sys.stderr,
    )
    return 0


async def _backup(args: argparse.Namespace) -> int:
    pages = backup(args.path, args.dest, force=args.force)
    print(f"backed up {args.path} to {args.dest} ({pages} pages, as of one commit)", file=sys.stderr)
    return 0


async def _check(args: argparse.Namespace) -> int:
    found = check(args.path)
    for problem in found:
        print(problem)
    print(f"{args.path}: {len(found)} problems" if found else f"{args.path}: ok")
    return 1 if found else 0


async def _search(args: argparse.Namespace) -> int:
    kinds = args.kind or list(RECORD_KINDS)
    async with opened(args.path, args.url, readonly=True) as handle:
        found = await search(handle, args.text, kinds, args.namespace, args.agent_id, args.limit)
    if found:
        print(render_hits(found, args.json))
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "stats": _stats,
    "export": _export,
    "import": _import,
    "backup": _backup,
    "check": _check,
    "search": _search,
}


def run(args: argparse.Namespace) -> int:
    """Run ``memactor <args.command>``; returns the exit status (1 with a one-line message on failure)."""
    command: Any = _COMMANDS[args.command]
    try:
        return int(anyio.run(command, args, backend="asyncio"))
    except (MemactorError, OSError, sqlite3.Error) as exc:
        print(f"memactor {args.command}: {exc}", file=sys.stderr)
        return 1
