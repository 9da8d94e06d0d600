"""One JSON object per line for each record and item, with a ``"kind"`` field, and back.

Records keep every field (times, counters, version); importing one stores it with its times and counters
(the writer starts ``version`` again at 1). An item keeps its namespace, key, value and ``ttl``; its times are
the store's own (an import is a new put, and its ``ttl`` counts from then).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..errors import InvalidInputError
from ..model.items import Item
from ..model.records import RECORD_TYPES, Record

__all__ = ["ITEM", "KINDS", "dumps", "item_line", "loads", "record_line"]

ITEM = "item"
KINDS = (*RECORD_TYPES, ITEM)


def record_line(record: Record) -> dict[str, Any]:
    """The line object of a record: ``{"kind": "episode", "id": ..., ...}``."""
    line: dict[str, Any] = {"kind": record.KIND}
    for field in dataclasses.fields(record):
        line[field.name] = getattr(record, field.name)
    return line


def item_line(item: Item) -> dict[str, Any]:
    """The line object of an item: ``{"kind": "item", "namespace": [...], "key": ..., "value": {...}, ...}``."""
    return {"kind": ITEM, **{field.name: getattr(item, field.name) for field in dataclasses.fields(item)}}


def _plain(value: Any) -> Any:
    # Records hold tuples and read-only mappings; JSON wants lists and dicts.
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(line: dict[str, Any]) -> str:
    """One line of the file (no newline): strict JSON, non-ASCII kept."""
    return json.dumps(line, ensure_ascii=False, allow_nan=False, default=_plain, separators=(",", ":"))


def _record(kind: str, fields: dict[str, Any]) -> Record:
    cls = RECORD_TYPES[kind]
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInputError(f"{kind} has no field {unknown[0]!r}")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise InvalidInputError(f"{kind}: {exc}") from None


def loads(number: int, text: str) -> Record | dict[str, Any]:
    """Parse line ``number``: a record, or for an item a dict with ``namespace``, ``key``, ``value``, ``ttl``.

    Raises:
        InvalidInputError: not a JSON object of a known kind with valid fields (the message names the line).
    """
    try:
        line = json.loads(text)
        if not isinstance(line, dict):
            raise InvalidInputError(f"expected a JSON object, not {type(line).__name__}")
        kind = line.pop("kind", None)
        if kind not in KINDS:
            raise InvalidInputError(f'"kind" must be one of {list(KINDS)}, not {str(kind)[:40]!r}')
        if kind != ITEM:
            line.pop("version", None)  # the writer's: an imported record starts at version 1
            return _record(kind, line)
        if not isinstance(line.get("namespace"), list) or not isinstance(line.get("value"), dict):
            raise InvalidInputError('an item needs "namespace" (a list of labels) and "value" (an object)')
        return {
            "namespace": tuple(line["namespace"]),
            "key": line.get("key"),
            "value": line["value"],
            "ttl": line.get("ttl"),
        }
    except ValueError as exc:  # InvalidInputError is one, and so is json's error
        raise InvalidInputError(f"line {number}: {exc}; fix or remove that line, then import again") from None
