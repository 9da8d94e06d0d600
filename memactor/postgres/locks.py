"""Lock, at the start of a group commit, every stored row its commands will change, in one global order.

Many writer processes share a PostgreSQL database, and each group commit holds the row locks of every
command applied so far until it commits. Two groups that change the same rows in different orders would
deadlock (PostgreSQL then aborts one after ``deadlock_timeout``, a second by default). Taking every lock
the group will need up front, ordered by table and id, makes two groups wait for each other instead: the
first to lock the smallest row shared goes first. Measured with 4 processes recording uses of 3 skills in
shuffled orders (tests/postgres/test_many_writers.py): without it, batches deadlocked again and again.

What is locked is what updates, deletes and ``record_use`` name by id; rows an add inserts do not exist yet
(a race on them waits on the unique index, and the rare deadlock left is retried by the applier).
May import `memactor.model` and psycopg.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ..errors import CodecError
from ..model.commands import Batch, Command, DeleteRecord, RecordUse, UpdateRecord
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


def lock_rows(conn: psycopg.Connection[tuple[Any, ...]], commands: Sequence[Command | CodecError]) -> None:
    """Lock (``FOR UPDATE``) the existing rows that ``commands`` update, delete or count a use of.

    Raises:
        psycopg.Error: PostgreSQL failed (a lock timeout, a deadlock with a group that locks otherwise).
    """
    by_kind: dict[str, set[str]] = {}
    for kind, record_id in _targets(commands):
        by_kind.setdefault(kind, set()).add(record_id)
    for kind in sorted(by_kind):
        conn.execute(
            f"SELECT 1 FROM {TABLES[kind].name} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (sorted(by_kind[kind]),)
        )
