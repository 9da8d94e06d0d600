"""What an item filter means: `check_filter` validates one, `matches` is the definition of a match.

A filter maps top-level keys of an item's value (a key with a dot in it is one literal key, never a path)
to a condition, and an item matches when every condition holds:

- a plain value ``v`` (or ``{"$eq": v}``): the field equals ``v``, by value as Python compares JSON values
  (so ``1 == 1.0 == true`` and a missing field equals ``None``, as in LangGraph's ``InMemoryStore``). A plain
  dict is matched as a subset, key by key; a plain list element by element (``InMemoryStore`` again);
- ``{"$ne": v}``: the field does not equal ``v``; an item that lacks the field matches (unless ``v`` is None);
- ``{"$gt" | "$gte" | "$lt" | "$lte": v}`` with ``v`` a number or a string: the field is of the same sort
  (a number, booleans excluded, or a string) and compares so. Integers compare exactly, never through floats
  (``2**53 + 1 > 2**53`` holds); strings by code point. A field of another sort, or none, does not match.

Several operators in one mapping must all hold. The SQL that evaluates filters in the database
(`memactor.sqlite.itemread`) is tested against `matches`, which is the definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInputError
from .frozen import FrozenDict
from .validate import check_metadata

__all__ = ["OPERATORS", "ORDERING", "check_filter", "matches"]

ORDERING = {"$gt", "$gte", "$lt", "$lte"}
OPERATORS = frozenset({"$eq", "$ne", *ORDERING})


def check_filter(value: object) -> FrozenDict | None:
    """Return a frozen copy of ``value`` if it is a valid filter (None and ``{}`` mean no filter).

    Raises:
        InvalidInputError: not a strict-JSON mapping, an unknown ``$`` operator, a mapping that mixes
            operators with plain keys, or an ordering operator whose operand is not a number or a string.
    """
    if value is None:
        return None
    if isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)
    frozen = check_metadata("filter", value)
    for key, condition in frozen.items():
        if is_operator_map(condition):
            _check_operators(key, condition)
    return frozen or None


def is_operator_map(condition: object) -> bool:
    """Whether a condition is a mapping of ``$`` operators (rather than a plain dict to match)."""
    return isinstance(condition, dict) and any(k.startswith("$") for k in condition)


def _check_operators(key: str, condition: Mapping[str, Any]) -> None:
    for operator, operand in condition.items():
        if operator not in OPERATORS:
            raise InvalidInputError(
                f"filter on {key!r}: unknown operator {operator!r} (use {sorted(OPERATORS)}; a mapping with"
                " one $ key is read as operators only)"
            )
        if operator in ORDERING and not (_is_number(operand) or isinstance(operand, str)):
            raise InvalidInputError(f"filter on {key!r}: {operator} compares numbers or strings, not {operand!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:  # noqa: A002 - LangGraph's name
    """Whether an item's ``value`` matches ``filter`` (see the module docstring)."""
    if not filter:
        return True
    return all(_condition(value.get(key), condition) for key, condition in filter.items())


def _condition(field: Any, condition: Any) -> bool:
    if is_operator_map(condition):
        return all(_operator(field, op, operand) for op, operand in condition.items())
    return _like(field, condition)


def _like(field: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(field, dict) and all(_like(field.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, (list, tuple)):
        return (
            isinstance(field, (list, tuple))
            and len(field) == len(pattern)
            and all(_like(f, p) for f, p in zip(field, pattern, strict=True))
        )
    return bool(field == pattern)


def _operator(field: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(field == operand)
    if operator == "$ne":
        return bool(field != operand)
    if _is_number(operand):
        if not _is_number(field):
            return False
    elif not isinstance(field, str):
        return False
    # Python compares int with int and int with float exactly, so no integer is rounded to a float here.
    if operator == "$gt":
        return bool(field > operand)
    if operator == "$gte":
        return bool(field >= operand)
    if operator == "$lt":
        return bool(field < operand)
    return bool(field <= operand)
