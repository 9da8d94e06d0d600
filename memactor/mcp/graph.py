"""A knowledge graph (entities with observations, and relations between them) kept in ``mem.items``.

It behaves as the graph of the reference MCP memory server (npm ``@modelcontextprotocol/server-memory``)
does, call for call, except that every change is atomic and none is lost when several processes share the
memory. The reference server reads its whole JSONL file, changes it and writes it back, so two clients at
once overwrite each other's changes. Here an entity is one item and a relation is another:

- entities: namespace ``(NS, "graph", "entities")``, key the SHA-256 of the name (a name may be empty or
  longer than an item key), value ``{"name", "entityType", "observations"}``;
- relations: namespace ``(NS, "graph", "relations")``, key the SHA-256 of ``[from, to, relationType]``.

Items are listed in the order they were first put, and a replacement keeps its place: that is the order of
the reference server's file (a new entity at the end, a changed one where it was, a deleted and re-created
one at the end). A change that depends on what is stored (creating only what is absent, adding only new
observations) reads, then writes in one `batch()` with ``expect_version`` on every item it read, and starts
again when another client changed one of them in between (`ConflictError`).

One deliberate difference: a name is one entity. The reference server stores a name given twice in one
``create_entities`` call twice (and its later calls see only the first); here the first one given is kept.
Relations likewise.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import anyio

from ..actor.batch import BatchContext
from ..actor.items import ItemStore
from ..errors import ConflictError, NotFoundError
from ..model.items import Item, check_namespace
from ..model.validate import MAX_LIMIT

__all__ = ["MAX_ATTEMPTS", "GraphHandle", "GraphStore", "entity_view", "relation_view"]

# A change retried this often without once reading a state that stayed put long enough to write over it
# meets a hotter contention than any set of MCP clients produces; the caller is told to try again.
MAX_ATTEMPTS = 100
Entity = dict[str, Any]
Relation = dict[str, str]


class GraphHandle(Protocol):
    """What the graph needs of a handle: `memactor.Memory` and `memactor.RemoteMemory` both have it."""

    items: ItemStore

    def batch(self) -> BatchContext:
        """An atomic batch of writes."""
        ...


def _digest(value: object) -> str:
    # surrogatepass: a name is hashed whatever it holds; the value check refuses what cannot be stored.
    return hashlib.sha256(json.dumps(value).encode("utf-8", "surrogatepass")).hexdigest()


def entity_key(name: str) -> str:
    """The item key of the entity named ``name``."""
    return _digest(name)


def relation_key(relation: Mapping[str, Any]) -> str:
    """The item key of a relation."""
    return _digest([relation["from"], relation["to"], relation["relationType"]])


def entity_view(value: Mapping[str, Any]) -> Entity:
    """An entity as the reference server shows it (plain lists, its three fields in its order)."""
    return {"name": value["name"], "entityType": value["entityType"], "observations": list(value["observations"])}


def relation_view(value: Mapping[str, Any]) -> Relation:
    """A relation as the reference server shows it."""
    return {"from": value["from"], "to": value["to"], "relationType": value["relationType"]}


def _first_of_each(values: Iterable[Mapping[str, Any]], key: Any) -> dict[str, Mapping[str, Any]]:
    firsts: dict[str, Mapping[str, Any]] = {}
    for value in values:
        firsts.setdefault(key(value), value)
    return firsts


class GraphStore:
    """The graph of one namespace, over a handle's items.

    Args:
        handle: An open `memactor.Memory` or `memactor.RemoteMemory`.
        namespace: The memory namespace; the graph lives in item namespaces below it.

    Raises:
        InvalidInputError: ``namespace`` cannot be an item namespace label (empty, or with a dot).
    """

    def __init__(self, handle: GraphHandle, namespace: str) -> None:
        self._handle = handle
        self.root = check_namespace("namespace", (namespace, "graph"))
        self.entities_ns = (*self.root, "entities")
        self.relations_ns = (*self.root, "relations")

    async def read(self) -> tuple[list[Entity], list[Relation]]:
        """Every entity and every relation, in the reference server's order.

        Up to 10,000 of them together come from one read, a state that existed; more are read in pages.
        """
        entities: list[Entity] = []
        relations: list[Relation] = []
        for item in await self._all(self.root):
            if item.namespace == self.entities_ns:
                entities.append(entity_view(item.value))
            elif item.namespace == self.relations_ns:
                relations.append(relation_view(item.value))
        return entities, relations

    async def create_entities(self, entities: Sequence[Mapping[str, Any]]) -> list[Entity]:
        """Store the entities whose names are not yet in the graph; returns those, in the order given."""
        wanted = _first_of_each(entities, lambda entity: entity["name"])
        return [entity_view(e) for e in await self._create(self.entities_ns, wanted, entity_key, entity_view)]

    async def create_relations(self, relations: Sequence[Mapping[str, Any]]) -> list[Relation]:
        """Store the relations not yet in the graph (their entities need not exist); returns those."""
        wanted = _first_of_each(relations, relation_key)
        return [relation_view(r) for r in await self._create(self.relations_ns, wanted, lambda key: key, relation_view)]

    async def add_observations(self, additions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append each addition's contents that its entity lacks; all or nothing.

        Returns:
            ``{"entityName", "addedObservations"}`` per addition, in order.

        Raises:
            NotFoundError: an addition names an entity that does not exist (nothing is added).
        """
        for attempt in range(MAX_ATTEMPTS):
            found = await self._entities(a["entityName"] for a in additions)
            working = {name: list(item.value["observations"]) for name, item in found.items()}
            results = []
            for addition in additions:
                name = addition["entityName"]
                if name not in working:
                    raise NotFoundError(f"Entity with name {name} not found")
                new = [content for content in addition["contents"] if content not in working[name]]
                working[name].extend(new)
                results.append({"entityName": name, "addedObservations": new})
            if await self._replace_observations(found, working):
                return results
            await _back_off(attempt)
        raise _too_busy()

    async def merge_entities(self, entities: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """Create the absent entities and append to the present ones the observations they lack; all or nothing.

        An entity already stored keeps its type. Importing the same entities twice changes nothing.

        Returns:
            How many entities were created, and how many present ones gained observations.
        """
        wanted = _first_of_each(entities, lambda entity: entity["name"])
        for attempt in range(MAX_ATTEMPTS):
            found = await self._entities(wanted)
            created = updated = 0
            try:
                async with self._handle.batch() as batch:
                    for name, entity in wanted.items():
                        item = found.get(name)
                        if item is None:
                            batch.items.put(self.entities_ns, entity_key(name), entity_view(entity), expect_version=0)
                            created += 1
                            continue
                        old = list(item.value["observations"])
                        new = [o for o in entity["observations"] if o not in old]
                        if new:
                            value = {**entity_view(item.value), "observations": old + new}
                            batch.items.put(self.entities_ns, item.key, value, expect_version=item.version)
                            updated += 1
            except ConflictError:
                await _back_off(attempt)
                continue
            return created, updated
        raise _too_busy()

    async def delete_observations(self, deletions: Sequence[Mapping[str, Any]]) -> None:
        """Remove the given observations from each named entity; missing entities are passed over."""
        for attempt in range(MAX_ATTEMPTS):
            found = await self._entities(d["entityName"] for d in deletions)
            working = {name: list(item.value["observations"]) for name, item in found.items()}
            for deletion in deletions:
                name = deletion["entityName"]
                if name in working:
                    working[name] = [o for o in working[name] if o not in deletion["observations"]]
            if await self._replace_observations(found, working):
                return
            await _back_off(attempt)
        raise _too_busy()

    async def delete_entities(self, names: Sequence[str]) -> None:
        """Delete the named entities and every relation from or to any of these names."""
        doomed = set(names)
        # A relation created by another client after this read and before the batch stays: the same end
        # as if that client had come just after this call, which it may have.
        relations = [item.key for item in await self._all(self.relations_ns) if _touches(item.value, doomed)]
        async with self._handle.batch() as batch:
            for key in {entity_key(name) for name in doomed}:
                batch.items.delete(self.entities_ns, key)
            for key in relations:
                batch.items.delete(self.relations_ns, key)

    async def delete_relations(self, relations: Sequence[Mapping[str, Any]]) -> None:
        """Delete the given relations; absent ones are passed over."""
        async with self._handle.batch() as batch:
            for key in {relation_key(relation) for relation in relations}:
                batch.items.delete(self.relations_ns, key)

    async def _create(
        self, namespace: tuple[str, ...], wanted: dict[str, Mapping[str, Any]], key_of: Any, view: Any
    ) -> list[Mapping[str, Any]]:
        for attempt in range(MAX_ATTEMPTS):
            keys = {key_of(k): k for k in wanted}
            present = {item.key for item in await self._get(namespace, keys)}
            new = [value for k, value in wanted.items() if key_of(k) not in present]
            if not new:
                return []
            try:
                async with self._handle.batch() as batch:
                    for k, value in wanted.items():
                        if key_of(k) not in present:
                            batch.items.put(namespace, key_of(k), view(value), expect_version=0)
            except ConflictError:
                await _back_off(attempt)
                continue
            return new
        raise _too_busy()

    async def _replace_observations(self, found: dict[str, Item], working: dict[str, list[str]]) -> bool:
        """Write the entities whose observations changed, each only over the version read; False on a conflict."""
        try:
            async with self._handle.batch() as batch:
                for name, item in found.items():
                    if working[name] != list(item.value["observations"]):
                        value = {**entity_view(item.value), "observations": working[name]}
                        batch.items.put(self.entities_ns, item.key, value, expect_version=item.version)
        except ConflictError:
            return False
        return True

    async def _entities(self, names: Iterable[str]) -> dict[str, Item]:
        keys = {entity_key(name): name for name in names}
        return {item.value["name"]: item for item in await self._get(self.entities_ns, keys)}

    async def _get(self, namespace: tuple[str, ...], keys: Iterable[str]) -> list[Item]:
        addresses = [(namespace, key) for key in keys]
        found: list[Item] = []
        for start in range(0, len(addresses), MAX_LIMIT):
            found += await self._handle.items.get_many(addresses[start : start + MAX_LIMIT], refresh_ttl=False)
        return found

    async def _all(self, prefix: tuple[str, ...]) -> list[Item]:
        found: list[Item] = []
        while True:
            page = await self._handle.items.search(prefix, limit=MAX_LIMIT, offset=len(found), refresh_ttl=False)
            found += page
            if len(page) < MAX_LIMIT:
                return found


def _touches(relation: Mapping[str, Any], names: set[str]) -> bool:
    return relation["from"] in names or relation["to"] in names


async def _back_off(attempt: int) -> None:
    # Clients that lost a race wait a random while, growing with each loss (up to 50 ms), before they read
    # again: without it, on a slow commit path, the same clients collide again and again and one starves.
    await anyio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))


def _too_busy() -> ConflictError:
    return ConflictError("the graph kept changing under this call (other clients are writing): call again")
