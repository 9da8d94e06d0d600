"""Answer item queries on a read-only connection: plain sync SQL, testable without an event loop.

Filters run in SQL (`compile_filter`): each condition becomes JSON-function SQL over ``value``, with the
key bound as a parameter inside a quoted JSON path (so a key with a dot is one literal key), and an
expression that stays false, never NULL, for a missing field (so ``$ne`` matches it). SQLite compares a
JSON integer with an integer exactly and with a real exactly too, and it reads JSON reals exactly as Python
writes them (no difference in 300,000 random doubles, measured here), so numbers compare as in Python;
``json_type`` keeps numbers, strings, booleans and null apart where Python does. What SQL cannot say
exactly (a dict or list operand, a key holding ``"``) is narrowed in SQL to a superset (the right JSON
type, the list's length) and decided in Python by `memactor.model.itemfilter.matches`, the definition, which
every candidate meets anyway; limit and offset then apply after it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from ..model.itemfilter import ORDERING, is_operator_map
from ..model.itemops import (
    GetItems,
    ListNamespaces,
    SearchItems,
    literal_prefix,
    namespaces_listed,
    page_of_matches,
    scope_condition,
)
from ..model.items import Item, join_namespace, split_namespace
from .fts import fts_match
from .itemschema import ITEM_COLUMNS, item_from_row

__all__ = ["compile_filter", "run_item_query"]

_LIVE = "(i.expires_at IS NULL OR i.expires_at > :now)"
_SQL_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_COLUMNS = ", ".join(f"i.{c}" for c in ITEM_COLUMNS.split(", "))


def run_item_query(conn: sqlite3.Connection, query: GetItems | SearchItems | ListNamespaces) -> Any:
    """Answer one item query: a list of `Item` (get, search) or of namespace tuples (list_namespaces)."""
    if isinstance(query, GetItems):
        return _get(conn, query)
    if isinstance(query, SearchItems):
        return _search(conn, query)
    return _list_namespaces(conn, query)


def _get(conn: sqlite3.Connection, query: GetItems) -> list[Item]:
    wanted = list(dict.fromkeys((join_namespace(ns), key) for ns, key in query.addresses))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM json_each(:wanted) AS w JOIN items AS i"
        " ON i.path = json_extract(w.value, '$[0]') AND i.key = json_extract(w.value, '$[1]')"
        f" WHERE {_LIVE}",
        {"wanted": json.dumps(wanted), "now": query.now},
    )
    found = {(row[0], row[1]): item_from_row(row) for row in rows}
    return [found[address] for address in wanted if address in found]


def _scope(prefix: tuple[str, ...], roots: tuple[str, ...] | None, params: dict[str, Any]) -> str | None:
    """SQL limiting ``i.path`` to ``prefix`` and below, and to ``roots``; None when nothing can match."""
    return scope_condition(prefix, roots, lambda name, path: _subtree(name, path, params), "1")


def _subtree(name: str, path: str, params: dict[str, Any]) -> str:
    # '/' follows '.' in code point order: [path + '.', path + '/') is everything below path.
    params.update({name: path, f"{name}_lo": path + ".", f"{name}_hi": path + "/"})
    return f"(i.path = :{name} OR (i.path >= :{name}_lo AND i.path < :{name}_hi))"


def _search(conn: sqlite3.Connection, query: SearchItems) -> list[Item]:
    params: dict[str, Any] = {"now": query.now}
    scope = _scope(query.prefix, query.roots, params)
    if scope is None:
        return []
    condition, filter_params, exact = compile_filter(query.filter)
    params.update(filter_params)
    source, order = "items AS i", "i.rowid"
    if query.text is not None:
        match = fts_match(query.text)
        if match is None:
            return []
        source = "items_fts AS f JOIN items AS i ON i.rowid = f.rowid"
        scope += " AND f.items_fts MATCH :match"
        order = "f.rank, i.rowid"
        params["match"] = match
    sql = f"SELECT {_COLUMNS} FROM {source} WHERE {scope} AND {_LIVE} AND {condition} ORDER BY {order}"
    if exact:
        sql += " LIMIT :limit OFFSET :offset"
        params.update(limit=query.limit, offset=query.offset)
        return [item_from_row(row) for row in conn.execute(sql, params)]
    return page_of_matches((item_from_row(row) for row in conn.execute(sql, params)), query)


def compile_filter(filter: Mapping[str, Any] | None) -> tuple[str, dict[str, Any], bool]:  # noqa: A002
    """SQL for ``filter`` over ``i.value``: ``(condition, parameters, exact)``.

    ``exact`` is False when the condition only narrows to a superset and `matches` must decide.
    """
    if not filter:
        return "1", {}, True
    parts, params, exact = [], {}, True
    for index, (key, condition) in enumerate(filter.items()):
        if not key or '"' in key:
            exact = False  # a JSON path cannot quote it: Python decides
            continue
        path = f":k{index}"
        params[f"k{index}"] = f'$."{key}"'
        terms = condition.items() if is_operator_map(condition) else [("$like", condition)]
        for number, (operator, operand) in enumerate(terms):
            name = f"v{index}_{number}"
            sql, sure = _term(path, operator, operand, name, params)
            parts.append(sql)
            exact = exact and sure
    return " AND ".join(parts) or "1", params, exact


def _term(path: str, operator: str, operand: Any, name: str, params: dict[str, Any]) -> tuple[str, bool]:
    kind, value = f"json_type(i.value, {path})", f"json_extract(i.value, {path})"
    if operator in ORDERING:
        params[name] = operand
        sort = "'text'" if isinstance(operand, str) else "'integer', 'real'"
        return f"coalesce({kind} IN ({sort}) AND {value} {_SQL_OPERATORS[operator]} :{name}, 0)", True
    if operator == "$like" and isinstance(operand, (list, tuple)):
        # Element by element, a dict element matched as a subset: Python decides after this narrowing.
        params[name] = len(operand)
        return f"coalesce({kind} = 'array' AND json_array_length(i.value, {path}) = :{name}, 0)", False
    equal, sure = _equal(kind, value, operand, name, params)
    if operator == "$ne":
        return (f"NOT {equal}", True) if sure else ("1", False)
    return equal, sure


def _equal(kind: str, value: str, operand: Any, name: str, params: dict[str, Any]) -> tuple[str, bool]:
    """SQL for "the field equals ``operand``" as Python compares, never NULL, and whether it is exact."""
    if operand is None:
        return f"coalesce({kind} IS NULL OR {kind} = 'null', 0)", True
    if isinstance(operand, dict):
        return f"coalesce({kind} = 'object', 0)", False
    if isinstance(operand, (list, tuple)):
        return f"coalesce({kind} = 'array', 0)", False
    params[name] = operand
    if isinstance(operand, str):
        return f"coalesce({kind} = 'text' AND {value} = :{name}, 0)", True
    # Numbers and booleans: Python has True == 1 and 1 == 1.0; json_extract reads true as 1, false as 0.
    return f"coalesce({kind} IN ('integer', 'real', 'true', 'false') AND {value} = :{name}, 0)", True


def _list_namespaces(conn: sqlite3.Connection, query: ListNamespaces) -> list[tuple[str, ...]]:
    params: dict[str, Any] = {"now": query.now}
    scope = _scope(literal_prefix(query), query.roots, params)
    if scope is None:
        return []
    rows = conn.execute(f"SELECT DISTINCT i.path FROM items AS i WHERE {scope} AND {_LIVE}", params)
    return namespaces_listed((split_namespace(path) for (path,) in rows), query)
