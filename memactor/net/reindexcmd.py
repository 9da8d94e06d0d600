"""``memactor reindex PATH --embedder SPEC``: fill (or, ``--all``, replace) the vectors of a file's records;
with ``--switch``, move the file to another embedder (`memactor.actor.reindex.switch`).

It reaches the file's server as ``memactor mcp`` does (started on demand, see `memactor.net.autostart`),
so it runs beside the agents using the file; a ``postgresql://`` URL it opens itself (every process may write
to PostgreSQL), leaving no server behind. Vectors are made in this process. A progress bar (tqdm, of
the ``embed`` extra) on a terminal, a line per tenth done otherwise. Stopped, it resumes where it was
when run again: records that have a vector are skipped.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from ..actor.opening import open as open_memory
from ..actor.reindex import Reindexed, Switched, reindex, switch
from ..embed.coalesce import Coalescer
from ..embed.protocol import Embedder
from ..embed.spec import embedder_from_spec
from ..engines import POSTGRES_SCHEMES
from ..errors import MemactorError
from .autostart import connect_or_start

__all__ = ["reindex_command"]


class _Lines:
    """Progress as plain lines (not a terminal): one per tenth of the work."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self._said = 0

    def start(self, total: int) -> None:
        self.total = total
        print(f"memactor reindex: {total} records to embed", file=sys.stderr, flush=True)

    def update(self, count: int) -> None:
        self.done += count
        tenth = 10 * self.done // max(self.total, 1)
        if tenth > self._said:
            self._said = tenth
            print(f"memactor reindex: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _Bar:
    """Progress as a tqdm bar on the terminal."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, total: int) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

        self._bar = tqdm(total=total, unit="record", desc="reindex", file=sys.stderr)

    def update(self, count: int) -> None:
        self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


async def _opened(target: str, embedder: Embedder | None) -> Any:
    """The handle to reindex through: the database itself for a PostgreSQL URL, else the file's server."""
    if target.startswith(POSTGRES_SCHEMES):
        return open_memory(target, embedder=embedder)
    return await connect_or_start(target, embedder=embedder)


async def _run(args: argparse.Namespace) -> Reindexed | Switched:
    embedder = await anyio.to_thread.run_sync(embedder_from_spec, args.embedder)
    progress = _Bar() if sys.stderr.isatty() else _Lines()
    try:
        if args.switch:
            # Opened without an embedder: the file's is still the old one, which would refuse the new one.
            async with await _opened(args.path, None) as handle:
                return await switch(
                    handle, Coalescer(embedder), batch=args.batch, on_start=progress.start, on_batch=progress.update
                )
        async with await _opened(args.path, embedder) as handle:
            return await reindex(
                handle, every=args.every, batch=args.batch, on_start=progress.start, on_batch=progress.update
            )
    finally:
        progress.close()


def reindex_command(args: argparse.Namespace) -> int:
    """Run ``memactor reindex`` from parsed arguments; returns the exit status."""
    try:
        done = anyio.run(_run, args, backend="asyncio")
    except (MemactorError, OSError) as exc:
        print(f"memactor reindex: {exc}", file=sys.stderr)
        return 1
    if isinstance(done, Switched):
        old = "no embedder" if done.old is None else f"embedder {done.old[0]!r} (dim {done.old[1]})"
        print(f"memactor reindex: switched from {old} to {args.embedder}: {done.staged} vectors made", end="")
        left = done.missing - done.filled
        print(f"; {left} records changed meanwhile: run `memactor reindex` again for them" if left else "")
        return 0
    print(f"memactor reindex: {done.stored} vectors stored", end="")
    print(f"; {done.skipped} records changed meanwhile: run again for them" if done.skipped else "")
    return 0
