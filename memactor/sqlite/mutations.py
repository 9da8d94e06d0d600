"""What each command does to the database: plain sync SQL on the writer's connection, inside the
transaction that `memactor.sqlite.apply.apply_batch` opened, testable without an event loop.

`apply_command` applies one command and returns its result or raises the `CommandError` that rejects it;
isolating it from the rest of its group commit is the caller's job (`memactor.sqlite.failures` tells it whether any
other exception is that command's failure, and which typed error it becomes, or the batch's). The
``max_size`` quota (`Quota`) lives here too, since adds and deletes are what it limits.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import CommandError, ConflictError, InvalidInputError, NotFoundError
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
from .failures import breaks_batch, command_error
from .items import delete_item, put_item, sweep_items, touch_items
from .rows import COLUMNS, column_values, from_row, insert_values, select_list, to_row
from .schema import TABLES
from .vectors import set_embedder, store_vectors, store_vectors_at
from .vswitch import stage_vectors, swap_embedder

__all__ = ["Quota", "add_all_new", "apply_command", "enforce_quota"]

T = TypeVar("T")

# Columns a retried add may differ in and still be the same record: the writer maintains them.
_MAINTAINED = frozenset({"created_at", "updated_at", "version", "uses", "successes", "last_used_at"})


@dataclass(slots=True)
class Quota:
    """The ``max_size`` quota, enforced through ``PRAGMA max_page_count``; owned by the writer thread."""

    max_size: int | None = None
    page_size: int = 4096

    def hard_pages(self) -> int:
        return (self.max_size or 0) // self.page_size

    def soft_pages(self) -> int:
        # FTS5 needs new pages even to delete, so ordinary writes stop short of a reserve kept for deletes.
        hard = self.hard_pages()
        return max(1, hard - max(64, hard // 50))


def apply_command(conn: sqlite3.Connection, command: Command, quota: Quota | None = None) -> Any:
    """Apply one command inside the caller's transaction and return its result.

    Raises:
        CommandError: the command was rejected; the caller rolls back its savepoint.
        sqlite3.Error: SQLite failed.
    """
    match command:
        case AddRecords(records=records, vectors=vectors):
            if len(records) > 1 and add_all_new(conn, records):
                ids = [record.id for record in records]
            else:
                ids = [_add(conn, record) for record in records]
            if vectors is not None:
                store_vectors(conn, records, vectors)
            return ids
        case UpdateRecord():
            return _update(conn, command)
        case DeleteRecord(kind=kind, id=record_id):
            return _delete(conn, kind, record_id, quota)
        case RecordUse():
            return _record_use(conn, command)
        case Batch(commands=commands):
            return _batch(conn, commands, quota)
        case SetEmbedder(name=name, dim=dim, check_only=check_only):
            return set_embedder(conn, name, dim, record=not check_only)
        case StoreVectors(kind=kind, ids=ids, versions=versions, vectors=vectors):
            return store_vectors_at(conn, kind, ids, versions, vectors)
        case StageVectors(name=name, dim=dim, kind=kind, ids=ids, versions=versions, vectors=vectors):
            return stage_vectors(conn, name, dim, kind, ids, versions, vectors)
        case SwapEmbedder(name=name, dim=dim):
            return swap_embedder(conn, name, dim)
        case SetQuota(max_size=max_size):
            return _set_quota(conn, quota, max_size)
        case Ping():
            return None
        case PutItem():
            return put_item(conn, command)
        case DeleteItem():
            return _freeing(conn, quota, lambda: delete_item(conn, command))
        case TouchItems():
            return touch_items(conn, command)
        case SweepItems():
            return _freeing(conn, quota, lambda: sweep_items(conn, command))
    raise InvalidInputError(f"not a command: {type(command).__name__}")


_INSERT = {
    kind: f"INSERT INTO {TABLES[kind].name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    " ON CONFLICT (id) DO NOTHING"
    for kind, names in COLUMNS.items()
}


def add_all_new(conn: sqlite3.Connection, records: Sequence[Record]) -> bool:
    """Insert many records with one ``executemany`` per kind (bulk adds: ~2x fewer us a row).

    Serves both one `AddRecords` of many records and a run of one-record `AddRecords` from different callers.
    Returns False, with nothing inserted (it rolls back its own savepoint), when some id already exists, a
    skill name is taken or a record cannot be stored: the caller then adds them one by one, which tells a
    retry (no-op) from a conflict and gives a record that cannot be stored its own error.

    Raises:
        sqlite3.Error: the connection or its transaction failed (see `breaks_batch`).
    """
    now = time.time()
    kinds = dict.fromkeys(record.KIND for record in records)
    inserted = 0
    conn.execute("SAVEPOINT bulk")
    try:
        for kind in kinds:
            rows = [insert_values(record, now) for record in records if record.KIND == kind]
            inserted += conn.executemany(_INSERT[kind], rows).rowcount
    except Exception as exc:
        # One record that cannot be stored (or a constraint): the one-by-one path gives it its own error.
        if breaks_batch(conn, exc):
            raise
        inserted = -1
    if inserted != len(records):
        conn.execute("ROLLBACK TO bulk")
        conn.execute("RELEASE bulk")
        return False
    conn.execute("RELEASE bulk")
    return True


def _add(conn: sqlite3.Connection, record: Record) -> str:
    try:
        cursor = conn.execute(_INSERT[record.KIND], insert_values(record, time.time()))
    except sqlite3.IntegrityError:
        # The id is free (that conflict is ignored above), so the skill's (namespace, name) is taken.
        raise ConflictError(
            f"{record.KIND} {record.id}: name {getattr(record, 'name', None)!r} is taken"
            f" in namespace {record.namespace!r}"
        ) from None
    if cursor.rowcount == 0:
        _check_same(conn, record.KIND, to_row(record))
    return record.id


def _check_same(conn: sqlite3.Connection, kind: str, row: dict[str, Any]) -> None:
    existing = _select(conn, kind, row["id"])
    if existing is None:
        raise ConflictError(f"{kind} {row['id']}: insert was ignored for an unknown reason")
    old = to_row(existing)
    differing = sorted(n for n in row if n not in _MAINTAINED and row[n] != old[n])
    if differing:
        raise ConflictError(f"{kind} {row['id']} already exists with other content (differs in {differing})")


def _select(conn: sqlite3.Connection, kind: str, record_id: str) -> Record | None:
    sql = f"SELECT {select_list(kind)} FROM {TABLES[kind].name} WHERE id = :id"
    row = conn.execute(sql, {"id": record_id}).fetchone()
    return None if row is None else from_row(kind, row)


def _update(conn: sqlite3.Connection, command: UpdateRecord) -> Record:
    current = _select(conn, command.kind, command.id)
    if current is None:
        raise NotFoundError(f"{command.kind} {command.id} not found")
    if command.expect_version is not None and current.version != command.expect_version:
        raise ConflictError(
            f"{command.kind} {command.id} is at version {current.version}, not {command.expect_version}"
        )
    try:
        # The client stamps `at`; the writer stamped created_at: never let updated_at go back in time.
        at = max(command.at, current.updated_at or command.at)
        updated = dataclasses.replace(current, **command.changes, version=current.version + 1, updated_at=at)
    except TypeError as exc:
        raise InvalidInputError(f"update of {command.kind} {command.id}: {exc}") from None
    except InvalidInputError as exc:
        raise InvalidInputError(f"update of {command.kind} {command.id}: {exc}") from None
    names = [*command.changes, "version", "updated_at"]
    conn.execute(
        f"UPDATE {TABLES[command.kind].name} SET {', '.join(f'{n} = :{n}' for n in names)} WHERE id = :id",
        column_values(updated, (*names, "id")),  # only what changed: unchanged JSON need not be encoded again
    )
    # A changed text column dropped the old vector (a trigger); the new one, if sent, takes its place.
    if command.vector is not None:
        store_vectors(conn, (updated,), (command.vector,))
    return updated


def _delete(conn: sqlite3.Connection, kind: str, record_id: str, quota: Quota | None) -> bool:
    sql = f"DELETE FROM {TABLES[kind].name} WHERE id = :id"
    return _freeing(conn, quota, lambda: conn.execute(sql, {"id": record_id}).rowcount > 0)


def _freeing(conn: sqlite3.Connection, quota: Quota | None, delete: Callable[[], T]) -> T:
    """Run ``delete`` with the quota's reserve open: space can always be freed from a full store."""
    if quota is None or quota.max_size is None:
        return delete()
    conn.execute(f"PRAGMA max_page_count = {quota.hard_pages()}")
    try:
        return delete()
    finally:
        conn.execute(f"PRAGMA max_page_count = {quota.soft_pages()}")


