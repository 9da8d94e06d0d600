"""LangGraph's store operations as memactor item commands and queries, and memactor items as LangGraph's.

Pure and sync: everything here decides what to send and how to answer, with LangGraph's reference store
(`langgraph.store.memory.InMemoryStore`) as the definition wherever it defines something. Three choices
follow from it:

- An address that memactor cannot hold (an empty namespace or key, a ``"*"`` label, a label over 256
  characters...) holds no item: a get of it answers None, a search under it answers ``[]``, as
  ``InMemoryStore`` answers for addresses where nothing was put. Only puts refuse such addresses.
- Without a vector index, ``InMemoryStore`` ignores a search's ``query``; so does this adapter (memactor's
  full-text filter would drop items that ``InMemoryStore`` returns).
- Several prefix (or suffix) conditions of one ``ListNamespacesOp`` must all hold; they are merged into
  one, label by label (a ``"*"`` gives way to a label), and two different labels at one place match nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchItem,
    SearchOp,
    _validate_namespace_labels,
)

from ..errors import InvalidInputError
from ..model.commands import Command
from ..model.itemops import DeleteItem, PutItem
from ..model.items import Item as MemactorItem
from ..model.items import check_item_key, check_namespace

__all__ = [
    "Address",
    "Plan",
    "langgraph_item",
    "merge_conditions",
    "plan",
    "search_item",
    "storable",
    "thaw",
]

Address = tuple[tuple[str, ...], str]
WILDCARD = "*"
SECONDS_PER_MINUTE = 60.0


class Plan:
    """One batch of operations, checked, split into the reads to answer first and the writes to apply after.

    Attributes:
        ops: The operations, in order (results come back in this order).
        writes: One command per written address, in the order each address was first written in the
            batch, holding the last put to it (``InMemoryStore`` keeps a dict of puts the same way).
    """

    def __init__(self, ops: list[Op], writes: list[Command]) -> None:
        self.ops = ops
        self.writes = writes


def plan(ops: Iterable[Op], at: float) -> Plan:
    """Check every operation and build the write commands, before anything is read or sent.

    Args:
        ops: GetOp, SearchOp, ListNamespacesOp and PutOp, in any order.
        at: The clock of the batch's writes (seconds since the epoch).

    Raises:
        InvalidNamespaceError: a namespace label is not a string, is empty or holds a dot or a NUL, or a
            put's namespace is empty (LangGraph's own checks and messages).
        InvalidInputError: a put's value is not strict JSON, or its address cannot be stored.
        TypeError: an operation of another type.
    """
    checked = list(ops)
    puts: dict[Address, PutOp] = {}
    for op in checked:
        if isinstance(op, PutOp):
            _validate_namespace_labels(op.namespace)
            if not op.namespace:
                raise InvalidNamespaceError("Namespace cannot be empty.")
            puts[(tuple(op.namespace), op.key)] = op
        elif isinstance(op, (GetOp, SearchOp)):
            _validate_namespace_labels(op.namespace if isinstance(op, GetOp) else op.namespace_prefix)
        elif isinstance(op, ListNamespacesOp):
            for condition in op.match_conditions or ():
                _validate_namespace_labels(condition.path)
        else:
            raise TypeError(
                f"MemactorStore cannot run {type(op).__name__}: use GetOp, PutOp, SearchOp or ListNamespacesOp"
            )
    return Plan(checked, [_write(op, at) for op in puts.values()])


def _write(op: PutOp, at: float) -> Command:
    if op.value is None:
        return DeleteItem(tuple(op.namespace), op.key, at)
    ttl = None if op.ttl is None else float(op.ttl) * SECONDS_PER_MINUTE
    return PutItem(tuple(op.namespace), op.key, dict(op.value), ttl, None, at)


def storable(namespace: Sequence[str], key: str | None = None) -> bool:
    """Whether memactor can hold an item at this namespace (and key): if not, none is there."""
    try:
        check_namespace("namespace", tuple(namespace), allow_empty=key is None)
        if key is not None:
            check_item_key(key)
    except InvalidInputError:
        return False
    return True


def merge_conditions(paths: Iterable[Sequence[str]], *, from_end: bool) -> tuple[str, ...] | None:
    """One condition that holds exactly when all of ``paths`` hold, or None if none can.

    Args:
        paths: Prefix paths (or suffix paths with ``from_end``), ``"*"`` matching any one label.
        from_end: Align the paths on their last label (suffixes) rather than their first.
    """
    merged: list[str] = []
    for path in paths:
        labels = list(reversed(path)) if from_end else list(path)
        for index, label in enumerate(labels):
            if index == len(merged):
                merged.append(label)
            elif merged[index] == WILDCARD:
                merged[index] = label
            elif label not in (WILDCARD, merged[index]):
                return None
    return tuple(reversed(merged)) if from_end else tuple(merged)


def thaw(value: Any) -> Any:
    """A plain, mutable copy of a stored JSON value (memactor hands out read-only ones)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def langgraph_item(item: MemactorItem) -> Item:
    """A `langgraph.store.base.Item` for a memactor item, times as timezone-aware UTC datetimes."""
    return Item(
        value=thaw(item.value),
        key=item.key,
        namespace=item.namespace,
        created_at=_time(item.created_at),
        updated_at=_time(item.updated_at),
    )


def search_item(item: MemactorItem) -> SearchItem:
    """A `langgraph.store.base.SearchItem` (no score: there is no vector index)."""
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=thaw(item.value),
        created_at=_time(item.created_at),
        updated_at=_time(item.updated_at),
    )
