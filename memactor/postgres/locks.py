"""Lock, at the start of a group commit, every stored row its commands will change, in one global order.

Many writer processes share a PostgreSQL database, and each group commit holds the row locks of every
command applied so far until it commits. Two groups that change the same rows in different orders would
deadlock (PostgreSQL then aborts one after ``deadlock_timeout``, a second by default). Taking every lock
the group will need up front, ordered by table and id, makes two groups wait for each other instead: the
first to lock the smallest row shared goes first. Measured with 4 processes recording uses of 3 skills in
shuffled orders (tests/postgres/test_many_writers.py): without it, batches deadlocked again and again.

What is locked is what updates, deletes and ``record_use`` name by id; rows an add inserts do not exist yet
(a race on them waits on the unique index, and the rare deadlock left is retried by the applier). Items
are locked by address, present or not, with transaction-scoped advisory locks (a key hashed from the
schema, path and key; two addresses sharing a key only wait for each other), after the rows and in key
order: a put with ``expect_version=0`` then sees the item another process is putting.

Last comes the vector log's lock (`memactor.postgres.vschema`: its trigger serializes the transactions that
change vectors, so that the log is in commit order), when the group will change a vector: an add or update
carrying one, ``StoreVectors``, ``SwapEmbedder``, or an update or delete of a record that has one (staged
vectors are not logged). Taken by the trigger at the group's first vector change, it was held while later
commands waited for other groups (an add of an id another group inserted and has not committed), which could
be waiting for it: a deadlock, which only the whole-group rerun resolved. Taken here, after every other up-front
lock and before any command, a group waiting for it holds nothing the holder may still need. The trigger
still takes it (again: the lock is re-entrant) for a change predicted here wrongly, e.g. a vector stored by
another process, after the check below, for a record this group then deletes.
May import `memactor.model` and psycopg.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ..errors import CodecError
from ..model.commands import (
    AddRecords,
    Batch,
    Command,
    DeleteItem,
    DeleteRecord,
    PutItem,
    RecordUse,
    StoreVectors,
    SwapEmbedder,
    TouchItems,
    UpdateRecord,
)
from ..model.items import join_namespace
from .schema import TABLES

__all__ = ["lock_rows"]


def _targets(commands: Iterable[Command | CodecError]) -> Iterable[tuple[str, str]]:
    for command in commands:
        match command:
            case UpdateRecord(kind=kind, id=record_id) | DeleteRecord(kind=kind, id=record_id):
                yield kind, record_id
            case RecordUse(id=record_id):
                yield "skill", record_id
            case Batch(commands=inner):
                yield from _targets(inner)
            case PutItem(namespace=namespace, key=key) | DeleteItem(namespace=namespace, key=key):
                yield "item", _item_lock(namespace, key)
            case TouchItems(addresses=addresses):
                for namespace, key in addresses:
                    yield "item", _item_lock(namespace, key)


# The lock of the vector log trigger in `memactor.postgres.vschema` (the same key: one lock).
_VECTOR_LOG_LOCK = "SELECT pg_advisory_xact_lock(hashtext('memactor.vector_log.' || current_schema()))"


def _vector_changes(commands: Iterable[Command | CodecError], maybe: dict[str, set[str]]) -> bool:
    """Whether ``commands`` surely change a vector; records they change only if one has a vector go to ``maybe``."""
    surely = False
    for command in commands:
        match command:
            case AddRecords(vectors=vectors):
                surely |= vectors is not None
            case UpdateRecord(vector=vector) if vector is not None:
                surely = True
            case UpdateRecord(kind=kind, id=record_id) | DeleteRecord(kind=kind, id=record_id):
                maybe.setdefault(kind, set()).add(record_id)
            case StoreVectors() | SwapEmbedder():
                surely = True
            case Batch(commands=inner):
                surely |= _vector_changes(inner, maybe)
    return surely


def _has_vectors(conn: psycopg.Connection[tuple[Any, ...]], maybe: dict[str, set[str]]) -> bool:
    for kind in sorted(maybe):
        row = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {TABLES[kind].name} AS t JOIN vectors AS v ON v.kind = %s AND v.rid = t.rid"
            " WHERE t.id = ANY(%s))",
            (kind, sorted(maybe[kind])),
        ).fetchone()
        if row is not None and row[0]:
            return True
    return False


def _item_lock(namespace: tuple[str, ...], key: str) -> str:
    """An item address as the text its advisory lock key is hashed from (NUL-free: it is a bound parameter)."""
    digest = hashlib.blake2b(f"{join_namespace(namespace)}\x00{key}".encode(errors="surrogatepass"), digest_size=8)
    return digest.hexdigest()


def lock_rows(conn: psycopg.Connection[tuple[Any, ...]], commands: Sequence[Command | CodecError]) -> None:
    """Lock (``FOR UPDATE``) the existing rows that ``commands`` update, delete or count a use of, then the
    items they write, then the vector log if they change vectors.

    Raises:
        psycopg.Error: PostgreSQL failed (a lock timeout, a deadlock with a group that locks otherwise).
    """
    by_kind: dict[str, set[str]] = {}
    for kind, record_id in _targets(commands):
        by_kind.setdefault(kind, set()).add(record_id)
    hashes = sorted(by_kind.pop("item", ()))
    for kind in sorted(by_kind):
        conn.execute(
            f"SELECT 1 FROM {TABLES[kind].name} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (sorted(by_kind[kind]),)
        )
    if hashes:
        # Sorted in the subquery, locked in that order; the schema is part of the key, so memories in other
        # schemas of the database do not wait for each other.
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || h, 0)))"
            " FROM (SELECT h FROM unnest(%s::text[]) AS h ORDER BY h) AS s",
            (hashes,),
        )
    maybe: dict[str, set[str]] = {}
    if _vector_changes(commands, maybe) or (maybe and _has_vectors(conn, maybe)):
        conn.execute(_VECTOR_LOG_LOCK)
