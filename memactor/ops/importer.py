"""``memactor import``: a JSONL file of `memactor export` written back in atomic batches through the writer.

Idempotent and resumable: a record's add is a no-op when its id exists with the same content, and each
batch of `BATCH` lines commits entirely or not at all, so running an interrupted import again writes what
is missing and repeats nothing. A record whose id exists with other content, or a skill whose name is
taken, fails its batch (`ConflictError`, naming the lines): the memory has diverged from the file, and the
import stops rather than choose for the user.

Items are put only where absent, or skipped where an identical value is there already; an item that
exists with another value fails its batch the same way. (A put would replace it, and an import must not
overwrite what agents wrote since the export.) An imported item's ``ttl`` counts from the import.

A malformed line stops the import with its line number: batches before it are written, nothing of its
own batch is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import CommandError, ConflictError
from ..model.records import Record
from .jsonl import dumps, loads
from .progress import Progress
from .target import Handle

__all__ = ["BATCH", "Imported", "import_lines"]

# Lines per atomic batch: few commits for a big file, far below the writer's frame and value limits.
BATCH = 500

Line = tuple[int, Record | dict[str, Any]]


@dataclass
class Imported:
    """What an import did: lines read, and items skipped because the same value was there already."""

    records: int = 0
    items: int = 0
    items_present: int = 0


def _same(stored: Any, value: dict[str, Any]) -> bool:
    return bool(json.loads(dumps({"v": stored}))["v"] == value)


async def _absent_items(handle: Handle, items: list[Line], done: Imported) -> list[Line]:
    """The items to put: those absent; those present with the same value are counted and left out."""
    found = await handle.items.get_many([(line["namespace"], line["key"]) for _, line in items], refresh_ttl=False)  # type: ignore[index]
    stored = {(item.namespace, item.key): item.value for item in found}
    absent: list[Line] = []
    for number, line in items:
        assert isinstance(line, dict)
        address = (line["namespace"], line["key"])
        if address not in stored:
            absent.append((number, line))
        elif _same(stored[address], line["value"]):
            done.items_present += 1
        else:
            raise ConflictError(
                f"line {number}: item {line['key']!r} in namespace {list(line['namespace'])} exists with another "
                "value; delete it, or leave that line out, and import again"
            )
    return absent


async def _write(handle: Handle, lines: list[Line], done: Imported) -> None:
    records = [line for _, line in lines if not isinstance(line, dict)]
    items = await _absent_items(handle, [(n, line) for n, line in lines if isinstance(line, dict)], done)
    stores: dict[str, Any]
    try:
        async with handle.batch() as b:
            stores = {"episode": b.episodes, "fact": b.facts, "skill": b.skills}
            for record in records:
                stores[record.KIND].add(record)
            for _, item in items:
                assert isinstance(item, dict)
                # expect_version=0: only if still absent, should an agent put it meanwhile.
                b.items.put(item["namespace"], item["key"], item["value"], ttl=item["ttl"], expect_version=0)
    except CommandError as exc:
        raise type(exc)(f"lines {lines[0][0]}-{lines[-1][0]} (none of them written): {exc}") from None
    done.records += len(records)
    done.items += len(items)


async def import_lines(handle: Handle, lines: Iterable[str], progress: Progress) -> Imported:
    """Write the records and items of a JSONL file's ``lines`` in atomic batches of `BATCH` lines.

    Raises:
        InvalidInputError: a malformed line (the message names it); earlier batches are written.
        ConflictError: a record or item exists with other content (the message names the lines).
    """
    done = Imported()
    batch: list[Line] = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            batch.append((number, loads(number, text)))
        if len(batch) == BATCH:
            await _write(handle, batch, done)
            progress.advance(len(batch))
            batch = []
    if batch:
        await _write(handle, batch, done)
        progress.advance(len(batch))
    return done
