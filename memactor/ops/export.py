"""``memactor export``: every record and item as JSONL, streamed page by page (memory stays bounded)."""

from __future__ import annotations

from typing import TextIO

from .jsonl import dumps, item_line, record_line
from .progress import Progress
from .target import Handle
from .walk import item_pages, record_pages

__all__ = ["export"]


async def export(handle: Handle, out: TextIO, progress: Progress) -> int:
    """Write every episode, fact, skill and item to ``out``, one JSON object per line; returns how many.

    Each page is written before the next is read, so memory holds a few pages, never the memory.
    """
    written = 0
    async for records in record_pages(handle):
        out.write("".join(dumps(record_line(record)) + "\n" for record in records))
        written += len(records)
        progress.advance(len(records))
    async for items in item_pages(handle):
        out.write("".join(dumps(item_line(item)) + "\n" for item in items))
        written += len(items)
        progress.advance(len(items))
    return written
