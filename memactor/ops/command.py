"""Run an operations command from parsed arguments: one line per error, exit status 0, 1 or 2."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ..errors import MemactorError
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


_COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {"stats": _stats}


def run(args: argparse.Namespace) -> int:
    """Run ``memactor <args.command>``; returns the exit status (1 with a one-line message on failure)."""
    command: Any = _COMMANDS[args.command]
    try:
        return int(anyio.run(command, args, backend="asyncio"))
    except (MemactorError, OSError, sqlite3.Error) as exc:
        print(f"memactor {args.command}: {exc}", file=sys.stderr)
        return 1
