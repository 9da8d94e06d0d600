"""Checks shared by records, filters and arguments.

Every check raises `InvalidInputError` naming the field and what was wrong, so a bad value is refused
before it reaches the mailbox.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import InvalidInputError
from .frozen import EMPTY, FrozenDict, FrozenList

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_TEXT_CHARS = 16 * 1024 * 1024
MAX_METADATA_DEPTH = 32
MAX_LIMIT = 10_000
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:@/+=-]{1,128}")


def check_text(name: str, value: object, *, required: bool = False) -> str:
    """Return ``value`` if it is storable text; empty text is refused when ``required``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a str, not {type(value).__name__}")
    if required and (not value or value.isspace()):  # as `not value.strip()`, without copying the text
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"{name} is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    if value.isascii():  # a flag lookup in CPython: skips the encode below for most text
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates cannot be stored as UTF-8 by SQLite.
        raise InvalidInputError(f"{name} is not valid Unicode: {exc.reason}") from None
    return value


def check_query_text(value: object) -> str | None:
    """Return search text, or None for none: empty and whitespace-only text count as no text.

    A tool that passes ``""`` for "no query" then lists the newest records, as ``search()`` does, rather
    than matching nothing.
    """
    if value is None:
        return None
    text = check_text("query", value)
    return None if not text or text.isspace() else text


def check_optional_text(name: str, value: object) -> str | None:
    """Return ``value`` if it is None or storable text."""
    return None if value is None else check_text(name, value)


def check_id(name: str, value: object) -> str:
    """Return ``value`` if it is a well-formed record id (1-128 chars of ``[A-Za-z0-9_.:@/+=-]``)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a str, not {type(value).__name__}")
    if not _ID_PATTERN.fullmatch(value):
        raise InvalidInputError(f"{name} {value[:80]!r} is not a valid id (1-128 of A-Z a-z 0-9 _ . : @ / + = -)")
    return value


def check_text_tuple(name: str, value: object) -> tuple[str, ...]:
    """Return ``value`` as a tuple of storable strings (lists are accepted)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise InvalidInputError(f"{name} must be a tuple of str, not {type(value).__name__}")
    for index, item in enumerate(value):
        # Records are built on every call, so the common case skips building a name per item.
        if type(item) is not str or not item.isascii() or len(item) > MAX_TEXT_CHARS:
            check_text(f"{name}[{index}]", item)
    return value if type(value) is tuple else tuple(value)


def check_id_tuple(name: str, value: object) -> tuple[str, ...]:
    """Return ``value`` as a tuple of well-formed ids (lists are accepted)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise InvalidInputError(f"{name} must be a tuple of ids, not {type(value).__name__}")
    return tuple(check_id(f"{name}[{i}]", item) for i, item in enumerate(value))


def check_float(name: str, value: object, *, low: float | None = None, high: float | None = None) -> float:
    """Return ``value`` as a finite float within ``[low, high]``; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number, not {type(value).__name__}")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInputError(f"{name} is beyond 64 bits")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be finite, not {number}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidInputError(f"{name} must be within [{low}, {high}], not {number}")
    return number


def check_optional_float(name: str, value: object, **bounds: float) -> float | None:
    """Return ``value`` if it is None or a finite float within the bounds."""
    return None if value is None else check_float(name, value, **bounds)


def check_int(name: str, value: object, *, low: int = 0, high: int = INT64_MAX) -> int:
    """Return ``value`` if it is an int (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be within [{low}, {high}], not {value}")
    return value


def check_optional_bool(name: str, value: object) -> bool | None:
    """Return ``value`` if it is None or a bool (ints are refused: ``1`` is not ``True`` here)."""
    if value is not None and not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a bool or None, not {type(value).__name__}")
    return value


def check_limit(value: object) -> int:
    """Return ``value`` if it is a result limit within 1..10,000."""
    return check_int("limit", value, low=1, high=MAX_LIMIT)


def check_metadata(name: str, value: object) -> FrozenDict:
    """Return a frozen copy of ``value`` if it is a strict-JSON object: str keys, finite numbers, 64-bit ints,
    bounded depth.

    The copy is made first and then checked, so what passed is exactly what the record keeps, whatever
    happens to ``value`` afterwards. A `FrozenDict` cannot change, so it is checked and kept as it is.
    """
    if type(value) is FrozenDict:
        if value:  # most records carry none: the shared empty one
            _check_json(name, value, 0)
        return value
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be a dict, not {type(value).__name__}")
    frozen: FrozenDict = _checked_copy(name, value, 0)
    return frozen


def _checked_copy(path: str, value: object, depth: int) -> Any:
    """Check one JSON value and return it with every dict and list in it copied into its frozen form."""
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"{path} is nested deeper than {MAX_METADATA_DEPTH} levels")
    # Records are built on every call: plain leaves skip building a path that only an error would use.
    if isinstance(value, (list, tuple)):
        items = FrozenList(value)
        for i, item in enumerate(items):
            if not _plain(item):
                list.__setitem__(items, i, _checked_copy(f"{path}[{i}]", item, depth + 1))
        return items
    if isinstance(value, dict):
        if not value:
            return EMPTY
        mapping = FrozenDict(value)
        for key, item in mapping.items():
            if type(key) is not str or not _plain(key):
                _check_key(path, key)
            if not _plain(item):
                dict.__setitem__(mapping, key, _checked_copy(f"{path}[{key!r}]", item, depth + 1))
        return mapping
    _check_leaf(path, value)
    return value


def _check_json(path: str, value: object, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"{path} is nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if not _plain(item):
                _check_json(f"{path}[{i}]", item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str or not _plain(key):
                _check_key(path, key)
            if not _plain(item):
                _check_json(f"{path}[{key!r}]", item, depth + 1)
        return
    _check_leaf(path, value)


def _check_key(path: str, key: object) -> None:
    if not isinstance(key, str):
        raise InvalidInputError(f"{path} has a key of type {type(key).__name__}; JSON keys are str")
    check_text(f"{path} key", key)


def _check_leaf(path: str, value: object) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        check_float(path, value)
        return
    if isinstance(value, str):
        check_text(path, value)
        return
    raise InvalidInputError(f"{path} holds a {type(value).__name__}, which is not JSON")


def _plain(value: object) -> bool:
    """Whether ``value`` is a JSON leaf that passes every check: None, a bool, a 64-bit int, a finite float,
    or ASCII text within the length limit (False only means "look closer")."""
    if type(value) is str:
        return value.isascii() and len(value) <= MAX_TEXT_CHARS
    if type(value) is int:
        return INT64_MIN <= value <= INT64_MAX
    if type(value) is float:
        return math.isfinite(value)
    return value is None or type(value) is bool
