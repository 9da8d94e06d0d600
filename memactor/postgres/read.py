"""Answer queries on a PostgreSQL connection: plain sync SQL, testable without an event loop.

Each query is one statement in a transaction of its own (the connection is in autocommit mode), so a read
never holds a snapshot open. Search is PostgreSQL full-text search: the query's words, each stemmed like
the stored text (``memactor_text``, see `memactor.postgres.schema`), any of them may match (as on SQLite);
candidates are ranked by ``ts_rank`` and blended by `memactor.model.ranking.blend` into the same score and
`Hit` parts as on SQLite, relevance scaled so the best candidate scores 1. User text reaches SQL only as
bound parameters. May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..errors import NotFoundError
from ..model.queries import Count, Get, GetByName, GetItems, ListNamespaces, Page, Query, Search, SearchItems
from ..model.ranking import blend
from ..model.records import Hit, Record
from .itemread import run_item_query
from .rows import escape, from_row, select_list
from .schema import TABLES
from .textquery import text_query
from .vsearch import search_vectors
from .where import where

__all__ = ["CANDIDATES_PER_RESULT", "run_query", "text_query"]

Conn = psycopg.Connection[tuple[Any, ...]]

# How many text-ranked candidates the blend re-ranks, per result asked for (as on SQLite).
CANDIDATES_PER_RESULT = 5


def run_query(conn: Conn, query: Query) -> Any:
    """Answer one query.

    Raises:
        NotFoundError: `GetByName` found no such skill.
        InvalidInputError: a vector search's vector is not of the memory's dimension.
        psycopg.Error: PostgreSQL failed.
    """
    match query:
        case Get(kind=kind, ids=ids):
            rows = conn.execute(f"SELECT {select_list(kind)} FROM {TABLES[kind].name} WHERE id = ANY(%s)", (list(ids),))
            found = {record.id: record for record in (from_row(kind, row) for row in rows)}
            return [found[record_id] for record_id in dict.fromkeys(ids) if record_id in found]
        case Search():
            return _search(conn, query)
        case Page():
            return _page(conn, query)
        case Count(kind=kind, filters=filters):
            condition, params = where(filters)
            row = conn.execute(f"SELECT count(*) FROM {TABLES[kind].name} AS t WHERE {condition}", params).fetchone()
            return 0 if row is None else int(row[0])
        case GetByName(name=name, namespace=namespace):
            row = conn.execute(
                f"SELECT {select_list('skill')} FROM skills WHERE namespace = %s AND name = %s",
                (escape(namespace), escape(name)),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no skill named {name!r} in namespace {namespace!r}")
            return from_row("skill", row)
        case GetItems() | SearchItems() | ListNamespaces():
            return run_item_query(conn, query)
    raise TypeError(f"not a query: {type(query).__name__}")


def _search(conn: Conn, query: Search) -> list[Hit]:
    table = TABLES[query.kind].name
    condition, params = where(query.filters)
    if query.text is None:
        rows = conn.execute(
            f"SELECT {select_list(query.kind, 't')} FROM {table} AS t WHERE {condition}"
            " ORDER BY t.created_at DESC LIMIT %(limit)s",
            {**params, "limit": query.limit},
        ).fetchall()
        return [blend(from_row(query.kind, row), 0.0, query.now, query.weights) for row in rows]
    if query.mode != "text":
        return search_vectors(conn, query, min(query.limit * CANDIDATES_PER_RESULT, 10_000))
    match = text_query(query.text)
    if match is None:
        return []
    expression, words = match
    rows = conn.execute(
        f"SELECT {select_list(query.kind, 't')}, ts_rank(t.tsv, q.q) AS r FROM {table} AS t,"
        f" (SELECT {expression} AS q) AS q WHERE t.tsv @@ q.q AND {condition} ORDER BY r DESC LIMIT %(k)s",
        {**params, **words, "k": min(query.limit * CANDIDATES_PER_RESULT, 10_000)},
    ).fetchall()
    best = max((float(row[-1]) for row in rows), default=0.0) or 1.0
    hits = [blend(from_row(query.kind, row), max(0.0, float(row[-1])) / best, query.now, query.weights) for row in rows]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: query.limit]


def _page(conn: Conn, query: Page) -> list[Record]:
    condition, params = where(query.filters)
    rows = conn.execute(
        f"SELECT {select_list(query.kind, 't')} FROM {TABLES[query.kind].name} AS t"
        f" WHERE t.id > %(after)s AND {condition} ORDER BY t.id LIMIT %(limit)s",
        {**params, "after": query.after or "", "limit": query.limit},
    )
    return [from_row(query.kind, row) for row in rows]
