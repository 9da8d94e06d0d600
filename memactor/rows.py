"""Records to SQLite rows and back: JSON for tuples and metadata, integers for booleans."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from .records import RECORD_TYPES, Record

__all__ = ["COLUMNS", "from_row", "to_row"]

COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in dataclasses.fields(cls)) for kind, cls in RECORD_TYPES.items()
}
_JSON_COLUMNS = frozenset({"tags", "metadata", "steps", "source_episode_ids"})
_TUPLE_COLUMNS = frozenset({"tags", "steps", "source_episode_ids"})


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _dumps(value: object) -> str:
    # Most records have no tags or metadata: skip the encoder for them (it is on the writer's hot path).
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    return _ENCODER.encode(value)


def to_row(record: Record) -> dict[str, Any]:
    """Return the column values of ``record``, keyed by column name, ready to bind."""
    return {
        name: _dumps(getattr(record, name)) if name in _JSON_COLUMNS else getattr(record, name)
        for name in COLUMNS[record.KIND]
    }


def from_row(kind: str, row: sqlite3.Row) -> Record:
    """Build the record of ``kind`` from a row selected with ``SELECT <COLUMNS>``."""
    values: dict[str, Any] = {}
    for name in COLUMNS[kind]:
        value = row[name]
        if name in _TUPLE_COLUMNS:
            value = tuple(json.loads(value))
        elif name == "metadata":
            value = json.loads(value)
        elif name == "success" and value is not None:
            value = bool(value)
        values[name] = value
    return RECORD_TYPES[kind](**values)
