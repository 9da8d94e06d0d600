"""Records to PostgreSQL rows and back.

Steps, source ids and metadata are stored as JSON text, exactly as the SQLite engine stores them (``jsonb``
would reorder keys and refuse ``\\u0000``); tags are a ``text[]`` (so a tag filter is an indexed ``@>``).
Booleans are ``boolean``, floats ``double precision``, integers ``bigint``.

PostgreSQL's text cannot hold the NUL character, which memactor's records may: text columns and tags are
stored escaped (`escape`: ``\\x01`` becomes ``\\x01\\x01``, NUL becomes ``\\x01\\x02``) and unescaped when read,
so every record round-trips as on SQLite. Escaping is one-to-one, so equality filters compare escaped
values; both characters separate words for text search either way. JSON escapes NUL itself.
May import `memactor.errors` and `memactor.model`.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidInputError
from ..model.frozen import EMPTY, freeze
from ..model.records import RECORD_TYPES, Record, unchecked_builder

__all__ = [
    "COLUMNS",
    "array_literal",
    "column_values",
    "escape",
    "from_row",
    "insert_values",
    "select_list",
    "unescape",
]

COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in dataclasses.fields(cls)) for kind, cls in RECORD_TYPES.items()
}
_JSON_COLUMNS = frozenset({"metadata", "steps", "source_episode_ids"})
_TEXT_COLUMNS = frozenset({"namespace", "agent_id", "task", "outcome", "content", "name", "description", "code"})
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_ESCAPED = re.compile("\x01(.)", re.DOTALL)


def escape(text: str) -> str:
    """``text`` as PostgreSQL can store it: NUL and the escape character itself escaped."""
    if "\x00" not in text and "\x01" not in text:
        return text
    return text.replace("\x01", "\x01\x01").replace("\x00", "\x01\x02")


def unescape(text: str) -> str:
    """The text `escape` was given."""
    if "\x01" not in text:
        return text
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "\x02" else m.group(1), text)


def array_literal(values: Sequence[str]) -> str:
    """A ``text[]`` literal of ``values`` (already escaped), for a bulk insert that unnests rows of arrays."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _stored(record: Record, name: str, value: Any) -> Any:
    if name in _TEXT_COLUMNS:
        return value if value is None or type(value) is not str else escape(value)
    if name == "tags":
        if not isinstance(value, tuple) or not all(type(tag) is str for tag in value):
            raise InvalidInputError(f"{record.KIND} {record.id}: tags must be a tuple of str")
        return [escape(tag) for tag in value]
    if name in _JSON_COLUMNS:
        return _json_column(record, name, value)
    return value


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
    """Return the stored values of the columns ``names`` of ``record``, keyed by name, ready to bind.

    Raises:
        InvalidInputError: a JSON column holds what strict JSON cannot.
    """
    return {name: _stored(record, name, getattr(record, name)) for name in names}


_GETTERS = {kind: operator.attrgetter(*names) for kind, names in COLUMNS.items()}
_CREATED, _UPDATED, _VERSION = (COLUMNS["episode"].index(n) for n in ("created_at", "updated_at", "version"))
assert all(COLUMNS[kind][: _VERSION + 1] == COLUMNS["episode"][: _VERSION + 1] for kind in COLUMNS)


def insert_values(record: Record, now: float) -> list[Any]:
    """The stored values of a new row for ``record`` in `COLUMNS` order, as the writer stores it: version 1,
    ``created_at`` defaulting to ``now`` and ``updated_at`` to ``created_at``.

    Raises:
        InvalidInputError: a JSON column holds what strict JSON cannot (the record was changed after its checks).
    """
    names = COLUMNS[record.KIND]
    values = [_stored(record, name, value) for name, value in zip(names, _GETTERS[record.KIND](record), strict=True)]
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


def _to_tags(values: list[str]) -> tuple[str, ...]:
    return tuple(map(unescape, values))


def _to_text(value: str | None) -> str | None:
    return None if value is None else unescape(value)


def _decoder(name: str) -> Callable[[Any], Any]:
    if name == "metadata":
        return _to_metadata
    if name == "tags":
        return _to_tags
    return _to_tuple if name in _JSON_COLUMNS else _to_text


_BUILDERS = {
    kind: unchecked_builder(
        cls, {n: _decoder(n) for n in COLUMNS[kind] if n in _JSON_COLUMNS | _TEXT_COLUMNS | {"tags"}}
    )
    for kind, cls in RECORD_TYPES.items()
}


def from_row(kind: str, row: Sequence[Any]) -> Record:
    """Build the record of ``kind`` from a row selected with `select_list` (extra trailing columns ignored).

    The writer validated every record it stored, so this skips validation.
    """
    return _BUILDERS[kind](row)
