"""Reads as data: one frozen dataclass per query, answered by `memactor.sqlite.read.run_query`.

Like commands, queries are plain values, so the server can carry them over a socket unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..errors import InvalidInputError
from .commands import check_kind, check_vector
from .filters import Filters
from .itemops import GetItems, ListNamespaces, SearchItems
from .ranking import SearchWeights
from .validate import check_id, check_id_tuple, check_limit, check_query_text, check_text

__all__ = [
    "SEARCH_MODES",
    "Count",
    "Get",
    "GetByName",
    "GetItems",
    "ListNamespaces",
    "Page",
    "Query",
    "Search",
    "SearchItems",
]

MAX_GET_MANY = 10_000


@dataclass(frozen=True, slots=True)
class Get:
    """Fetch records by id. Answers the found records in the order asked."""

    kind: str
    ids: tuple[str, ...]

    def __post_init__(self) -> None:
        check_kind(self.kind)
        object.__setattr__(self, "ids", check_id_tuple("ids", self.ids))
        if len(self.ids) > MAX_GET_MANY:
            raise InvalidInputError(f"get_many takes at most {MAX_GET_MANY} ids, not {len(self.ids)}")


SEARCH_MODES = ("text", "vector", "hybrid")


@dataclass(frozen=True, slots=True)
class Search:
    """Rank records by the blended score, or list the newest first when ``text`` is None.

    ``mode`` is ``"text"`` (FTS5), ``"vector"`` (cosine similarity to ``vector``, the query's embedding)
    or ``"hybrid"`` (both, fused by rank); the last two need ``vector``.
    """

    kind: str
    text: str | None
    filters: Filters
    limit: int
    weights: SearchWeights
    now: float
    mode: str = "text"
    vector: bytes | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        object.__setattr__(self, "text", check_query_text(self.text))
        check_limit(self.limit)
        if self.mode not in SEARCH_MODES:
            raise InvalidInputError(f"mode must be one of {list(SEARCH_MODES)}, not {self.mode!r}")
        if self.mode != "text" and self.text is not None and self.vector is None:
            raise InvalidInputError(f"mode={self.mode!r} needs the query's vector")
        if self.vector is not None:
            check_vector("the query's vector", self.vector)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a stream: records with ids after ``after``, in id order."""

    kind: str
    filters: Filters
    after: str | None
    limit: int

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if self.after is not None:
            check_id("after", self.after)
        check_limit(self.limit)


@dataclass(frozen=True, slots=True)
class Count:
    """Count the records that match the filters."""

    kind: str
    filters: Filters

    def __post_init__(self) -> None:
        check_kind(self.kind)


@dataclass(frozen=True, slots=True)
class GetByName:
    """Fetch the skill of this name in this namespace."""

    name: str
    namespace: str

    def __post_init__(self) -> None:
        check_text("name", self.name, required=True)
        check_text("namespace", self.namespace, required=True)


Query: TypeAlias = Get | Search | Page | Count | GetByName | GetItems | SearchItems | ListNamespaces
