"""What the item commands do to the database: plain sync SQL inside the writer's transaction.

Each function writes with one statement that can fail (a put first deletes its own address if the item
there has expired, which changes nothing anyone can see), so SQLite's statement rollback isolates it and no
savepoint is needed. Expired items are invisible at once: every statement here treats an item whose
``expires_at`` has passed (at the command's own ``at``) as absent; `sweep_items` deletes them for good.
"""

from __future__ import annotations

import json
import sqlite3

from ..errors import ConflictError, InvalidInputError
from ..model.itemops import MAX_VALUE_BYTES, DeleteItem, PutItem, SweepItems, TouchItems
from ..model.items import Item, join_namespace, value_text
from .itemschema import ITEM_COLUMNS, item_from_row

__all__ = ["delete_item", "put_item", "sweep_items", "touch_items"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))

_DROP_EXPIRED = "DELETE FROM items WHERE path = :path AND key = :key AND expires_at <= :at"
_VERSION = "SELECT version FROM items WHERE path = :path AND key = :key AND (expires_at IS NULL OR expires_at > :at)"
# The rowid survives a replacement (DO UPDATE), so an item keeps its place in first-put order.
_UPSERT = f"""
INSERT INTO items (path, key, value, text, created_at, updated_at, version, ttl, expires_at)
VALUES (:path, :key, :value, :text, :at, :at, 1, :ttl, :expires_at)
ON CONFLICT (path, key) DO UPDATE SET
    value = excluded.value, text = excluded.text, updated_at = max(updated_at, excluded.updated_at),
    version = version + 1, ttl = excluded.ttl, expires_at = excluded.expires_at
RETURNING {ITEM_COLUMNS}"""


def put_item(conn: sqlite3.Connection, command: PutItem) -> Item:
    """Insert or replace one item.

    Raises:
        ConflictError: ``expect_version`` does not match (0: the item exists; v: it is absent or at another).
        InvalidInputError: the value's JSON exceeds 16 MiB, or holds what strict JSON cannot.
    """
    try:
        value = _ENCODER.encode(command.value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"item {command.key!r}: the value is not strict JSON: {exc}") from None
    if len(value) > MAX_VALUE_BYTES:
        raise InvalidInputError(
            f"item {command.key!r}: the value is {len(value)} bytes of JSON; the limit is {MAX_VALUE_BYTES}"
        )
    address = {"path": join_namespace(command.namespace), "key": command.key, "at": command.at}
    conn.execute(_DROP_EXPIRED, address)
    if command.expect_version is not None:
        row = conn.execute(_VERSION, address).fetchone()
        current = 0 if row is None else row[0]
        if current != command.expect_version:
            state = "does not exist" if current == 0 else f"is at version {current}"
            raise ConflictError(
                f"item {command.key!r} in {command.namespace}: it {state}, not version {command.expect_version}"
            )
    expires_at = None if command.ttl is None else command.at + command.ttl
    params = {**address, "value": value, "text": value_text(command.value), "ttl": command.ttl}
    row = conn.execute(_UPSERT, {**params, "expires_at": expires_at}).fetchone()
    return item_from_row(row)


def delete_item(conn: sqlite3.Connection, command: DeleteItem) -> bool:
    """Delete one item; True if it existed and had not expired."""
    row = conn.execute(
        "DELETE FROM items WHERE path = :path AND key = :key RETURNING expires_at IS NULL OR expires_at > :at",
        {"path": join_namespace(command.namespace), "key": command.key, "at": command.at},
    ).fetchone()
    return bool(row is not None and row[0])


def touch_items(conn: sqlite3.Connection, command: TouchItems) -> int:
    """Refresh the expiry of live items with a TTL; returns how many were refreshed."""
    cursor = conn.executemany(
        "UPDATE items SET expires_at = :at + ttl"
        " WHERE path = :path AND key = :key AND ttl IS NOT NULL AND expires_at > :at",
        [{"path": join_namespace(ns), "key": key, "at": command.at} for ns, key in command.addresses],
    )
    return max(0, cursor.rowcount)


def sweep_items(conn: sqlite3.Connection, command: SweepItems) -> int:
    """Delete every item expired at ``command.at``; returns how many."""
    return conn.execute("DELETE FROM items WHERE expires_at <= :at", {"at": command.at}).rowcount
