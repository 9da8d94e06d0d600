"""How search blends relevance, recency, importance and (for skills) success rate into one score.

Pure functions: the read layer fetches candidates by bm25, this module scores and orders them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import Episode, Fact, Hit, Record, Skill
from .validate import check_float

__all__ = ["SearchWeights", "blend"]


@dataclass(frozen=True, slots=True)
class SearchWeights:
    """Weights of the score's parts; see `Hit` for the formula.

    Attributes:
        relevance: Weight of text relevance (bm25, scaled so the best candidate scores 1).
        recency: Weight of ``0.5 ** (age / half_life_s)``.
        importance: Weight of an episode's importance or a fact's confidence.
        success: Weight of a skill's smoothed success rate.
        half_life_s: Age in seconds at which recency is 0.5 (default one week).
    """

    relevance: float = 1.0
    recency: float = 0.25
    importance: float = 0.15
    success: float = 0.25
    half_life_s: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        for name in ("relevance", "recency", "importance", "success"):
            object.__setattr__(self, name, check_float(f"weights.{name}", getattr(self, name), low=0.0))
        object.__setattr__(self, "half_life_s", check_float("weights.half_life_s", self.half_life_s, low=1e-9))


def blend(record: Record, relevance: float, now: float, weights: SearchWeights, similarity: float | None = None) -> Hit:
    """Score one candidate.

    Args:
        record: The candidate.
        relevance: Its text relevance within 0..1 (0 without a query).
        now: The time the search started (epoch seconds).
        weights: The weights to apply.
        similarity: The vector similarity to report (vector and hybrid search), not a part of the score.
    """
    age = max(0.0, now - (record.created_at or now))
    recency = 0.5 ** (age / weights.half_life_s)
    importance = _importance(record)
    success_rate = (record.successes + 1) / (record.uses + 2) if isinstance(record, Skill) else None
    score = weights.relevance * relevance + weights.recency * recency + weights.importance * importance
    if success_rate is not None:
        score += weights.success * success_rate
    return Hit(record, score, relevance, recency, importance, success_rate, similarity)


def _importance(record: Record) -> float:
    if isinstance(record, Episode):
        return record.importance
    if isinstance(record, Fact):
        return record.confidence
    return 0.5
