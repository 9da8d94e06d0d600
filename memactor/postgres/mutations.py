"""What each command does to a PostgreSQL database: plain sync SQL on the writer's connection, inside the
savepoint that `memactor.postgres.apply.apply_batch` opened for it.

`apply_command` applies one command and returns its result or raises the error that rejects it. Many writer
processes (on many machines) may write the same database at once, so every rule holds in the database,
not in one process's memory: adds are ``INSERT ... ON CONFLICT DO NOTHING`` (a retried id is a no-op, a
concurrent add of the same id waits for the other to commit), skill names are a unique constraint, an
update reads its row ``FOR UPDATE`` (so the version it checks is the one it replaces), and ``record_use``
is one ``UPDATE`` that adds to the counters in place. May import `memactor.errors`, `memactor.model`, psycopg.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import CommandError, ConflictError, InvalidInputError, NotFoundError, UnsupportedBackendError
from ..model.commands import (
    AddRecords,
    Batch,
    Command,
    DeleteItem,
    DeleteRecord,
    Ping,
    PutItem,
    RecordUse,
    SetEmbedder,
    SetQuota,
    StageVectors,
    StoreVectors,
    SwapEmbedder,
    SweepItems,
    TouchItems,
    UpdateRecord,
)
from ..model.records import Record
from . import items, vswitch
from . import vectors as vectors_
from .failures import command_error
from .rows import COLUMNS, array_literal, column_values, from_row, insert_values, select_list
from .schema import TABLES

__all__ = ["add_records", "apply_command", "unsupported"]

Conn = psycopg.Connection[tuple[Any, ...]]

# Columns a retried add may differ in and still be the same record: the writer maintains them.
_MAINTAINED = frozenset({"created_at", "updated_at", "version", "uses", "successes", "last_used_at"})
_INTS = frozenset({"version", "uses", "successes"})
_FLOATS = frozenset({"created_at", "updated_at", "reward", "importance", "confidence", "last_used_at"})


def _array_type(name: str) -> str:
    if name in _INTS:
        return "bigint[]"
    if name in _FLOATS:
        return "double precision[]"
    return "boolean[]" if name == "success" else "text[]"


# One statement text per kind whatever the number of rows (so PostgreSQL prepares it once): one array
# parameter per column, unnested into rows. Tags, an array per row, travel as array literals (unnest would
# flatten a two-dimensional array) and are cast back. The arrays travel in binary (``%b``): psycopg dumps a
# text-format array element by element through a regular expression, which cost the writer ~30 us per row.
_INSERT = {
    kind: f"INSERT INTO {TABLES[kind].name} ({', '.join(names)})"
    f" SELECT {', '.join(f'c{i}::text[]' if n == 'tags' else f'c{i}' for i, n in enumerate(names))}"
    f" FROM unnest({', '.join(f'%b::{_array_type(n)}' for n in names)})"
    f" AS u({', '.join(f'c{i}' for i in range(len(names)))})"
    " ON CONFLICT DO NOTHING RETURNING id"
    for kind, names in COLUMNS.items()
}
_TAGS = {kind: names.index("tags") for kind, names in COLUMNS.items()}


def unsupported(what: str) -> UnsupportedBackendError:
    """The error for a capability the PostgreSQL engine does not have yet."""
    return UnsupportedBackendError(
        f"the PostgreSQL engine does not support {what} yet; use a SQLite memory (a file path) for it"
    )


def apply_command(conn: Conn, command: Command) -> Any:
    """Apply one command inside the caller's savepoint and return its result.

    Raises:
        CommandError: the command was rejected; the caller rolls back its savepoint.
        UnsupportedBackendError: the command needs what this engine does not do (a quota).
        psycopg.Error: PostgreSQL failed (see `memactor.postgres.failures` for whose failure it is).
    """
    match command:
        case AddRecords(records=records, vectors=vectors):
            ids = add_records(conn, records)
            if vectors is not None:
                vectors_.store_vectors(conn, records, vectors)
            return ids
        case UpdateRecord():
            return _update(conn, command)
        case DeleteRecord(kind=kind, id=record_id):
            cursor = conn.execute(f"DELETE FROM {TABLES[kind].name} WHERE id = %s", (record_id,))
            return cursor.rowcount > 0
        case RecordUse():
            return _record_use(conn, command)
        case Batch(commands=commands):
            return _batch(conn, commands)
        case Ping():
            return None
        case SetQuota(max_size=None):
            return None
        case SetQuota():
            raise unsupported("max_size (PostgreSQL has no per-database size limit to enforce it honestly)")
        case SetEmbedder(name=name, dim=dim, check_only=check_only):
            return vectors_.set_embedder(conn, name, dim, record=not check_only)
        case StoreVectors(kind=kind, ids=ids, versions=versions, vectors=vectors):
            return vectors_.store_vectors_at(conn, kind, ids, versions, vectors)
        case StageVectors(name=name, dim=dim, kind=kind, ids=ids, versions=versions, vectors=vectors):
            return vswitch.stage_vectors(conn, name, dim, kind, ids, versions, vectors)
        case SwapEmbedder(name=name, dim=dim):
            return vswitch.swap_embedder(conn, name, dim)
        case PutItem():
            return items.put_item(conn, command)
        case DeleteItem():
            return items.delete_item(conn, command)
        case TouchItems():
            return items.touch_items(conn, command)
        case SweepItems():
            return items.sweep_items(conn, command)
    raise InvalidInputError(f"not a command: {type(command).__name__}")


def add_records(conn: Conn, records: Sequence[Record]) -> list[str]:
    """Insert records with one statement per kind; an id already stored with equal content is a no-op.

    Returns:
        The ids, in order.

    Raises:
        ConflictError: an id is stored with other content, or a skill's name is taken in its namespace.
    """
    now = time.time()
    inserted: set[str] = set()
    for kind in dict.fromkeys(record.KIND for record in records):
        rows = [insert_values(record, now) for record in records if record.KIND == kind]
        columns = [list(column) for column in zip(*rows, strict=True)]
        columns[_TAGS[kind]] = [array_literal(tags) for tags in columns[_TAGS[kind]]]
        inserted.update(row[0] for row in conn.execute(_INSERT[kind], columns).fetchall())
    first = set()
    for record in records:
        # The insert stored the first record of each id; a later record of the same id in this command (or
        # one the insert skipped) is compared with what is stored.
        if record.id not in inserted or record.id in first:
            _check_retry(conn, record)
        first.add(record.id)
    return [record.id for record in records]


def _check_retry(conn: Conn, record: Record) -> None:
    """A record the insert skipped: a retry of the stored one (fine), or a conflict (raised)."""
    existing = _select(conn, record.KIND, record.id, lock=False)
    if existing is None:
        # The id is free, so the insert was skipped for the skill's (namespace, name).
        raise ConflictError(
            f"{record.KIND} {record.id}: name {getattr(record, 'name', None)!r} is taken"
            f" in namespace {record.namespace!r}"
        )
    names = [n for n in COLUMNS[record.KIND] if n not in _MAINTAINED]
    new, old = column_values(record, names), column_values(existing, names)
    differing = sorted(n for n in names if new[n] != old[n])
    if differing:
        raise ConflictError(f"{record.KIND} {record.id} already exists with other content (differs in {differing})")


def _select(conn: Conn, kind: str, record_id: str, *, lock: bool) -> Record | None:
    sql = f"SELECT {select_list(kind)} FROM {TABLES[kind].name} WHERE id = %s" + (" FOR UPDATE" if lock else "")
    row = conn.execute(sql, (record_id,)).fetchone()
    return None if row is None else from_row(kind, row)


def _update(conn: Conn, command: UpdateRecord) -> Record:
    # FOR UPDATE: another process's update of this row waits for our commit, and ours for theirs, so the
    # version checked is the version replaced.
    current = _select(conn, command.kind, command.id, lock=True)
    if current is None:
        raise NotFoundError(f"{command.kind} {command.id} not found")
    if command.expect_version is not None and current.version != command.expect_version:
        raise ConflictError(
            f"{command.kind} {command.id} is at version {current.version}, not {command.expect_version}"
        )
    try:
        at = max(command.at, current.updated_at or command.at)
        updated = dataclasses.replace(current, **command.changes, version=current.version + 1, updated_at=at)
    except (TypeError, InvalidInputError) as exc:
        raise InvalidInputError(f"update of {command.kind} {command.id}: {exc}") from None
    names = [*command.changes, "version", "updated_at"]
    values = column_values(updated, names)
    try:
        conn.execute(
            f"UPDATE {TABLES[command.kind].name} SET {', '.join(f'{n} = %({n})s' for n in names)} WHERE id = %(id)s",
            {**values, "id": command.id},
        )
    except psycopg.errors.UniqueViolation:
        raise ConflictError(
            f"skill {command.id}: name {getattr(updated, 'name', None)!r} is taken in namespace {updated.namespace!r}"
        ) from None
    # A changed text column dropped the old vector (a trigger); the new one, if sent, takes its place.
    if command.vector is not None:
        vectors_.store_vectors(conn, (updated,), (command.vector,))
    return updated


def _record_use(conn: Conn, command: RecordUse) -> Record:
    # One statement: PostgreSQL re-reads a row another transaction changed before adding to it.
    row = conn.execute(
        "UPDATE skills SET uses = uses + 1, successes = successes + %(success)s, last_used_at = %(at)s,"
        " updated_at = greatest(updated_at, %(at)s), version = version + 1 WHERE id = %(id)s RETURNING "
        + select_list("skill"),
        {"id": command.id, "success": int(command.success), "at": command.at},
    ).fetchone()
    if row is None:
        raise NotFoundError(f"skill {command.id} not found")
    return from_row("skill", row)


def _batch(conn: Conn, commands: Sequence[Command]) -> list[Any]:
    results = []
    for index, command in enumerate(commands):
        try:
            results.append(apply_command(conn, command))
        except UnsupportedBackendError:
            raise
        except CommandError as exc:
            # The caller's savepoint rolls back every command of the batch applied so far.
            raise type(exc)(f"batch command {index} ({type(command).__name__}): {exc}") from exc
        except (psycopg.IntegrityError, psycopg.DataError) as exc:
            raise command_error(exc, f"batch command {index} ({type(command).__name__})") from exc
    return results
