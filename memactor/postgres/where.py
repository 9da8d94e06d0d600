"""`Filters` as a PostgreSQL ``WHERE`` condition with named parameters.

The same filters mean the same records on both engines (see `memactor.model.filters`); only the SQL differs:
psycopg's ``%(name)s`` parameters, text compared in its stored (escaped) form (`memactor.postgres.rows.escape`),
tags (a ``text[]``) tested with ``@>``. Every value is bound; only fixed column names are put into SQL text.
May import `memactor.model`.
"""

from __future__ import annotations

from typing import Any

from ..model.filters import Filters
from .rows import escape

__all__ = ["where"]

# Filter name -> (column, operator).
_CONDITIONS = {
    "namespace": ("namespace", "="),
    "agent_id": ("agent_id", "="),
    "since": ("created_at", ">="),
    "until": ("created_at", "<"),
    "success": ("success", "="),
    "name": ("name", "="),
    "min_confidence": ("confidence", ">="),
}


def where(filters: Filters, alias: str = "t") -> tuple[str, dict[str, Any]]:
    """Return the SQL condition (``TRUE`` when there is none) and its named parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, (column, op) in _CONDITIONS.items():
        value = getattr(filters, name)
        if value is None:
            continue
        clauses.append(f"{alias}.{column} {op} %(f_{name})s")
        params[f"f_{name}"] = escape(value) if isinstance(value, str) else value
    if filters.tags:
        clauses.append(f"{alias}.tags @> %(f_tags)s::text[]")
        params["f_tags"] = [escape(tag) for tag in filters.tags]
    return (" AND ".join(clauses) or "TRUE"), params
