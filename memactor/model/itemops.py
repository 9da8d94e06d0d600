"""Item operations as data: the commands that write items and the queries that read them.

Like every command and query they hold only msgpack-native values, validate themselves on construction
and carry the caller's clock (``at``, ``now``), so expiry is decided by one clock per operation and a test
can control it. `memactor.model.commands` and `memactor.model.queries` add them to their unions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from .itemfilter import check_filter, matches
from .items import Item, check_item_key, check_namespace, check_ttl, join_namespace
from .validate import MAX_LIMIT, check_float, check_int, check_limit, check_metadata, check_query_text

__all__ = [
    "literal_prefix",
    "namespaces_listed",
    "page_of_matches",
    "scope_condition",
    "MAX_OFFSET",
    "DeleteItem",
    "GetItems",
    "ListNamespaces",
    "PutItem",
    "SearchItems",
    "SweepItems",
    "TouchItems",
]

MAX_OFFSET = 1_000_000
# The value of one item, as stored JSON, at most (a bigger document belongs in a file, not a row).
MAX_VALUE_BYTES = 16 * 1024 * 1024
Address = tuple[tuple[str, ...], str]


def _check_addresses(value: object) -> tuple[Address, ...]:
    if not isinstance(value, (tuple, list)):
        raise InvalidInputError(f"item addresses must be a tuple of (namespace, key), not {type(value).__name__}")
    if len(value) > MAX_LIMIT:
        raise InvalidInputError(f"at most {MAX_LIMIT} items at once, not {len(value)}")
    addresses = []
    for address in value:
        if not isinstance(address, (tuple, list)) or len(address) != 2:
            raise InvalidInputError("an item address is a (namespace, key) pair")
        addresses.append((check_namespace("namespace", address[0]), check_item_key(address[1])))
    return tuple(addresses)


@dataclass(frozen=True, slots=True)
class PutItem:
    """Insert or replace one item. Returns the stored `Item`.

    With ``expect_version``: 0 means the item must not exist (or has expired), v >= 1 that it is at version
    v; otherwise `ConflictError`. ``value`` is kept as a frozen copy, checked as strict JSON.
    """

    namespace: tuple[str, ...]
    key: str
    value: Mapping[str, Any]
    ttl: float | None
    expect_version: int | None
    at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", check_namespace("namespace", self.namespace))
        check_item_key(self.key)
        object.__setattr__(self, "value", check_metadata("value", self.value))
        object.__setattr__(self, "ttl", check_ttl(self.ttl))
        if self.expect_version is not None:
            check_int("expect_version", self.expect_version)
        check_float("at", self.at)


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Delete one item. Returns True if it existed (an expired item does not)."""

    namespace: tuple[str, ...]
    key: str
    at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", check_namespace("namespace", self.namespace))
        check_item_key(self.key)
        check_float("at", self.at)


@dataclass(frozen=True, slots=True)
class TouchItems:
    """Push back the expiry of items just read (refresh on read): ``expires_at = at + ttl``.

    Items without a TTL, or already expired at ``at``, are left alone. Returns how many were refreshed.
    """

    addresses: tuple[Address, ...]
    at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _check_addresses(self.addresses))
        check_float("at", self.at)


@dataclass(frozen=True, slots=True)
class SweepItems:
    """Delete every item expired at ``at``; the writer sends it itself. Returns how many were deleted."""

    at: float

    def __post_init__(self) -> None:
        check_float("at", self.at)


@dataclass(frozen=True, slots=True)
class GetItems:
    """Fetch items by address; answers the live ones found, in the order asked (duplicates once).

    ``refresh`` asks the handle to refresh the TTL of what was found (`TouchItems`).
    """

    addresses: tuple[Address, ...]
    now: float
    refresh: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _check_addresses(self.addresses))
        check_float("now", self.now)
        if not isinstance(self.refresh, bool):
            raise InvalidInputError("refresh must be a bool")


