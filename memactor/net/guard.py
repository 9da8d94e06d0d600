"""Writes sent through a token: checked, and for a namespace-scoped token answered as if nothing outside
its namespaces existed.

Ids are global keys, so a write by id may name a record of another namespace. Refusing it would tell the
caller that the id exists, and where. Instead such an id is swapped for a fresh one that exists nowhere
before the command reaches the writer, and swapped back in the answer: the writer then answers exactly
as for a missing id, in any position of a batch (`NotFoundError` for an update or a use, False for a
delete, and the batch fails or commits accordingly). An add cannot take the id of a record of another
namespace (ids are global); it fails with a `ConflictError` that says nothing of the stored record.

Not covered: a record moved into or out of the scope between the look-up and the write (only a token
allowed in both namespaces can move one).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Protocol

from ..codec import decode, encode
from ..errors import ConflictError, MemactorError
from ..model.commands import AddRecords, Batch, Command, DeleteRecord, RecordUse, UpdateRecord
from ..model.queries import MAX_GET_MANY, Get, Query
from ..model.records import new_id
from .scope import Grant, check_command

__all__ = ["Served", "execute_as"]

Key = tuple[str, str]  # (kind, id)


class Served(Protocol):
    """What a guarded write needs of the served handle (a `memactor.Memory`)."""

    async def execute_encoded(self, frame: bytes) -> Any:
        """Apply one encoded command through the writer."""
        ...

    async def query(self, query: Query) -> Any:
        """Answer one read query."""
        ...


async def execute_as(grant: Grant, memory: Served, frame: bytes) -> Any:
    """Check one encoded write against ``grant`` and apply it.

    Returns:
        The command's result, as for a missing id wherever the command names a record outside the grant.

    Raises:
        AccessDeniedError: a namespace outside the token's, or a quota change by a restricted token.
        ReadOnlyError: a write through a read-only token.
        ConflictError: an add reuses the id of a record outside the token's namespaces (or as for
            `memactor.Memory.execute_encoded`).
        CodecError: the bytes are not a valid command. Otherwise as `memactor.Memory.execute_encoded`.
    """
    if grant.namespaces is None:
        # Structure only: the writer validates every value of the frame as untrusted input anyway.
        check_command(grant, decode(frame, validate=False))
        return await memory.execute_encoded(frame)
    command = decode(frame)  # validated here, since a command with foreign ids is encoded again
    check_command(grant, command)
    changed, added = _targets(command)
    outside = await _outside(grant, memory, [*changed, *added])
    for key in added:
        if key in outside:
            raise _taken(key)
    renames = {key: new_id() for key in changed if key in outside}
    if renames:
        frame = encode(_rename(command, renames))
    try:
        return await memory.execute_encoded(frame)
    except MemactorError as exc:
        if isinstance(exc, ConflictError) and added:
            # A record of another namespace added under the same id since the look-up: its conflict
            # message would list the stored record's differing fields.
            taken = [key for key in added if key in await _outside(grant, memory, list(added))]
            if taken:
                raise _taken(taken[0]) from None
        if not renames:
            raise
        raise type(exc)(_swap_back(str(exc), renames)) from None


def _targets(command: Command) -> tuple[dict[Key, None], dict[Key, None]]:
    """The records ``command`` changes by id, and those it adds, in order (dicts as ordered sets)."""
    changed: dict[Key, None] = {}
    added: dict[Key, None] = {}
    for inner in command.commands if isinstance(command, Batch) else (command,):
        match inner:
            case AddRecords(records=records):
                added.update(((record.KIND, record.id), None) for record in records)
            case UpdateRecord(kind=kind, id=record_id) | DeleteRecord(kind=kind, id=record_id):
                changed[kind, record_id] = None
            case RecordUse(id=record_id):
                changed["skill", record_id] = None
    return changed, added


async def _outside(grant: Grant, memory: Served, keys: list[Key]) -> set[Key]:
    """Which of ``keys`` are records that exist outside the grant's namespaces."""
    assert grant.namespaces is not None
    by_kind: defaultdict[str, list[str]] = defaultdict(list)
    for kind, record_id in keys:
        by_kind[kind].append(record_id)
    outside: set[Key] = set()
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), MAX_GET_MANY):
            found = await memory.query(Get(kind, tuple(ids[start : start + MAX_GET_MANY])))
            outside.update((kind, r.id) for r in found if r.namespace not in grant.namespaces)
    return outside


def _taken(key: Key) -> ConflictError:
    kind, record_id = key
    return ConflictError(
        f"{kind} {record_id} already exists outside this token's namespaces; ids are global, so add the record"
        " under a new id (leave id unset to get one)"
    )


def _rename(command: Command, renames: dict[Key, str]) -> Command:
    match command:
        case UpdateRecord(kind=kind, id=record_id) | DeleteRecord(kind=kind, id=record_id) if (
            kind,
            record_id,
        ) in renames:
            return replace(command, id=renames[kind, record_id])
        case RecordUse(id=record_id) if ("skill", record_id) in renames:
            return replace(command, id=renames["skill", record_id])
        case Batch(commands=commands):
            return Batch(tuple(_rename(inner, renames) for inner in commands))
    return command


def _swap_back(text: str, renames: dict[Key, str]) -> str:
    for (_, record_id), fresh in renames.items():
        text = text.replace(fresh, record_id)
    return text
