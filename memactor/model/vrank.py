"""Vector and hybrid ranking over a `memactor.model.vcache.VectorCache`, the same on every engine.

Filters are applied before ranking: the keys of the records that pass them mask the matrix, so a better
match outside the filters can never take a place in the results. Hybrid search fuses the vector list with
the engine's text list by reciprocal rank fusion. The engine supplies three reads (the keys its filters
allow, its text candidates, the records of some keys); the ranking and the blend are here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .queries import Search
from .ranking import blend
from .records import Hit, Record
from .vcache import VectorCache

__all__ = ["RRF_K", "TEXT_WEIGHT", "rank_hits", "rank_vectors"]

# Reciprocal rank fusion (Cormack et al. 2009): a record at rank r of the vector list adds 1 / (RRF_K + r), at
# rank r of the text list TEXT_WEIGHT / (RRF_K + r). Tuned on the labelled check (tests/test_hybrid_recall.py,
# recall@10): the usual k = 60 with equal weights scored 0.57 there, below vector search alone (0.70), because
# a query whose words match only common words fills the text list with records as good as random, and with
# k = 60 ranks 1 and 20 weigh almost the same; k = 10 with the text list at half weight scored 0.73.
RRF_K = 10
TEXT_WEIGHT = 0.5


def rank_vectors(
    query: Search,
    cache: VectorCache,
    candidates: int,
    allowed: Callable[[], Iterable[int]] | None,
    text_candidates: Callable[[], list[int]],
    records: Callable[[list[int]], Iterable[tuple[int, Record]]],
) -> list[Hit]:
    """Answer a ``"vector"`` or ``"hybrid"`` search from a caught-up cache.

    Args:
        query: The search (``query.vector`` and ``query.text`` set).
        cache: The kind's vectors, caught up in the caller's read transaction.
        candidates: How many records each ranked list holds at most.
        allowed: The keys of the records the filters let through; None when there are no filters.
        text_candidates: The keys of the best text matches that pass the filters, best first (hybrid only).
        records: The records of some keys, as (key, record) pairs.

    Returns:
        The hits, best first, at most ``query.limit``.
    """
    import numpy as np

    assert query.vector is not None
    vector = np.frombuffer(query.vector, dtype="<f4")
    mask = None if allowed is None or not cache.count else np.fromiter(allowed(), dtype=np.int64)
    nearest = cache.nearest(vector, mask, candidates)  # exact, or through the approximate index past its threshold
    return rank_hits(query, nearest, text_candidates, lambda rids: cache.similarity_of(rids, vector), records)


def rank_hits(
    query: Search,
    nearest: list[tuple[int, float]],
    text_candidates: Callable[[], list[int]],
    similarity_of: Callable[[list[int]], dict[int, float]],
    records: Callable[[list[int]], Iterable[tuple[int, Record]]],
) -> list[Hit]:
    """The hits of a ``"vector"`` or ``"hybrid"`` search, from the nearest records however they were found (a
    reader's matrix here, or the server with pgvector, `memactor.postgres.vsql`).

    Args:
        query: The search.
        nearest: (key, cosine similarity) of the nearest records the filters let through, nearest first.
        text_candidates: The keys of the best text matches that pass the filters, best first (hybrid only).
        similarity_of: The similarities of some keys to the query's vector (text matches not among the nearest).
        records: The records of some keys, as (key, record) pairs.

    Returns:
        The hits, best first, at most ``query.limit``.
    """
    vector_ranked = [rid for rid, _ in nearest]
    similarity = {rid: max(0.0, sim) for rid, sim in nearest}
    relevance: dict[int, float]
    if query.mode == "vector":
        relevance = dict(similarity)
    else:
        text_ranked = text_candidates()
        fused: dict[int, float] = {}
        for weight, ranked in ((TEXT_WEIGHT, text_ranked), (1.0, vector_ranked)):
            for rank, rid in enumerate(ranked, start=1):
                fused[rid] = fused.get(rid, 0.0) + weight / (RRF_K + rank)
        best = (1.0 + TEXT_WEIGHT) / (RRF_K + 1)
        relevance = {rid: score / best for rid, score in fused.items()}
        missing = [rid for rid in text_ranked if rid not in similarity]
        if missing:
            similarity.update((rid, max(0.0, sim)) for rid, sim in similarity_of(missing).items())
    hits = [
        blend(record, relevance[rid], query.now, query.weights, similarity.get(rid, 0.0))
        for rid, record in (records(list(relevance)) if relevance else ())
    ]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: query.limit]
