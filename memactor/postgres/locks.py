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
May import `memactor.model` and psycopg.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ..errors import CodecError
from ..model.commands import Batch, Command, DeleteItem, DeleteRecord, PutItem, RecordUse, TouchItems, UpdateRecord
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


def _item_lock(namespace: tuple[str, ...], key: str) -> str:
    """An item address as the text its advisory lock key is hashed from (NUL-free: it is a bound parameter)."""
    digest = hashlib.blake2b(f"{join_namespace(namespace)}\x00{key}".encode(errors="surrogatepass"), digest_size=8)
    return digest.hexdigest()


def lock_rows(conn: psycopg.Connection[tuple[Any, ...]], commands: Sequence[Command | CodecError]) -> None:
    """Lock (``FOR UPDATE``) the existing rows that ``commands`` update, delete or count a use of.

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
