"""`reindex`: give existing records their vectors (those without one, or every one), in batches through the writer.

Records are read ``batch`` at a time in id order on a read-only connection of this process, embedded
outside any transaction (with the handle's coalescer), and sent as one `StoreVectors` per batch, which
stores each vector only if its record is still at the version that was embedded. So a run may be stopped
at any point and started again: records that have a vector are skipped (unless ``every``), and a record
changed or deleted meanwhile never gets a stale vector.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..embed.coalesce import Coalescer
from ..embed.protocol import record_text, to_blobs
from ..engines import open_engine
from ..errors import InvalidInputError
from ..model.commands import StoreVectors
from ..model.records import RECORD_TYPES
from ..model.validate import check_int
from .backend import Backend
from .lane import Lane

__all__ = ["Reindexed", "reindex"]


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


async def reindex(
    handle: Reindexable,
    *,
    every: bool = False,
    batch: int = 64,
    on_start: Callable[[int], object] = lambda total: None,
    on_batch: Callable[[int], object] = lambda count: None,
) -> Reindexed:
    """Embed the records that have no vector (``every``: all of them) and store their vectors.

    Args:
        handle: An open handle with an embedder; the file must be readable from this process.
        every: Re-embed every record, not only those without a vector (a run then starts over).
        batch: Records per embedding call and per write.
        on_start: Called once with the number of records to embed.
        on_batch: Called after each batch's write with the number of records it covered.

    Returns:
        The counts of the run.

    Raises:
        InvalidInputError: the handle has no embedder, or a bad batch size.
        EmbedderMismatchError: (on opening the handle, before this) the file records another embedder.
    """
    if handle.embedding is None:
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
                matrix = await handle.embedding.embed([record_text(record) for record in records])
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
