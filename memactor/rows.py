"""Records to SQLite rows and back: JSON for tuples and metadata, integers for booleans."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from .records import RECORD_TYPES, Record

__all__ = ["COLUMNS", "from_row", "select_list", "to_row"]

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


def select_list(kind: str, alias: str = "") -> str:
    """The column list that `from_row` expects, in order (``alias.`` before each column if given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in COLUMNS[kind])


def _loads(text: str) -> Any:
    # Most records have no tags, steps or metadata: skip the decoder for them (it is on every read).
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return json.loads(text)


def _to_tuple(text: str) -> tuple[Any, ...]:
    return tuple(_loads(text))


def _to_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


# Per kind, each column's name and how to turn its stored value back (None: as it is).
_DECODERS: dict[str, tuple[tuple[str, Any], ...]] = {
    kind: tuple(
        (
            name,
            _to_tuple
            if name in _TUPLE_COLUMNS
            else _loads
            if name == "metadata"
            else _to_bool
            if name == "success"
            else None,
        )
        for name in names
    )
    for kind, names in COLUMNS.items()
}


def from_row(kind: str, row: Sequence[Any]) -> Record:
    """Build the record of ``kind`` from a row selected with `select_list` (extra trailing columns ignored).

    The writer validated every record it stored, so this skips validation: it is most of a read's cost.
    """
    record = object.__new__(RECORD_TYPES[kind])
    setattr_ = object.__setattr__
    for (name, decode), value in zip(_DECODERS[kind], row, strict=False):
        setattr_(record, name, value if decode is None else decode(value))
    return record
