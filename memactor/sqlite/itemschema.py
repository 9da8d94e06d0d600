"""How items are stored: the schema step that adds them, and rows back to `Item` values.

One row per live (namespace, key). The namespace is stored as ``path``, its labels joined with dots (no
label holds one), so the ``UNIQUE (path, key)`` index answers a namespace and everything below it as one
range scan (`memactor.model.items`). ``value`` is the document as compact JSON, which SQLite's JSON functions
read for filters; ``text`` is its string leaves, indexed by FTS5 for text queries. ``expires_at`` has a
partial index, so the writer's sweep of expired items looks only at items with a TTL.

The FTS index follows the table through triggers (items are replaced in place, so an update must remove
the old text: unlike the record tables, no per-batch indexing is kept here). It stems, as the record
tables' do, since schema version 6.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from ..model.frozen import freeze
from ..model.items import Item, split_namespace

__all__ = ["ITEMS_FTS_TRIGGERS", "ITEMS_SCHEMA", "ITEM_COLUMNS", "item_from_row"]

# The triggers that keep ``items_fts`` in step with every insert, replacement and delete of an item.
ITEMS_FTS_TRIGGERS = """
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO items_fts (rowid, text) VALUES (new.rowid, new.text);
END;
"""
# The schema step that adds items (version 3): self-contained, so other steps merge around it. Its text index
# uses SQLite's default tokenizer; version 6 rebuilds it stemmed (`memactor.sqlite.schema`).
ITEMS_SCHEMA = (
    """
CREATE TABLE items (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL,
    ttl REAL,
    expires_at REAL,
    UNIQUE (path, key)
);
CREATE INDEX items_by_expiry ON items(expires_at) WHERE expires_at IS NOT NULL;
CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='rowid');
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
"""
    + ITEMS_FTS_TRIGGERS
)

ITEM_COLUMNS = "path, key, value, created_at, updated_at, version, ttl, expires_at"
_FIELDS = tuple(f.name for f in dataclasses.fields(Item))


def item_from_row(row: Sequence[Any]) -> Item:
    """Build an `Item` from a row of `ITEM_COLUMNS` (stored values were validated when put)."""
    item = object.__new__(Item)
    for name, value in zip(_FIELDS, _converted(row), strict=True):
        object.__setattr__(item, name, value)
    return item


def _converted(row: Sequence[Any]) -> tuple[Any, ...]:
    path, key, value, created_at, updated_at, version, ttl, expires_at = row[:8]
    # RETURNING can answer a REAL column's integral value as an int (it is stored so on disk): floats again.
    return (
        split_namespace(path),
        key,
        freeze(json.loads(value)),
        float(created_at),
        float(updated_at),
        version,
        None if ttl is None else float(ttl),
        None if expires_at is None else float(expires_at),
    )
