"""How items are stored on PostgreSQL: the schema step that adds them, and rows back to `Item` values.

One row per live (namespace, key), as on SQLite. The namespace is ``path``, its labels joined with dots
(`memactor.model.items`), in the "C" collation, so a namespace and everything below it are one range of the
``UNIQUE (path, key)`` index. ``value`` is the document as compact JSON in a ``json`` column, not ``jsonb``:
``json`` keeps the text as written, so a float such as ``1e+23`` reads back as a float (``jsonb`` turns it
into the integer ``100000000000000000000000``) and a filter sees each number's own text, which tells an
integer from a float (`memactor.postgres.itemfilter`). ``text`` is the value's string leaves, searched
through a generated ``tsvector`` with the engine's ``memactor_text`` configuration. ``seq`` orders items by
first put (a replacement keeps it; a put over an expired item takes a new one, as SQLite's rowid does).
Path, key and text are escaped like the record tables' text (`memactor.postgres.rows.escape`): PostgreSQL
text cannot hold NUL. So is every string of the value, keys included, before it becomes JSON
(`encode_value`): PostgreSQL's ``json`` accepts ``\u0000`` but fails any statement that extracts a field
holding it, so a stored value holds no NUL and a filter can look into every field.
May import `memactor.model`, `memactor.postgres.rows` and psycopg.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from ..model.frozen import freeze
from ..model.items import Item, split_namespace
from .rows import escape, unescape

__all__ = ["ITEM_COLUMNS", "create_items", "encode_value", "escape_json", "item_from_row"]

ITEM_COLUMNS = "path, key, value::text, created_at, updated_at, version, ttl, expires_at"

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
# How the encoder writes the two characters `escape` rewrites: a value without them needs no walk.
_ESCAPED_CHARACTERS = ("\\u0000", "\\u0001")


def escape_json(value: Any) -> Any:
    """``value`` with every string in it, mapping keys included, escaped (`memactor.postgres.rows.escape`)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Mapping):
        return {escape(k): escape_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_json(v) for v in value]
    return value


def _unescape_json(value: Any) -> Any:
    if isinstance(value, str):
        return unescape(value)
    if isinstance(value, dict):
        return {unescape(k): _unescape_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape_json(v) for v in value]
    return value


def encode_value(value: Any) -> str:
    """A value as its stored JSON text: compact, non-ASCII as is, NUL and ``\x01`` escaped in every string.

    Raises:
        TypeError, ValueError: the value is not strict JSON.
    """
    text = _ENCODER.encode(value)
    if any(c in text for c in _ESCAPED_CHARACTERS):
        text = _ENCODER.encode(escape_json(value))
    return text


def _decode_value(text: str) -> Any:
    value = json.loads(text)
    if "\x01" in text or "\\u0001" in text:
        value = _unescape_json(value)
    return value


def create_items(conn: psycopg.Connection[tuple[object, ...]], text_config: str) -> None:
    """The schema step that adds the items table (version 2), inside `memactor.postgres.schema.migrate`.

    Args:
        conn: The migrating connection, inside its transaction.
        text_config: The text search configuration the record tables use (``memactor_text``).
    """
    conn.execute(f"""
CREATE TABLE items (
    seq bigserial NOT NULL,
    path text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value json NOT NULL,
    text text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    version bigint NOT NULL,
    ttl double precision,
    expires_at double precision,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('{text_config}'::regconfig, text)) STORED,
    PRIMARY KEY (path, key)
);
CREATE INDEX items_by_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX items_by_seq ON items (seq);
CREATE INDEX items_tsv ON items USING gin (tsv);
""")


def item_from_row(row: Sequence[Any]) -> Item:
    """Build an `Item` from a row of `ITEM_COLUMNS` (stored values were validated when put)."""
    path, key, value, created_at, updated_at, version, ttl, expires_at = row[:8]
    item = object.__new__(Item)
    for name, field in (
        ("namespace", split_namespace(unescape(path))),
        ("key", unescape(key)),
        ("value", freeze(_decode_value(value))),
        ("created_at", float(created_at)),
        ("updated_at", float(updated_at)),
        ("version", int(version)),
        ("ttl", None if ttl is None else float(ttl)),
        ("expires_at", None if expires_at is None else float(expires_at)),
    ):
        object.__setattr__(item, name, field)
    return item
