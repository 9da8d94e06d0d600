"""Vectors for the writes of a `batch()`: computed before the batch enters the mailbox, like single writes'.

A batch's adds are embedded from their records. An update that changes a text field is embedded from the
record it makes, which may depend on earlier commands of the same batch (an add, other updates), so the
batch is played forward here from the records as stored: each such update carries the vector of the text
it will write and is pinned to the version it will find, so that if another writer changed the record
meanwhile the whole batch is refused (nothing written) and prepared again from the new state.
All of a batch's texts go to the embedder in one coalesced call.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..embed.coalesce import Coalescer
from ..embed.protocol import TEXT_FIELDS, record_text, to_blobs
from ..errors import EmbedderError, InvalidInputError, MemactorError
from ..model.commands import AddRecords, Command, DeleteRecord, RecordUse, UpdateRecord
from ..model.queries import Get
from ..model.records import Record
from .backend import Backend

__all__ = ["Prepared", "prepare"]

Key = tuple[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A batch's commands with their vectors, and the stored versions they were computed from.

    Attributes:
        commands: The commands to send, in order.
        read: The version of each record read from the store (None: absent), for telling a conflict
            another writer caused from one the batch itself asked for.
    """

    commands: tuple[Command, ...]
    read: dict[Key, int | None]


def _text_update(command: Command) -> bool:
    return isinstance(command, UpdateRecord) and bool(TEXT_FIELDS[command.kind].intersection(command.changes))


def _text_update_keys(commands: list[Command]) -> list[Key]:
    return list(dict.fromkeys((c.kind, c.id) for c in commands if isinstance(c, UpdateRecord) and _text_update(c)))


async def stored_versions(backend: Backend, keys: list[Key]) -> dict[Key, Record | None]:
    """The records ``keys`` name as stored now (None for those absent)."""
    found: dict[Key, Record | None] = dict.fromkeys(keys)
    for kind in dict.fromkeys(kind for kind, _ in keys):
        ids = tuple(record_id for key_kind, record_id in keys if key_kind == kind)
        for record in await backend.query(Get(kind, ids)):
            found[kind, record.id] = record
    return found


async def prepare(backend: Backend, embedding: Coalescer, commands: list[Command]) -> Prepared:
    """Give every add and text-changing update of a batch its vector.

    Raises:
        InvalidInputError: an update's changes do not fit its record.
        EmbedderError: the embedder failed (its own error is chained); nothing was sent.
    """
    keys = _text_update_keys(commands)
    state = await stored_versions(backend, keys) if keys else {}
    read = {key: (None if record is None else record.version) for key, record in state.items()}
    texts: list[str] = []
    plan: list[tuple[Command, int, Any]] = []  # command, index of its first text, and its pinned version
    for command in commands:
        pinned = None
        if isinstance(command, AddRecords):
            plan.append((command, len(texts), None))
            texts.extend(record_text(record) for record in command.records)
            for record in command.records:
                key = (record.KIND, record.id)
                if key in state and state[key] is None:
                    state[key] = dataclasses.replace(record, version=1)
            continue
        if isinstance(command, UpdateRecord) and (command.kind, command.id) in state:
            current = state[command.kind, command.id]
            if current is not None:
                updated = _updated(current, command)
                state[command.kind, command.id] = updated
                if _text_update(command):
                    pinned = current.version if command.expect_version is None else command.expect_version
                    plan.append((command, len(texts), pinned))
                    texts.append(record_text(updated))
                    continue
        elif isinstance(command, RecordUse) and state.get(("skill", command.id)) is not None:
            current = state["skill", command.id]
            assert current is not None
            state["skill", command.id] = dataclasses.replace(current, version=current.version + 1)
        elif isinstance(command, DeleteRecord) and (command.kind, command.id) in state:
            state[command.kind, command.id] = None
        plan.append((command, -1, None))
    blobs = to_blobs(await _embed(embedding, texts)) if texts else ()
    return Prepared(tuple(_with_vector(command, start, pinned, blobs) for command, start, pinned in plan), read)


def _updated(current: Record, command: UpdateRecord) -> Record:
    try:
        return dataclasses.replace(current, **command.changes, version=current.version + 1)
    except (TypeError, InvalidInputError) as exc:
        raise InvalidInputError(f"update of {command.kind} {command.id} in a batch: {exc}") from None


def _with_vector(command: Command, start: int, pinned: int | None, blobs: tuple[bytes, ...]) -> Command:
    if start < 0:
        return command
    if isinstance(command, AddRecords):
        return AddRecords(command.records, blobs[start : start + len(command.records)])
    assert isinstance(command, UpdateRecord)
    return dataclasses.replace(command, expect_version=pinned, vector=blobs[start])


async def _embed(embedding: Coalescer, texts: list[str]) -> Any:
    try:
        return await embedding.embed(texts)
    except MemactorError:
        raise
    except Exception as exc:
        raise EmbedderError(
            f"embedder {embedding.embedder.name!r} failed to make the batch's vectors ({type(exc).__name__}: {exc});"
            " nothing of the batch was written: fix the embedder and run the batch again"
        ) from exc
