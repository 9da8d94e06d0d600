"""What the item commands do to a PostgreSQL database: plain sync SQL inside the command's savepoint.

The same rules as on SQLite (`memactor.sqlite.items`): an item whose ``expires_at`` has passed at the
command's own ``at`` is absent to every statement here, a put over it starts afresh (version 1, a new place
in first-put order), and `sweep_items` deletes expired items for good. Many writer processes may put the
same address at once: `memactor.postgres.locks` takes a transaction-scoped advisory lock per address a group
writes, before its first command, so the version a put checks is the one it replaces even when the item
does not exist yet (a row lock cannot lock an absent row). May import `memactor.errors`, `memactor.model`
and psycopg.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..errors import ConflictError, InvalidInputError
from ..model.itemops import MAX_VALUE_BYTES, DeleteItem, PutItem, SweepItems, TouchItems
from ..model.items import Item, join_namespace, value_text
from .itemschema import ITEM_COLUMNS, encode_value, item_from_row
from .rows import escape

__all__ = ["delete_item", "put_item", "sweep_items", "touch_items"]

Conn = psycopg.Connection[tuple[Any, ...]]

_DROP_EXPIRED = "DELETE FROM items WHERE path = %(path)s AND key = %(key)s AND expires_at <= %(at)s"
_VERSION = (
    "SELECT version FROM items WHERE path = %(path)s AND key = %(key)s"
    " AND (expires_at IS NULL OR expires_at > %(at)s) FOR UPDATE"
)
# ``seq`` survives a replacement (DO UPDATE), so an item keeps its place in first-put order.
_UPSERT = f"""
INSERT INTO items AS i (path, key, value, text, created_at, updated_at, version, ttl, expires_at)
VALUES (%(path)s, %(key)s, %(value)s::json, %(text)s, %(at)s, %(at)s, 1, %(ttl)s, %(expires_at)s)
ON CONFLICT (path, key) DO UPDATE SET
    value = excluded.value, text = excluded.text, updated_at = greatest(i.updated_at, excluded.updated_at),
    version = i.version + 1, ttl = excluded.ttl, expires_at = excluded.expires_at
RETURNING {ITEM_COLUMNS}"""


def address(namespace: tuple[str, ...], key: str) -> dict[str, str]:
    """An item's address as stored: its escaped path and key."""
    return {"path": escape(join_namespace(namespace)), "key": escape(key)}


def put_item(conn: Conn, command: PutItem) -> Item:
    """Insert or replace one item.

    Raises:
        ConflictError: ``expect_version`` does not match (0: the item exists; v: it is absent or at another).
        InvalidInputError: the value's JSON exceeds 16 MiB, or holds what strict JSON cannot.
    """
    try:
        value = encode_value(command.value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"item {command.key!r}: the value is not strict JSON: {exc}") from None
    if len(value) > MAX_VALUE_BYTES:
        raise InvalidInputError(
            f"item {command.key!r}: the value is {len(value)} bytes of JSON; the limit is {MAX_VALUE_BYTES}"
        )
    params: dict[str, Any] = {**address(command.namespace, command.key), "at": command.at}
    conn.execute(_DROP_EXPIRED, params)
    if command.expect_version is not None:
        row = conn.execute(_VERSION, params).fetchone()
        current = 0 if row is None else int(row[0])
        if current != command.expect_version:
            state = "does not exist" if current == 0 else f"is at version {current}"
            raise ConflictError(
                f"item {command.key!r} in {command.namespace}: it {state}, not version {command.expect_version}"
            )
    expires_at = None if command.ttl is None else command.at + command.ttl
    params.update(value=value, text=escape(value_text(command.value)), ttl=command.ttl, expires_at=expires_at)
    row = conn.execute(_UPSERT, params).fetchone()
    assert row is not None  # an upsert always answers its row
    return item_from_row(row)


def delete_item(conn: Conn, command: DeleteItem) -> bool:
    """Delete one item; True if it existed and had not expired."""
    row = conn.execute(
        "DELETE FROM items WHERE path = %(path)s AND key = %(key)s RETURNING expires_at IS NULL OR expires_at > %(at)s",
        {**address(command.namespace, command.key), "at": command.at},
    ).fetchone()
    return bool(row is not None and row[0])


def touch_items(conn: Conn, command: TouchItems) -> int:
    """Refresh the expiry of live items with a TTL; returns how many were refreshed."""
    wanted = dict.fromkeys(tuple(address(ns, key).values()) for ns, key in command.addresses)
    cursor = conn.execute(
        "UPDATE items AS i SET expires_at = %(at)s + i.ttl"
        " FROM unnest(%(paths)s::text[], %(keys)s::text[]) AS w(path, key)"
        " WHERE i.path = w.path AND i.key = w.key AND i.ttl IS NOT NULL AND i.expires_at > %(at)s",
        {"at": command.at, "paths": [p for p, _ in wanted], "keys": [k for _, k in wanted]},
    )
    return max(0, cursor.rowcount)


def sweep_items(conn: Conn, command: SweepItems) -> int:
    """Delete every item expired at ``command.at``; returns how many."""
    return max(0, conn.execute("DELETE FROM items WHERE expires_at <= %s", (command.at,)).rowcount)
