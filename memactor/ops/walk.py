"""Every record and item of a memory, page by page, through the store API (bounded memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..model.items import Item
from ..model.records import Record
from .target import Handle

__all__ = ["PAGE", "item_pages", "record_pages"]

# Records or items per page. A stream reads a few pages per hop, so one read holds at most ~1,000
# records: memory stays bounded by that, whatever the size of the memory.
PAGE = 200


async def record_pages(handle: Handle, page: int = PAGE) -> AsyncIterator[list[Record]]:
    """Every episode, then every fact, then every skill, in id order, ``page`` at a time.

    Keyset streams: each page its own short read, none missed or repeated while agents write.
    """
    stores: tuple[Any, ...] = (handle.episodes, handle.facts, handle.skills)
    for store in stores:
        async for records in store.stream(batch_size=page):
            yield records


async def item_pages(handle: Handle, page: int = PAGE) -> AsyncIterator[list[Item]]:
    """Every live item, in the order first put, ``page`` at a time, without refreshing any TTL.

    The item API pages by offset (it has no keyset stream): an item deleted meanwhile can make a later one
    be skipped. Export items from a memory nobody is deleting items from, or from a backup.
    """
    offset = 0
    while True:
        items = await handle.items.search((), limit=page, offset=offset, refresh_ttl=False)
        if items:
            yield items
        if len(items) < page:
            return
        offset += len(items)