def _record_use(conn: sqlite3.Connection, command: RecordUse) -> Record:
    row = conn.execute(
        "UPDATE skills SET uses = uses + 1, successes = successes + :success, last_used_at = :at,"
        " updated_at = max(updated_at, :at), version = version + 1 WHERE id = :id RETURNING " + select_list("skill"),
        {"id": command.id, "success": int(command.success), "at": command.at},
    ).fetchone()
    if row is None:
        raise NotFoundError(f"skill {command.id} not found")
    return from_row("skill", row)


def _batch(conn: sqlite3.Connection, commands: Sequence[Command], quota: Quota | None) -> list[Any]:
    results = []
    for index, command in enumerate(commands):
        try:
            results.append(apply_command(conn, command, quota))
        except CommandError as exc:
            # The caller's savepoint rolls back every command of the batch applied so far.
            raise type(exc)(f"batch command {index} ({type(command).__name__}): {exc}") from exc
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"batch command {index} ({type(command).__name__}): {exc}") from exc
        except Exception as exc:
            if breaks_batch(conn, exc):
                raise
            raise command_error(exc, f"batch command {index} ({type(command).__name__})") from exc
    return results


def _set_quota(conn: sqlite3.Connection, quota: Quota | None, max_size: int | None) -> None:
    if quota is None:
        raise InvalidInputError("this connection keeps no quota")
    quota.max_size = max_size
    enforce_quota(conn, quota)
    if max_size is None:
        # 2**32 - 2 pages is SQLite's own ceiling: lifting the quota restores it.
        conn.execute("PRAGMA max_page_count = 4294967294")


def enforce_quota(conn: sqlite3.Connection, quota: Quota) -> None:
    """Learn the file's page size and, if a quota is set, cap ordinary writes at its soft limit."""
    quota.page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    if quota.max_size is not None:
        conn.execute(f"PRAGMA max_page_count = {quota.soft_pages()}")
