"""Vector and hybrid search on a read-only connection: exact cosine over a cached matrix, rank fusion.

Each reader connection (`ReaderConnection`) keeps one matrix of unit vectors per record kind. A search
first catches the matrix up with what the writer changed since: `vector_log` (schema version 5) lists every
insert, replacement and removal of a vector in commit order, so the reader reads only the log's new rows
and the current vectors they name, never the whole table again. All of it runs in one read transaction,
so the matrix, the filters and the records fetched are one snapshot.

Filters are applied before ranking: the rowids that pass them mask the matrix, so a better match outside
the filters can never take a place in the results. numpy is imported only here, when a vector search runs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError
from ..model.queries import Search
from ..model.ranking import blend
from ..model.records import Hit
from .fts import fts_match
from .rows import from_row, select_list
from .schema import TABLES

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["RRF_K", "TEXT_WEIGHT", "ReaderConnection", "VectorCache", "search_vectors"]

# Reciprocal rank fusion (Cormack et al. 2009): a record at rank r of the vector list adds 1 / (RRF_K + r), at
# rank r of the text list TEXT_WEIGHT / (RRF_K + r). Tuned on the labelled check (tests/test_hybrid_recall.py,
# recall@10): the usual k = 60 with equal weights scored 0.57 there, below vector search alone (0.70), because
# a query whose words match only common words fills the text list with records as good as random, and with
# k = 60 ranks 1 and 20 weigh almost the same; k = 10 with the text list at half weight scored 0.73.
RRF_K = 10
TEXT_WEIGHT = 0.5


class ReaderConnection(sqlite3.Connection):
    """A read-only connection that carries its vector caches (one per kind) with it."""

    vector_caches: dict[str, VectorCache]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vector_caches = {}


@dataclass
class VectorCache:
    """The vectors of one kind as a matrix, and how far into `vector_log` it has read.

    Rows are appended (capacity doubling); a replaced vector is overwritten in place, a removed one is
    marked dead and zeroed, and dead rows are squeezed out once they are half of the matrix.
    """

    kind: str
    seq: int = -1
    count: int = 0
    dead: int = 0
    rows: dict[int, int] = field(default_factory=dict)  # record rowid -> matrix row
    matrix: Any = None  # npt.NDArray[np.float32], (capacity, dim)
    rids: Any = None  # npt.NDArray[np.int64], (capacity,)
    alive: Any = None  # npt.NDArray[np.bool_], (capacity,)

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Catch up with the file, inside the caller's read transaction."""
        newest = conn.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()[0]
        if newest == self.seq:
            return
        if self.matrix is not None and _file_dim(conn) not in (None, self.matrix.shape[1]):
            # The file was switched to an embedder of another dimension (`memactor.sqlite.vswitch`): start over.
            self.seq, self.count, self.dead, self.rows, self.matrix = -1, 0, 0, {}, None
        if self.seq < 0:
            changes = conn.execute("SELECT rid, vec FROM vectors WHERE kind = :kind", {"kind": self.kind})
        else:
            changes = conn.execute(
                "SELECT l.rid, v.vec FROM (SELECT DISTINCT rid FROM vector_log WHERE seq > :seq AND kind = :kind)"
                " AS l LEFT JOIN vectors AS v ON v.kind = :kind AND v.rid = l.rid",
                {"seq": self.seq, "kind": self.kind},
            )
        for rid, vec in changes:
            self._apply(rid, vec)
        if self.dead > max(64, self.count // 2):
            self._squeeze()
        self.seq = newest

    def _apply(self, rid: int, vec: bytes | None) -> None:
        import numpy as np

        row = self.rows.get(rid)
        if vec is None:
            if row is not None:
                del self.rows[rid]
                self.alive[row] = False
                self.matrix[row] = 0.0
                self.dead += 1
            return
        vector = np.frombuffer(vec, dtype="<f4")
        if self.matrix is None:
            self.matrix = np.zeros((16, len(vector)), dtype=np.float32)
            self.rids = np.zeros(16, dtype=np.int64)
            self.alive = np.zeros(16, dtype=bool)
        if len(vector) != self.matrix.shape[1]:
            return  # not this file's embedder: the writer refuses such vectors, so this is never stored
        if row is None:
            if self.count == len(self.rids):
                self._grow()
            row = self.count
            self.count += 1
            self.rows[rid] = row
            self.rids[row] = rid
            self.alive[row] = True
        self.matrix[row] = vector

    def _grow(self) -> None:
        import numpy as np

        size = 2 * len(self.rids)
        self.matrix = np.resize(self.matrix, (size, self.matrix.shape[1]))
        self.matrix[self.count :] = 0.0
        self.rids = np.resize(self.rids, size)
        self.alive = np.concatenate([self.alive[: self.count], np.zeros(size - self.count, dtype=bool)])

    def _squeeze(self) -> None:
        keep = self.alive[: self.count].nonzero()[0]
        self.matrix = self.matrix[keep].copy()
        self.rids = self.rids[keep].copy()
        self.alive = self.alive[keep].copy()
        self.count, self.dead = len(keep), 0
        self.rows = {int(rid): row for row, rid in enumerate(self.rids)}

    def similarities(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine similarity of every row to ``query`` (a unit vector); dead rows score -inf."""
        import numpy as np

        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        if len(query) != self.matrix.shape[1]:
            raise InvalidInputError(
                f"the query's vector has {len(query)} values; this file's vectors have {self.matrix.shape[1]}"
            )
        sims = self.matrix[: self.count] @ query
        sims[~self.alive[: self.count]] = -np.inf
        return sims  # type: ignore[no-any-return]


def _file_dim(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'embedder_dim'").fetchone()
    return None if row is None else int(row[0])


def _cache(conn: sqlite3.Connection, kind: str) -> VectorCache:
    caches: dict[str, VectorCache] | None = getattr(conn, "vector_caches", None)
    if caches is None:
        return VectorCache(kind)  # a plain connection (tests, tools): a cache for this search only
    return caches.setdefault(kind, VectorCache(kind))


def search_vectors(conn: sqlite3.Connection, query: Search, candidates: int) -> list[Hit]:
    """Answer a ``"vector"`` or ``"hybrid"`` search (``query.text`` and ``query.vector`` are set)."""
    conn.execute("BEGIN")
    try:
        return _search(conn, query, candidates)
    finally:
        conn.execute("COMMIT")


def _search(conn: sqlite3.Connection, query: Search, candidates: int) -> list[Hit]:
    import numpy as np

    assert query.vector is not None and query.text is not None
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    cache = _cache(conn, query.kind)
    cache.refresh(conn)
    sims = cache.similarities(np.frombuffer(query.vector, dtype="<f4"))
    rids = cache.rids[: cache.count] if cache.count else np.zeros(0, dtype=np.int64)
    if where != "1" and len(sims):
        allowed = np.fromiter(
            (rid for (rid,) in conn.execute(f"SELECT t.rowid FROM {table} AS t WHERE {where}", params)),
            dtype=np.int64,
        )
        sims = np.where(np.isin(rids, allowed), sims, -np.inf)
    top = min(candidates, int(np.isfinite(sims).sum()))
    order = np.argsort(-sims, kind="stable")[:top] if top else np.zeros(0, dtype=np.int64)
    vector_ranked = [int(rids[i]) for i in order]
    similarity = {int(rids[i]): max(0.0, float(sims[i])) for i in order}
    if query.mode == "vector":
        relevance = dict(similarity)
    else:
        text_ranked = _text_candidates(conn, query, candidates)
        fused: dict[int, float] = {}
        for weight, ranked in ((TEXT_WEIGHT, text_ranked), (1.0, vector_ranked)):
            for rank, rid in enumerate(ranked, start=1):
                fused[rid] = fused.get(rid, 0.0) + weight / (RRF_K + rank)
        best = (1.0 + TEXT_WEIGHT) / (RRF_K + 1)
        relevance = {rid: score / best for rid, score in fused.items()}
        for rid in text_ranked:
            if rid not in similarity:
                row = cache.rows.get(rid)
                similarity[rid] = max(0.0, float(sims[row])) if row is not None and np.isfinite(sims[row]) else 0.0
    hits = [
        blend(record, relevance[rid], query.now, query.weights, similarity.get(rid, 0.0))
        for rid, record in _records(conn, query.kind, list(relevance))
    ]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: query.limit]


def _text_candidates(conn: sqlite3.Connection, query: Search, candidates: int) -> list[int]:
    assert query.text is not None
    match = fts_match(query.text)
    if match is None:
        return []
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    rows = conn.execute(
        f"SELECT c.rowid FROM (SELECT rowid, rank FROM {table}_fts WHERE {table}_fts MATCH :match) AS c"
        f" JOIN {table} AS t ON t.rowid = c.rowid WHERE {where} ORDER BY c.rank LIMIT :k",
        {**params, "match": match, "k": candidates},
    )
    return [rid for (rid,) in rows]


def _records(conn: sqlite3.Connection, kind: str, rids: list[int]) -> list[tuple[int, Any]]:
    if not rids:
        return []
    found: list[tuple[int, Any]] = []
    table = TABLES[kind].name
    for start in range(0, len(rids), 500):  # bound the statement's parameters
        chunk = rids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT t.rowid, {select_list(kind, 't')} FROM {table} AS t WHERE t.rowid IN ({marks})"
        found.extend((row[0], from_row(kind, row[1:])) for row in conn.execute(sql, chunk))
    return found
