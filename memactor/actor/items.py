"""`mem.items`: a shared store of JSON documents under (namespace tuple, key), and its batch methods.

Puts are upserts through the writer (one command each, or many in one `batch()`); reads run on the read
pool. Expired items are invisible to every read at once; the writer deletes them later, in a periodic
sweep. A read with ``refresh_ttl`` (the default) pushes back the expiry of the TTL items it returned: the
handle that ran the read queues one `TouchItems` command for them after the read, without waiting for it
(see `memactor.actor.memory.Memory.query`). A refresh is a write, and a read must never wait for the writer:
under write load that would put every read behind the mailbox, which is what the read pool exists to avoid.
So a refresh commits with the next group commit, not before the read returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from ..errors import InvalidInputError, NotFoundError
from ..model.commands import Command
from ..model.itemops import DeleteItem, GetItems, ListNamespaces, PutItem, SearchItems
from ..model.items import Item
from .backend import Backend

__all__ = ["BatchItemStore", "ItemStore", "delete_item_command", "put_item_command"]

Clock = Callable[[], float]
Address = tuple[tuple[str, ...], str]


def put_item_command(
    namespace: tuple[str, ...],
    key: str,
    value: Mapping[str, Any],
    ttl: float | None,
    expect_version: int | None,
    clock: Clock,
) -> PutItem:
    """Build the command that puts one item (validated here, before anything is sent)."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)
    return PutItem(namespace, key, value, ttl, expect_version, clock())


def delete_item_command(namespace: tuple[str, ...], key: str, clock: Clock) -> DeleteItem:
    """Build the command that deletes one item."""
    return DeleteItem(namespace, key, clock())


class ItemStore:
    """JSON documents addressed by (namespace, key); ``mem.items``.

    Args:
        backend: The handle (`memactor.Memory` or `memactor.RemoteMemory`).
        clock: Seconds since the epoch; stamps puts and decides expiry. Tests may pass their own.
    """

    def __init__(self, backend: Backend, clock: Clock = time.time) -> None:
        self._backend = backend
        self._clock = clock

    async def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        *,
        ttl: float | None = None,
        expect_version: int | None = None,
    ) -> Item:
        """Insert or replace the item at (namespace, key).

        Args:
            namespace: A tuple of labels: non-empty strings without dots.
            key: 1-1024 characters.
            value: A strict-JSON object (str keys, finite numbers, 64-bit integers), at most 16 MiB as JSON.
            ttl: Seconds the item lives without being read, or None (forever).
            expect_version: 0: only if absent; v: only if it is at version v.

        Returns:
            The item as stored (version 1 when new, one more when replaced).

        Raises:
            InvalidInputError: a bad namespace, key, value or ttl.
            ConflictError: ``expect_version`` did not match.
        """
        command = put_item_command(namespace, key, value, ttl, expect_version, self._clock)
        return cast(Item, await self._backend.execute(command))

    async def get(self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool = True) -> Item:
        """Fetch one live item.

        Raises:
            NotFoundError: no item there, or it expired.
        """
        found = await self.get_many([(namespace, key)], refresh_ttl=refresh_ttl)
        if not found:
            raise NotFoundError(f"no item {key!r} in namespace {namespace!r}")
        return found[0]

    async def get_many(self, addresses: Iterable[Address], *, refresh_ttl: bool = True) -> list[Item]:
        """Fetch several items by (namespace, key); missing and expired ones are left out.

        Returns:
            The items found, in the order asked (duplicates once).
        """
        if isinstance(addresses, (str, bytes)) or not isinstance(addresses, Iterable):
            raise InvalidInputError("addresses must be an iterable of (namespace, key) pairs")
        query = GetItems(tuple(addresses), self._clock(), refresh_ttl)
        return cast(list[Item], await self._backend.query(query))

    async def delete(self, namespace: tuple[str, ...], key: str) -> bool:
        """Delete one item. Works even when the store is at its ``max_size`` quota.

        Returns:
            True if it existed (and had not expired).
        """
        return cast(bool, await self._backend.execute(delete_item_command(namespace, key, self._clock)))

    async def search(
        self,
        namespace_prefix: tuple[str, ...],
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002 - LangGraph's name for it
        query: str | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool = True,
    ) -> list[Item]:
        """Find live items in ``namespace_prefix`` and every namespace below it.

        Args:
            namespace_prefix: ``()`` for every namespace.
            filter: Conditions on top-level fields of the value (see `memactor.model.itemfilter`):
                ``{"status": "done", "score": {"$gte": 3}}``; ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``.
            query: Free text matched against the value's strings (any word); best match first. Empty or
                whitespace-only text is no text.
            limit: At most this many, 1..10,000.
            offset: Skip this many matches first.
            refresh_ttl: Push back the expiry of the TTL items returned.

        Returns:
            The items, in the order they were first put (by relevance first with ``query``).

        Raises:
            InvalidInputError: a bad prefix, filter, limit or offset.
        """
        search = SearchItems(namespace_prefix, filter, query, limit, offset, self._clock(), refresh_ttl)
        return cast(list[Item], await self._backend.query(search))

    async def list_namespaces(
        self,
        *,
        prefix: tuple[str, ...] | None = None,
        suffix: tuple[str, ...] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces that hold live items, sorted.

        Args:
            prefix: Only namespaces starting with these labels; ``"*"`` matches any one label.
            suffix: Only namespaces ending with these labels; ``"*"`` matches any one label.
            max_depth: Cut longer namespaces to this many labels (each then listed once).
            limit: At most this many, 1..10,000.
            offset: Skip this many first.
        """
        listing = ListNamespaces(prefix, suffix, max_depth, limit, offset, self._clock())
        # Tuples again: a server's answer carries them as arrays.
        return [tuple(namespace) for namespace in await self._backend.query(listing)]


class BatchItemStore:
    """``b.items`` in ``async with mem.batch() as b``: puts and deletes recorded, sent with the batch."""

    def __init__(self, commands: list[Command], clock: Clock = time.time) -> None:
        self._commands = commands
        self._clock = clock

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        *,
        ttl: float | None = None,
        expect_version: int | None = None,
    ) -> None:
        """Put an item with the batch (see `ItemStore.put`); its result is in ``b.results``."""
        self._commands.append(put_item_command(namespace, key, value, ttl, expect_version, self._clock))

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete an item with the batch."""
        self._commands.append(delete_item_command(namespace, key, self._clock))
