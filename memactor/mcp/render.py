"""What a language model reads back: records and search hits as small JSON-ready dicts, and times.

Times go out as ISO-8601 UTC strings (a model reads them better than epoch seconds) and come in as
either form.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidInputError
from ..model.records import Episode, Fact, Hit, Record, Skill

__all__ = ["hit_view", "parse_time", "record_text", "record_view"]


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string (to the second), or None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(name: str, value: str | float | None) -> float | None:
    """Read ``value`` as epoch seconds: a number, a numeric string, or an ISO-8601 time (UTC if no zone).

    Raises:
        InvalidInputError: anything else, with the accepted forms in the message.
    """
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    if seconds is None or not math.isfinite(seconds):
        raise InvalidInputError(
            f"{name}: expected an ISO-8601 time such as 2025-01-31T09:30:00Z, or epoch seconds such as 1738315800"
        )
    return seconds


def _parse_text(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def record_text(record: Record) -> str:
    """The one line that says what a record is about."""
    if isinstance(record, Episode):
        return f"{record.task} -> {record.outcome}" if record.outcome else record.task
    if isinstance(record, Fact):
        return record.content
    return f"{record.name}: {record.description}" if record.description else record.name


def record_view(record: Record) -> dict[str, Any]:
    """Every field a model may need, without empty ones (fewer tokens, same meaning)."""
    view: dict[str, Any] = {"kind": record.KIND, "id": record.id, "text": record_text(record)}
    if isinstance(record, Episode):
        view.update(task=record.task, steps=list(record.steps), outcome=record.outcome, success=record.success)
        view.update(importance=record.importance)
    elif isinstance(record, Fact):
        view.update(confidence=record.confidence, source_episode_ids=list(record.source_episode_ids))
    elif isinstance(record, Skill):
        view.update(name=record.name, description=record.description, steps=list(record.steps), code=record.code)
        view.update(uses=record.uses, successes=record.successes, last_used_at=iso(record.last_used_at))
    view.update(
        agent_id=record.agent_id,
        tags=list(record.tags),
        created_at=iso(record.created_at),
        updated_at=iso(record.updated_at),
        version=record.version,
    )
    return {key: value for key, value in view.items() if value not in (None, "", [])}


def hit_view(hit: Hit) -> dict[str, Any]:
    """A search hit: what it is, its text, and its score with the parts the score is made of."""
    view: dict[str, Any] = {
        "kind": hit.record.KIND,
        "id": hit.record.id,
        "text": record_text(hit.record),
        "score": round(hit.score, 4),
        "relevance": round(hit.relevance, 4),
        "recency": round(hit.recency, 4),
        "importance": round(hit.importance, 4),
    }
    if hit.similarity is not None:  # vector or hybrid search: how close in meaning (cosine, 0..1)
        view["similarity"] = round(hit.similarity, 4)
    if hit.success_rate is not None:
        view["success_rate"] = round(hit.success_rate, 4)
    if hit.record.agent_id is not None:
        view["agent_id"] = hit.record.agent_id
    if hit.record.tags:
        view["tags"] = list(hit.record.tags)
    view["created_at"] = iso(hit.record.created_at)
    return view
