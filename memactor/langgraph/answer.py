"""Run a checked batch (`memactor.langgraph.convert.Plan`) against a memactor handle.

The reads are answered first, then every write of the batch goes to the writer as one command (a memactor
`Batch` when there are several): all of them commit or none does. ``InMemoryStore`` answers the reads of a
batch before applying its writes too, so a get in a batch never sees a put of the same batch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.store.base import GetOp, ListNamespacesOp, Result, SearchOp

from ..actor.backend import Backend
from ..errors import InvalidInputError
from ..model.commands import Batch
from ..model.itemops import GetItems, ListNamespaces, SearchItems
from ..model.items import Item, check_namespace
from ..model.validate import MAX_LIMIT
from .convert import Address, Plan, langgraph_item, merge_conditions, search_item, storable

__all__ = ["run_plan"]

Clock = Callable[[], float]


async def run_plan(backend: Backend, plan: Plan, clock: Clock = time.time) -> list[Result]:
    """Answer the reads of ``plan`` (all before any write), then apply its writes in one command.

    Returns:
        One result per operation, in order: an Item or None per get, a list of SearchItem per search, a
        list of namespace tuples per listing, None per put.
    """
    now = clock()
    results: list[Result] = [None] * len(plan.ops)
    await _gets(backend, plan, now, results)
    for index, op in enumerate(plan.ops):
        if isinstance(op, SearchOp):
            results[index] = await _search(backend, op, now)
        elif isinstance(op, ListNamespacesOp):
            results[index] = await _list(backend, op, now)
    if len(plan.writes) == 1:
        await backend.execute(plan.writes[0])
    elif plan.writes:
        await backend.execute(Batch(tuple(plan.writes)))
    return results


async def _gets(backend: Backend, plan: Plan, now: float, results: list[Result]) -> None:
    """All the gets of the batch in one query per refresh setting (at most 10,000 addresses a query)."""
    for refresh in (True, False):
        wanted = [
            (index, (tuple(op.namespace), op.key))
            for index, op in enumerate(plan.ops)
            if isinstance(op, GetOp) and bool(op.refresh_ttl) is refresh and storable(op.namespace, op.key)
        ]
        found: dict[Address, Item] = {}
        addresses = list(dict.fromkeys(address for _, address in wanted))
        for start in range(0, len(addresses), MAX_LIMIT):
            chunk = tuple(addresses[start : start + MAX_LIMIT])
            for item in await backend.query(GetItems(chunk, now, refresh)):
                found[(tuple(item.namespace), item.key)] = item
        for index, address in wanted:
            item = found.get(address)
            results[index] = None if item is None else langgraph_item(item)


async def _paged(fetch: Callable[[int, int], Awaitable[list[Any]]], limit: int, offset: int) -> list[Any]:
    """``limit`` results from ``offset``, in pages of at most 10,000 (memactor's bound for one query)."""
    if limit < 0 or offset < 0:
        raise InvalidInputError(f"limit and offset must be >= 0, not {limit} and {offset}")
    found: list[Any] = []
    while len(found) < limit:
        size = min(limit - len(found), MAX_LIMIT)
        page = await fetch(size, offset + len(found))
        found.extend(page)
        if len(page) < size:
            break
    return found


async def _search(backend: Backend, op: SearchOp, now: float) -> list[Any]:
    prefix = tuple(op.namespace_prefix)
    if not storable(prefix):
        return []

    async def fetch(limit: int, offset: int) -> list[Any]:
        # No vector index: the query is ignored, as InMemoryStore ignores it without one.
        query = SearchItems(prefix, op.filter, None, limit, offset, now, bool(op.refresh_ttl))
        return [search_item(item) for item in await backend.query(query)]

    return await _paged(fetch, op.limit, op.offset)


async def _list(backend: Backend, op: ListNamespacesOp, now: float) -> list[tuple[str, ...]]:
    conditions = list(op.match_conditions or ())
    for condition in conditions:
        if condition.match_type not in ("prefix", "suffix"):
            raise ValueError(f"Unsupported match type: {condition.match_type}")
    bounds = []
    for kind in ("prefix", "suffix"):
        paths = [c.path for c in conditions if c.match_type == kind]
        merged = merge_conditions(paths, from_end=kind == "suffix") if paths else ()
        if merged is None or not _listable(merged):
            return []
        bounds.append(merged or None)
    prefix, suffix = bounds
    depth = op.max_depth
    if depth is not None and depth < 0:
        raise InvalidInputError(f"max_depth must be >= 0, not {depth}")

    async def fetch(limit: int, offset: int) -> list[tuple[str, ...]]:
        listing = ListNamespaces(prefix, suffix, depth or None, limit, offset, now)
        return [tuple(namespace) for namespace in await backend.query(listing)]

    if depth == 0:
        # Every namespace cut to no label at all: one empty namespace if there is any (InMemoryStore's answer).
        empty: list[tuple[str, ...]] = [()]
        return empty[op.offset : op.offset + op.limit] if await fetch(1, 0) else []
    return await _paged(fetch, op.limit, op.offset)


def _listable(path: tuple[str, ...]) -> bool:
    try:
        check_namespace("condition", path, allow_empty=True, wildcard=True)
    except InvalidInputError:
        return False
    return True
