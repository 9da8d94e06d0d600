"""Records to PostgreSQL rows and back.

Tuples and metadata are stored as JSON text, exactly as the SQLite engine stores them, so both engines read
back the same values: ``jsonb`` would reorder keys, fold duplicate numbers and refuse ``\\u0000``. Booleans are
``boolean``, floats ``double precision``, integers ``bigint``. May import `memactor.errors` and `memactor.model`.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidInputError
from ..model.frozen import EMPTY, freeze
from ..model.records import RECORD_TYPES, Record, unchecked_builder

__all__ = ["COLUMNS", "JSON_COLUMNS", "column_values", "from_row", "insert_values", "select_list"]

COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in dataclasses.fields(cls)) for kind, cls in RECORD_TYPES.items()
}
JSON_COLUMNS = frozenset({"tags", "metadata", "steps", "source_episode_ids"})
_TUPLE_COLUMNS = frozenset({"tags", "steps", "source_episode_ids"})
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _json_column(record: Record, name: str, value: object) -> str:
    try:
        # A cheap shape check: a row whose JSON is not what its field holds could not be read back.
        if not isinstance(value, dict if name == "metadata" else tuple):
            raise TypeError(f"it holds a {type(value).__name__}")
        if not value:
            return "{}" if name == "metadata" else "[]"
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError) as exc:
        # Only a record changed behind its checks gets here: its own error, not the writer's death.
        raise InvalidInputError(f"{record.KIND} {record.id}: {name} cannot be stored as strict JSON: {exc}") from None


def column_values(record: Record, names: Iterable[str]) -> dict[str, Any]:
    """Return the values of the columns ``names`` of ``record``, keyed by name, ready to bind.

    Raises:
        InvalidInputError: a JSON column holds what strict JSON cannot.
    """
    return {
        name: _json_column(record, name, getattr(record, name)) if name in JSON_COLUMNS else getattr(record, name)
        for name in names
    }


_GETTERS = {kind: operator.attrgetter(*names) for kind, names in COLUMNS.items()}
_JSON_POSITIONS = {kind: [i for i, n in enumerate(names) if n in JSON_COLUMNS] for kind, names in COLUMNS.items()}
_CREATED, _UPDATED, _VERSION = (COLUMNS["episode"].index(n) for n in ("created_at", "updated_at", "version"))
assert all(COLUMNS[kind][: _VERSION + 1] == COLUMNS["episode"][: _VERSION + 1] for kind in COLUMNS)


def insert_values(record: Record, now: float) -> list[Any]:
    """The values of a new row for ``record`` in `COLUMNS` order, as the writer stores it: version 1,
    ``created_at`` defaulting to ``now`` and ``updated_at`` to ``created_at``.

    Raises:
        InvalidInputError: a JSON column holds what strict JSON cannot (the record was changed after its checks).
    """
    values = list(_GETTERS[record.KIND](record))
    for position in _JSON_POSITIONS[record.KIND]:
        values[position] = _json_column(record, COLUMNS[record.KIND][position], values[position])
    if values[_CREATED] is None:
        values[_CREATED] = now
    if values[_UPDATED] is None:
        values[_UPDATED] = values[_CREATED]
    values[_VERSION] = 1
    return values


def select_list(kind: str, alias: str = "") -> str:
    """The column list that `from_row` expects, in order (``alias.`` before each column if given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in COLUMNS[kind])


def _to_tuple(text: str) -> tuple[Any, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def _to_metadata(text: str) -> Any:
    # Records are values: metadata read back is as read-only as the record's own copy was.
    return EMPTY if text == "{}" else freeze(json.loads(text))


_DECODERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    kind: {name: _to_tuple if name in _TUPLE_COLUMNS else _to_metadata for name in names if name in JSON_COLUMNS}
    for kind, names in COLUMNS.items()
}
_BUILDERS = {kind: unchecked_builder(cls, _DECODERS[kind]) for kind, cls in RECORD_TYPES.items()}


def from_row(kind: str, row: Sequence[Any]) -> Record:
    """Build the record of ``kind`` from a row selected with `select_list` (extra trailing columns ignored).

    The writer validated every record it stored, so this skips validation.
    """
    return _BUILDERS[kind](row)
