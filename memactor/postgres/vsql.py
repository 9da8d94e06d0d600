"""Vector and hybrid search ranked by the server, with pgvector: no reader holds a memory's vectors.

Used when the memory has pgvector's ``emb`` column (`memactor.postgres.pgvec`); otherwise
`memactor.postgres.vsearch` ranks on the client. The contract is the client's (`memactor.model.vrank`):

- the filters are applied before ranking: the nearest ``candidates`` are chosen among the records the
  filters let through, in the same statement, so a better match outside them never takes a place;
- the search is exact, a sequential scan ordered by cosine distance (``<=>``; ties by key), and
  `Hit.similarity` is ``1 - distance``, at least 0, the number the client's dot product of unit vectors
  gives (to float rounding). A zero vector has no cosine distance (pgvector says NaN); its similarity is 0,
  as the client's dot product makes it;
- hybrid search fuses the vector list with the text list, and the hits are blended, by the same code as on the
  client (`memactor.model.vrank.rank_hits`).

There is no approximate (HNSW) index: maintained on every write, it made adds 16 times slower (10,000 vectors
of 384 values), so every search here is an exact scan of the kind's vectors, growing with their number.

Runs inside `memactor.postgres.vsearch.search_vectors`' read transaction (one snapshot), which also supplies
the text candidates and the records. May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from ..errors import InvalidInputError
from ..model.queries import Search
from ..model.records import Hit, Record
from ..model.vrank import rank_hits
from .pgvec import Emb, PgVector
from .schema import TABLES
from .where import where

__all__ = ["rank_in_sql"]

Conn = psycopg.Connection[tuple[Any, ...]]


def _similarity(extension: PgVector) -> str:
    # 'NaN' = 'NaN' holds for floats in PostgreSQL: a zero vector's undefined distance becomes similarity 0.
    return f"coalesce(nullif(1 - (v.emb {extension.cosine} %(q)b), 'NaN'), 0)"


def rank_in_sql(
    conn: Conn,
    extension: PgVector,
    query: Search,
    candidates: int,
    text_candidates: Callable[[], list[int]],
    records: Callable[[list[int]], Iterable[tuple[int, Record]]],
) -> list[Hit]:
    """Answer a ``"vector"`` or ``"hybrid"`` search, ranking in SQL.

    Args:
        conn: A connection inside the search's read transaction.
        extension: The extension as ``conn`` sees it.
        query: The search (``query.vector`` and ``query.text`` set).
        candidates: How many records each ranked list holds at most.
        text_candidates: The keys of the best text matches that pass the filters, best first (hybrid only).
        records: The records of some keys, as (key, record) pairs.

    Returns:
        The hits, best first, at most ``query.limit``.

    Raises:
        InvalidInputError: the query's vector is not of the memory's dimension.
        psycopg.Error: PostgreSQL failed.
    """
    assert query.vector is not None
    vector = Emb(query.vector)
    comparable = _comparable(conn, query.kind, len(vector) // 4)
    nearest = _nearest(conn, extension, query, vector, candidates) if comparable and candidates > 0 else []

    def similarity_of(rids: list[int]) -> dict[int, float]:
        return _similarity_of(conn, extension, query.kind, rids, vector) if comparable else {}

    return rank_hits(query, nearest, text_candidates, similarity_of, records)


def _comparable(conn: Conn, kind: str, dim: int) -> bool:
    """Whether the kind has vectors to compare with; refuse a vector of another dimension than theirs.

    As on the client: with no vector stored, nothing is compared and no dimension is wrong.
    """
    row = conn.execute(
        "SELECT (SELECT value FROM memactor_meta WHERE key = 'embedder_dim'),"
        " EXISTS (SELECT 1 FROM vectors WHERE kind = %s)",
        (kind,),
    ).fetchone()
    if row is None or not row[1]:
        return False
    if row[0] is not None and int(row[0]) != dim:
        raise InvalidInputError(f"the query's vector has {dim} values; this memory's vectors have {int(row[0])}")
    return True


def _nearest(conn: Conn, extension: PgVector, query: Search, vector: Emb, count: int) -> list[tuple[int, float]]:
    condition, params = where(query.filters)
    # The filters in the same WHERE as the ranking: only records they let through are ranked at all.
    join = "" if condition == "TRUE" else f" JOIN {TABLES[query.kind].name} AS t ON t.rid = v.rid AND {condition}"
    rows = conn.execute(
        f"SELECT v.rid, {_similarity(extension)} AS s FROM vectors AS v{join} WHERE v.kind = %(kind)s"
        " ORDER BY s DESC, v.rid LIMIT %(k)s",
        {**params, "q": vector, "kind": query.kind, "k": count},
    )
    return [(int(rid), float(sim)) for rid, sim in rows]


def _similarity_of(conn: Conn, extension: PgVector, kind: str, rids: list[int], vector: Emb) -> dict[int, float]:
    rows = conn.execute(
        f"SELECT v.rid, {_similarity(extension)} FROM vectors AS v WHERE v.kind = %(kind)s AND v.rid = ANY(%(rids)s)",
        {"q": vector, "kind": kind, "rids": rids},
    )
    return {int(rid): max(0.0, float(sim)) for rid, sim in rows}
