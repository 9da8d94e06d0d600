"""Retrieval figures: recall@k, reciprocal rank and latency percentiles, as pure functions."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

__all__ = ["percentile", "recall_at", "reciprocal_rank", "summarise"]


def recall_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the ``relevant`` ids found among the first ``k`` of ``ranked`` (0 when none is relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / the rank (counted from 1) of the first relevant id in ``ranked``, 0 when none is there."""
    for rank, rid in enumerate(ranked, start=1):
        if rid in relevant:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct``-th percentile of ``values`` by the nearest-rank method (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(results: Sequence[tuple[Sequence[str], Mapping[str, int]]]) -> dict[str, float]:
    """Mean recall@5, recall@10 and MRR over ``(ranked ids, {relevant id: grade})`` pairs."""
    count = len(results) or 1
    return {
        "recall_at_5": sum(recall_at(r, rel, 5) for r, rel in results) / count,
        "recall_at_10": sum(recall_at(r, rel, 10) for r, rel in results) / count,
        "mrr": sum(reciprocal_rank(r, rel) for r, rel in results) / count,
    }
