"""Filters shared by `search`, `stream` and `count`, and the SQL ``WHERE`` they become.

Every value is bound as a named parameter; only fixed column names are ever put into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from .validate import check_float, check_optional_bool, check_optional_text, check_text, check_text_tuple

__all__ = ["Filters"]

# Store-specific filters: which kind accepts which.
_SPECIFIC = {"episode": {"success"}, "fact": {"min_confidence"}, "skill": {"name"}}


@dataclass(frozen=True, slots=True)
class Filters:
    """Which records a query considers. ``None`` (or no tags) means "any".

    Attributes:
        namespace: Only this namespace.
        agent_id: Only records of this agent.
        tags: Only records carrying all of these tags.
        since: Only records created at or after this time (epoch seconds).
        until: Only records created before this time.
        success: Episodes only: only successful (True) or failed (False) ones.
        name: Skills only: only the skill of this name.
        min_confidence: Facts only: only facts at least this confident.
    """

    namespace: str | None = None
    agent_id: str | None = None
    tags: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    success: bool | None = None
    name: str | None = None
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        check_optional_text("namespace", self.namespace)
        check_optional_text("agent_id", self.agent_id)
        object.__setattr__(self, "tags", check_text_tuple("tags", self.tags))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_float(name, value))
        check_optional_bool("success", self.success)
        if self.name is not None:
            check_text("name", self.name, required=True)
        if self.min_confidence is not None:
            object.__setattr__(self, "min_confidence", check_float("min_confidence", self.min_confidence))

    @classmethod
    def for_kind(cls, kind: str, filters: dict[str, Any]) -> Filters:
        """Build filters from keyword arguments, refusing ones that do not apply to ``kind``."""
        allowed = {"namespace", "agent_id", "tags", "since", "until"} | _SPECIFIC[kind]
        unknown = sorted(set(filters) - allowed)
        if unknown:
            raise InvalidInputError(f"{kind} queries take no filter {unknown}; they take {sorted(allowed)}")
        return cls(**filters)

    def where(self, alias: str = "t") -> tuple[str, dict[str, Any]]:
        """Return the SQL condition (``1`` when empty) and its named parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for column, op in (
            ("namespace", "="),
            ("agent_id", "="),
            ("since", ">="),
            ("until", "<"),
            ("success", "="),
            ("name", "="),
            ("min_confidence", ">="),
        ):
            value = getattr(self, column)
            if value is None:
                continue
            target = {"since": "created_at", "until": "created_at", "min_confidence": "confidence"}.get(column, column)
            clauses.append(f"{alias}.{target} {op} :f_{column}")
            params[f"f_{column}"] = int(value) if isinstance(value, bool) else value
        for index, tag in enumerate(self.tags):
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE value = :f_tag{index})")
            params[f"f_tag{index}"] = tag
        return (" AND ".join(clauses) or "1"), params