@dataclass(frozen=True, slots=True)
class SearchItems:
    """Live items in ``prefix`` or below it that match ``filter`` (and ``text``, if given).

    Without text: in the order they were first put (a replacement keeps its place). With text: best
    full-text match first (bm25 over the value's strings), then that order. ``roots``, when not None,
    limits the search to namespaces whose first label is one of them (set by the server for scoped tokens).
    """

    prefix: tuple[str, ...]
    filter: Mapping[str, Any] | None
    text: str | None
    limit: int
    offset: int
    now: float
    refresh: bool = True
    roots: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", check_namespace("namespace_prefix", self.prefix, allow_empty=True))
        object.__setattr__(self, "filter", check_filter(self.filter))
        object.__setattr__(self, "text", check_query_text(self.text))
        check_limit(self.limit)
        check_int("offset", self.offset, high=MAX_OFFSET)
        check_float("now", self.now)
        if not isinstance(self.refresh, bool):
            raise InvalidInputError("refresh must be a bool")
        object.__setattr__(self, "roots", _check_roots(self.roots))


@dataclass(frozen=True, slots=True)
class ListNamespaces:
    """The distinct namespaces of live items, sorted, that match the conditions.

    ``prefix`` / ``suffix``: the namespace starts / ends with these labels, ``"*"`` matching any one label.
    ``max_depth``: namespaces longer than this are cut to it (and then listed once). ``roots``: as for
    `SearchItems`.
    """

    prefix: tuple[str, ...] | None
    suffix: tuple[str, ...] | None
    max_depth: int | None
    limit: int
    offset: int
    now: float
    roots: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("prefix", "suffix"):
            labels = getattr(self, name)
            if labels is not None:
                object.__setattr__(self, name, check_namespace(name, labels, allow_empty=True, wildcard=True))
        if self.max_depth is not None:
            check_int("max_depth", self.max_depth, low=1)
        check_limit(self.limit)
        check_int("offset", self.offset, high=MAX_OFFSET)
        check_float("now", self.now)
        object.__setattr__(self, "roots", _check_roots(self.roots))


def _check_roots(roots: object) -> tuple[str, ...] | None:
    if roots is None:
        return None
    return check_namespace("roots", roots, allow_empty=True)


def page_of_matches(items: Iterable[Item], query: SearchItems) -> list[Item]:
    """The page ``query`` asks for (``offset``, ``limit``) of the ``items`` its filter matches, in their order:
    for filters an engine cannot decide in SQL, which it narrows there and finishes here."""
    found: list[Item] = []
    skipped = 0
    for item in items:
        if not matches(item.value, query.filter):
            continue
        if skipped < query.offset:
            skipped += 1
            continue
        found.append(item)
        if len(found) == query.limit:
            break
    return found


def scope_condition(
    prefix: tuple[str, ...], roots: tuple[str, ...] | None, subtree: Callable[[str, str], str], everything: str
) -> str | None:
    """The SQL that limits a read to the namespace ``prefix`` and below and to the top-level ``roots`` of the
    caller's token, in an engine's dialect; None when nothing can match.

    Args:
        prefix: The namespace asked for (empty: all).
        roots: The top-level labels the caller may read, or None for all.
        subtree: The engine's condition for "this namespace path and below", given a parameter name to bind
            and the joined path.
        everything: The engine's always-true condition.
    """
    if prefix:
        if roots is not None and prefix[0] not in roots:
            return None
        return subtree("p", join_namespace(prefix))
    if roots is None:
        return everything
    if not roots:
        return None
    return "(" + " OR ".join(subtree(f"r{i}", root) for i, root in enumerate(roots)) + ")"


def literal_prefix(query: ListNamespaces) -> tuple[str, ...]:
    """The labels of ``query.prefix`` before its first wildcard: what SQL can narrow the namespaces to."""
    literal: list[str] = []
    for label in query.prefix or ():
        if label == "*":
            break
        literal.append(label)
    return tuple(literal)


def namespaces_listed(namespaces: Iterable[tuple[str, ...]], query: ListNamespaces) -> list[tuple[str, ...]]:
    """The page of the namespaces ``query`` asks for, from the distinct namespaces in its scope: those that fit
    its prefix and suffix (``*`` matching any label), cut to ``max_depth``, sorted."""
    found = set()
    for namespace in namespaces:
        if _fits(namespace, query.prefix) and _fits(namespace[::-1], query.suffix and query.suffix[::-1]):
            found.add(namespace if query.max_depth is None else namespace[: query.max_depth])
    return sorted(found)[query.offset : query.offset + query.limit]


def _fits(namespace: tuple[str, ...], start: tuple[str, ...] | None) -> bool:
    if not start:
        return True
    return len(namespace) >= len(start) and all(p in ("*", n) for n, p in zip(namespace, start, strict=False))
