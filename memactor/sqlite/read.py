"""Answer queries on a read-only connection: plain sync SQL, testable without an event loop.

Each query is one statement, so it runs in one short read transaction of its own and never pins the WAL.
User text reaches FTS5 only as quoted terms and SQL only as bound parameters.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..errors import NotFoundError
from ..model.queries import Count, Get, GetByName, GetItems, ListNamespaces, Page, Query, Search, SearchItems
from ..model.ranking import blend
from ..model.records import Hit, Record
from .fts import fts_match, matches_source
from .itemread import run_item_query
from .rows import from_row, select_list
from .schema import TABLES
from .vsearch import search_vectors

__all__ = ["run_query"]

# How many bm25-ordered candidates the blend re-ranks, per result asked for.
CANDIDATES_PER_RESULT = 5


def run_query(conn: sqlite3.Connection, query: Query) -> Any:
    """Answer one query.

    Raises:
        NotFoundError: `GetByName` found no such skill.
        sqlite3.Error: SQLite failed.
    """
    match query:
        case Get():
            return _get(conn, query)
        case Search():
            return _search(conn, query)
        case Page():
            return _page(conn, query)
        case Count():
            where, params = query.filters.where()
            sql = f"SELECT count(*) FROM {TABLES[query.kind].name} AS t WHERE {where}"
            return conn.execute(sql, params).fetchone()[0]
        case GetByName():
            row = conn.execute(
                f"SELECT {select_list('skill')} FROM skills WHERE namespace = :namespace AND name = :name",
                {"namespace": query.namespace, "name": query.name},
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no skill named {query.name!r} in namespace {query.namespace!r}")
            return from_row("skill", row)
        case GetItems() | SearchItems() | ListNamespaces():
            return run_item_query(conn, query)
    raise TypeError(f"not a query: {type(query).__name__}")


def _get(conn: sqlite3.Connection, query: Get) -> list[Record]:
    if len(query.ids) == 1:
        sql = f"SELECT {select_list(query.kind)} FROM {TABLES[query.kind].name} WHERE id = :id"
        rows = conn.execute(sql, {"id": query.ids[0]})
        return [from_row(query.kind, row) for row in rows]
    placeholders = ", ".join(f":id{i}" for i in range(len(query.ids)))
    rows = conn.execute(
        f"SELECT {select_list(query.kind)} FROM {TABLES[query.kind].name} WHERE id IN ({placeholders})",
        {f"id{i}": record_id for i, record_id in enumerate(query.ids)},
    )
    found = {record.id: record for record in (from_row(query.kind, row) for row in rows)}
    return [found[record_id] for record_id in dict.fromkeys(query.ids) if record_id in found]


def _search(conn: sqlite3.Connection, query: Search) -> list[Hit]:
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    if query.text is None:
        rows = conn.execute(
            f"SELECT {select_list(query.kind, 't')} FROM {table} AS t WHERE {where}"
            " ORDER BY t.created_at DESC LIMIT :limit",
            {**params, "limit": query.limit},
        ).fetchall()
        return [blend(from_row(query.kind, row), 0.0, query.now, query.weights) for row in rows]
    candidates = min(query.limit * CANDIDATES_PER_RESULT, 10_000)
    if query.mode != "text":
        return search_vectors(conn, query, candidates)
    match = fts_match(query.text)
    if match is None:
        return []
    source = matches_source(table, where)
    rows = conn.execute(
        f"SELECT {select_list(query.kind, 't')}, -c.rank FROM {source} AS c JOIN {table} AS t ON t.rowid = c.rowid"
        f" WHERE {where} ORDER BY c.rank LIMIT :k",
        {**params, "match": match, "k": candidates},
    ).fetchall()
    best = max((row[-1] for row in rows), default=0.0) or 1.0
    hits = [blend(from_row(query.kind, row), max(0.0, row[-1]) / best, query.now, query.weights) for row in rows]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: query.limit]


def _page(conn: sqlite3.Connection, query: Page) -> list[Record]:
    where, params = query.filters.where()
    rows = conn.execute(
        f"SELECT {select_list(query.kind, 't')} FROM {TABLES[query.kind].name} AS t"
        f" WHERE t.id > :after AND {where} ORDER BY t.id LIMIT :limit",
        {**params, "after": query.after or "", "limit": query.limit},
    )
    return [from_row(query.kind, row) for row in rows]
