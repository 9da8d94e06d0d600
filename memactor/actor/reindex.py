"""`reindex`: give existing records their vectors (those without one, or every one), in batches through the writer.

Records are read ``batch`` at a time in id order on a read-only connection of this process, embedded
outside any transaction (with the handle's coalescer), and sent as one `StoreVectors` per batch, which
stores each vector only if its record is still at the version that was embedded. So a run may be stopped
at any point and started again: records that have a vector are skipped (unless ``every``), and a record
changed or deleted meanwhile never gets a stale vector.

`switch` moves a file to another embedder the same way, into a stage searches do not read
(`memactor.sqlite.vswitch`), then swaps the new vectors in with one command: until then every search uses the
old embedder's vectors, and never a mix of both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..embed.coalesce import Coalescer
from ..embed.protocol import record_text, to_blobs
from ..engine import Engine
from ..engines import open_engine
from ..errors import InvalidInputError
from ..model.commands import StageVectors, StoreVectors, SwapEmbedder
from ..model.records import RECORD_TYPES, Record
from ..model.validate import check_int
from .backend import Backend
from .lane import Lane

__all__ = ["Reindexed", "Switched", "reindex", "switch"]

# Passes over the records before the swap: each stages what changed during the one before it.
_SWITCH_PASSES = 4


class Reindexable(Backend, Protocol):
    """A handle `reindex` can use: `memactor.Memory` or `memactor.RemoteMemory`, opened with an embedder."""

    path: str
    embedding: Coalescer | None


@dataclass
class Reindexed:
    """What a `reindex` run did.

    Attributes:
        total: Records to embed when it started.
        stored: Vectors stored.
        skipped: Records changed or deleted between being read and their vector's write (run again for them).
    """

    total: int = 0
    stored: int = 0
    skipped: int = 0


@dataclass
class Switched:
    """What a `switch` run did.

    Attributes:
        old: The embedder (name, dim) the file's vectors were made by, or None if it recorded none.
        total: Records to embed when it started.
        staged: Vectors staged (a record changed meanwhile is staged again).
        missing: Records without a vector right after the swap (added or changed at its last moment).
        filled: Of those, how many got their vector afterwards.
    """

    old: tuple[str, int] | None = None
    total: int = 0
    staged: int = 0
    missing: int = 0
    filled: int = 0


async def reindex(
    handle: Reindexable,
    *,
    every: bool = False,
    batch: int = 64,
    on_start: Callable[[int], object] = lambda total: None,
    on_batch: Callable[[int], object] = lambda count: None,
    embedding: Coalescer | None = None,
) -> Reindexed:
    """Embed the records that have no vector (``every``: all of them) and store their vectors.

    Args:
        handle: An open handle with an embedder; the file must be readable from this process.
        every: Re-embed every record, not only those without a vector (a run then starts over).
        batch: Records per embedding call and per write.
        on_start: Called once with the number of records to embed.
        on_batch: Called after each batch's write with the number of records it covered.
        embedding: The embedder to use, if not the handle's (which then may have none).

    Returns:
        The counts of the run.

    Raises:
        InvalidInputError: the handle has no embedder, or a bad batch size.
        EmbedderMismatchError: (on opening the handle, before this) the file records another embedder.
    """
    embedding = embedding or handle.embedding
    if embedding is None:
        raise InvalidInputError("reindex needs a handle opened with an embedder (embedder=...)")
    check_int("batch", batch, low=1, high=10_000)
    engine = open_engine(handle.path)
    lane = Lane("memactor-reindex", engine, engine.connect_reader)  # a read connection on a thread of its own
    await lane.start()
    try:
        done = Reindexed()
        for kind in RECORD_TYPES:
            done.total += await lane.call(functools.partial(engine.count_to_embed, kind=kind, every=every))
        on_start(done.total)
        for kind in RECORD_TYPES:
            after = ""
            while True:
                page = functools.partial(engine.records_to_embed, kind=kind, after=after, limit=batch, every=every)
                records = await lane.call(page)
                if not records:
                    break
                matrix = await embedding.embed([record_text(record) for record in records])
                command = StoreVectors(
                    kind,
                    tuple(record.id for record in records),
                    tuple(record.version for record in records),
                    to_blobs(matrix),
                )
                stored: list[str] = await handle.execute(command)
                done.stored += len(stored)
                done.skipped += len(records) - len(stored)
                after = records[-1].id
                on_batch(len(records))
        return done
    finally:
        await lane.close()


async def switch(
    handle: Reindexable,
    embedding: Coalescer,
    *,
    batch: int = 64,
    on_start: Callable[[int], object] = lambda total: None,
    on_batch: Callable[[int], object] = lambda count: None,
) -> Switched:
    """Move the file to ``embedding``'s embedder: stage a vector of it for every record, then swap them in.

    Stopped at any point, it goes on from what was staged when run again with the same embedder (another
    starts over); the file keeps working with its old vectors until the swap. Records changed while they
    were staged are staged again; the few changed at the swap's own moment get their vector just after it.

    Args:
        handle: An open handle, opened without an embedder (the file's is the old one); the file must be
            readable from this process.
        embedding: The new embedder.
        batch: Records per embedding call and per write.
        on_start: Called once with the number of records to embed.
        on_batch: Called after each batch's write with the number of records it covered.

    Returns:
        The counts of the run.

    Raises:
        InvalidInputError: the file's vectors are made by this embedder already, or a bad batch size.
    """
    check_int("batch", batch, low=1, high=10_000)
    name, dim = embedding.embedder.name, embedding.embedder.dim
    engine = open_engine(handle.path)
    lane = Lane("memactor-switch", engine, engine.connect_reader)  # a read connection on a thread of its own
    await lane.start()
    try:
        done = Switched(old=await lane.call(engine.stored_embedder))
        if done.old == (name, dim):
            raise InvalidInputError(
                f"this memory file's vectors are made by embedder {name!r} (dim {dim}) already: nothing to switch;"
                " run `memactor reindex` without --switch to fill missing vectors"
            )
        for kind in RECORD_TYPES:
            done.total += await lane.call(functools.partial(engine.count_to_stage, kind=kind, name=name, dim=dim))
        on_start(done.total)
        for _ in range(_SWITCH_PASSES):
            staged = await _stage_pass(handle, embedding, engine, lane, batch, on_batch)
            done.staged += staged
            if not staged:
                break
        done.missing = await handle.execute(SwapEmbedder(name, dim))
    finally:
        await lane.close()
    if done.missing:
        done.filled = (await reindex(handle, batch=batch, embedding=embedding)).stored
    return done


async def _stage_pass(
    handle: Reindexable,
    embedding: Coalescer,
    engine: Engine[Any, Any],
    lane: Lane,
    batch: int,
    on_batch: Callable[[int], object],
) -> int:
    """Stage every record that has no staged vector yet; return how many were read."""
    name, dim = embedding.embedder.name, embedding.embedder.dim
    count = 0
    for kind in RECORD_TYPES:
        after = ""
        while True:
            page = functools.partial(engine.records_to_stage, kind=kind, name=name, dim=dim, after=after, limit=batch)
            records: list[Record] = await lane.call(page)
            if not records:
                break
            matrix = await embedding.embed([record_text(record) for record in records])
            ids = tuple(record.id for record in records)
            versions = tuple(record.version for record in records)
            await handle.execute(StageVectors(name, dim, kind, ids, versions, to_blobs(matrix)))
            count += len(records)
            after = records[-1].id
            on_batch(len(records))
    return count
