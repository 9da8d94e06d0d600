"""Answer item queries on PostgreSQL: plain sync SQL, testable without an event loop.

As on SQLite (`memactor.sqlite.itemread`): a namespace and everything below it are one range of ``path``
(in the "C" collation ``/`` follows ``.``), filters run in SQL (`memactor.postgres.itemfilter`) and, where
that SQL only narrows, `memactor.model.itemfilter.matches` decides before limit and offset apply; a text
query matches any of its words, stemmed by ``memactor_text``, best ``ts_rank`` first, then first-put order.
Expired items are invisible at the query's own ``now``. May import `memactor.model` and psycopg.
"""

from __future__ import annotations

from typing import Any

import psycopg

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
from .itemfilter import compile_filter
from .itemschema import ITEM_COLUMNS, item_from_row
from .rows import escape, unescape
from .textquery import text_query

__all__ = ["run_item_query"]

Conn = psycopg.Connection[tuple[Any, ...]]

_LIVE = "(i.expires_at IS NULL OR i.expires_at > %(now)s)"
_COLUMNS = ", ".join(f"i.{c}" for c in ITEM_COLUMNS.split(", "))


def run_item_query(conn: Conn, query: GetItems | SearchItems | ListNamespaces) -> Any:
    """Answer one item query: a list of `Item` (get, search) or of namespace tuples (list_namespaces)."""
    if isinstance(query, GetItems):
        return _get(conn, query)
    if isinstance(query, SearchItems):
        return _search(conn, query)
    return _list_namespaces(conn, query)


def _get(conn: Conn, query: GetItems) -> list[Item]:
    wanted = list(dict.fromkeys((escape(join_namespace(ns)), escape(key)) for ns, key in query.addresses))
    rows = conn.execute(
        f"SELECT {_COLUMNS}, i.path, i.key FROM unnest(%(paths)s::text[], %(keys)s::text[]) AS w(path, key)"
        f" JOIN items AS i ON i.path = w.path AND i.key = w.key WHERE {_LIVE}",
        {"paths": [p for p, _ in wanted], "keys": [k for _, k in wanted], "now": query.now},
    )
    found = {(row[-2], row[-1]): item_from_row(row) for row in rows}
    return [found[address] for address in wanted if address in found]


def _scope(prefix: tuple[str, ...], roots: tuple[str, ...] | None, params: dict[str, Any]) -> str | None:
    """SQL limiting ``i.path`` to ``prefix`` and below, and to ``roots``; None when nothing can match."""
    return scope_condition(prefix, roots, lambda name, path: _subtree(name, path, params), "true")


def _subtree(name: str, path: str, params: dict[str, Any]) -> str:
    # '/' follows '.' in code point order: [path + '.', path + '/') is everything below path.
    path = escape(path)
    params.update({name: path, f"{name}_lo": path + ".", f"{name}_hi": path + "/"})
    return f"(i.path = %({name})s OR (i.path >= %({name}_lo)s AND i.path < %({name}_hi)s))"


def _search(conn: Conn, query: SearchItems) -> list[Item]:
    params: dict[str, Any] = {"now": query.now}
    scope = _scope(query.prefix, query.roots, params)
    if scope is None:
        return []
    condition, filter_params, exact = compile_filter(query.filter)
    params.update(filter_params)
    source, order = "items AS i", "i.seq"
    if query.text is not None:
        match = text_query(query.text)
        if match is None:
            return []
        expression, words = match
        params.update(words)
        source = f"items AS i, (SELECT {expression} AS q) AS q"
        scope += " AND i.tsv @@ q.q"
        order = "ts_rank(i.tsv, q.q) DESC, i.seq"
    sql = f"SELECT {_COLUMNS} FROM {source} WHERE {scope} AND {_LIVE} AND {condition} ORDER BY {order}"
    if exact:
        sql += " LIMIT %(limit)s OFFSET %(offset)s"
        params.update(limit=query.limit, offset=query.offset)
        return [item_from_row(row) for row in conn.execute(sql, params)]
    return page_of_matches((item_from_row(row) for row in conn.execute(sql, params)), query)


def _list_namespaces(conn: Conn, query: ListNamespaces) -> list[tuple[str, ...]]:
    params: dict[str, Any] = {"now": query.now}
    scope = _scope(literal_prefix(query), query.roots, params)
    if scope is None:
        return []
    rows = conn.execute(f"SELECT DISTINCT i.path FROM items AS i WHERE {scope} AND {_LIVE}", params)
    return namespaces_listed((split_namespace(unescape(path)) for (path,) in rows), query)
