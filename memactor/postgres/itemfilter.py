"""Item filters as PostgreSQL SQL that agrees with `memactor.model.itemfilter.matches`, the definition.

`compile_filter` turns each condition into SQL over ``i.value -> key`` (a ``json`` field; the key is a bound
parameter, so any key, dots and quotes included, is one literal key) that is false, never NULL, for a
missing field (so ``$ne`` matches it). Each guard is a ``CASE``, not ``AND``: PostgreSQL does not promise
to evaluate ``AND`` left to right, and a cast of a string field to a number must never run.

Numbers compare as Python compares them, exactly. A stored number's own text says what it was: without
``.``, ``e`` or ``E`` it is an integer, read as ``numeric`` (exact) and compared with the operand as an
exact ``numeric`` (a float operand's exact binary value); with them it is a float, read as ``float8``
(correctly rounded, so the float Python wrote) and compared in ``float8`` with bounds worked out here:
an integer operand that no float equals is replaced by the float just above or below it, so no integer is
ever rounded. Booleans are not numbers to ordering operators, but equal 1 and 0 (Python's ``True == 1``).
Strings compare by code point (``COLLATE "C"``); equality compares the field's JSON text with the operand's
(one encoder wrote both).

Keys and strings are compared in their stored, escaped form (NUL and ``\x01`` escaped,
`memactor.postgres.itemschema`), which keeps equality exact. What SQL cannot say exactly is narrowed in SQL
to a superset and decided in Python by `matches`, as on SQLite: a dict or list operand, and string ordering
(escaping changes the order of strings holding NUL or ``\x01``: such fields pass, and so does every string
when the operand holds one). May import `memactor.model` and `memactor.postgres.itemschema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..model.itemfilter import ORDERING, is_operator_map
from .itemschema import encode_value
from .rows import escape

__all__ = ["compile_filter"]

_SQL_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<=", "$eq": "="}
_FLOAT_TEXT = "[.eE]"


def compile_filter(filter: Mapping[str, Any] | None) -> tuple[str, dict[str, Any], bool]:  # noqa: A002
    """SQL for ``filter`` over ``i.value``: ``(condition, parameters, exact)``.

    ``exact`` is False when the condition only narrows to a superset and `matches` must decide.
    """
    if not filter:
        return "true", {}, True
    parts, params, exact = [], {}, True
    for index, (key, condition) in enumerate(filter.items()):
        params[f"k{index}"] = escape(key)  # as the stored value's keys are (`memactor.postgres.itemschema`)
        field = f"(i.value -> %(k{index})s)"
        terms = condition.items() if is_operator_map(condition) else [("$like", condition)]
        for number, (operator, operand) in enumerate(terms):
            sql, sure = _term(field, operator, operand, f"v{index}_{number}", params)
            parts.append(sql)
            exact = exact and sure
    return " AND ".join(parts) or "true", params, exact


def _term(field: str, operator: str, operand: Any, name: str, params: dict[str, Any]) -> tuple[str, bool]:
    kind = f"json_typeof({field})"
    if operator in ORDERING:
        if isinstance(operand, str):
            if escape(operand) != operand:
                return f"coalesce({kind} = 'string', false)", False
            params[name] = operand
            # A stored string holding NUL or \x01 is escaped, which changes its order: it passes, Python decides.
            return (
                f"CASE WHEN {kind} IS DISTINCT FROM 'string' THEN false"
                f" WHEN strpos({field}::text, '\\u0001') > 0 THEN true"
                f" ELSE ({field} #>> '{{}}') COLLATE \"C\" {_SQL_OPERATORS[operator]} %({name})s END",
                False,
            )
        number = _number(field, operator, operand, name, params)
        return f"CASE WHEN {kind} = 'number' THEN {number} ELSE false END", True
    if operator == "$like" and isinstance(operand, (list, tuple)):
        # Element by element, a dict element matched as a subset: Python decides after this narrowing.
        params[name] = len(operand)
        return f"CASE WHEN {kind} = 'array' THEN json_array_length({field}) = %({name})s ELSE false END", False
    equal, sure = _equal(field, kind, operand, name, params)
    if operator == "$ne":
        return (f"NOT {equal}", True) if sure else ("true", False)
    return equal, sure


def _equal(field: str, kind: str, operand: Any, name: str, params: dict[str, Any]) -> tuple[str, bool]:
    """SQL for "the field equals ``operand``" as Python compares, never NULL, and whether it is exact."""
    if operand is None:
        return f"coalesce({kind} = 'null', true)", True  # a missing field equals None
    if isinstance(operand, dict):
        return f"coalesce({kind} = 'object', false)", False
    if isinstance(operand, (list, tuple)):
        return f"coalesce({kind} = 'array', false)", False
    if isinstance(operand, str):
        params[name] = encode_value(operand)  # the JSON text the stored field has when equal
        return f"coalesce({field}::text = %({name})s, false)", True
    # Numbers and booleans: Python has True == 1 == 1.0 and False == 0.
    boolean = "true" if operand == 1 else "false" if operand == 0 else None
    as_bool = f"{field}::text = '{boolean}'" if boolean else "false"
    number = _number(field, "$eq", int(operand) if isinstance(operand, bool) else operand, name, params)
    return f"CASE {kind} WHEN 'number' THEN {number} WHEN 'boolean' THEN {as_bool} ELSE false END", True


def _number(field: str, operator: str, operand: int | float, name: str, params: dict[str, Any]) -> str:
    """SQL comparing a field known to be a JSON number with ``operand``, exactly as Python would."""
    params[f"{name}_n"] = Decimal(operand)  # exact, a float's binary value included
    as_float = _float_side(f"({field}::text)::float8", operator, operand, f"{name}_f", params)
    return (
        f"CASE WHEN {field}::text ~ '{_FLOAT_TEXT}' THEN {as_float}"
        f" ELSE ({field}::text)::numeric {_SQL_OPERATORS[operator]} %({name}_n)s END"
    )


def _float_side(stored: str, operator: str, operand: int | float, name: str, params: dict[str, Any]) -> str:
    """SQL comparing a stored float (``stored``) with ``operand`` in ``float8`` without rounding an integer."""
    bound = float(operand)
    if isinstance(operand, float) or bound == operand:
        params[name] = bound
        return f"{stored} {_SQL_OPERATORS[operator]} %({name})s"
    if operator == "$eq":
        return "false"  # no float equals this integer
    # f > n iff f >= the float just above n; f < n iff f <= the float just below it.
    if operator in ("$gt", "$gte"):
        params[name] = bound if bound > operand else math.nextafter(bound, math.inf)
        return f"{stored} >= %({name})s"
    params[name] = bound if bound < operand else math.nextafter(bound, -math.inf)
    return f"{stored} <= %({name})s"
