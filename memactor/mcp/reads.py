"""The reading half of the tools: recall across the three stores, lookups by id, skills, recent episodes.

Reads stay in the server's namespace: a search is filtered to it, and a record fetched by id from another
namespace answers as if it did not exist.
"""

from typing import Any, Literal, Protocol

from ..actor.stores import EpisodeStore, FactStore, SkillStore
from ..errors import NotFoundError
from ..model.records import Hit, Record
from .errors import as_tool_errors
from .params import AgentFilter, Kinds, Limit20, Limit50, MemoryId, Query, Tags, TimeBound
from .render import hit_view, parse_time, record_view

__all__ = ["Handle", "Reads"]

_KINDS: tuple[Literal["episode", "fact", "skill"], ...] = ("episode", "fact", "skill")


class Handle(Protocol):
    """What the tools need of a handle: `memactor.Memory` and `memactor.RemoteMemory` both have it."""

    episodes: EpisodeStore
    facts: FactStore
    skills: SkillStore


class Reads:
    """The read tools, bound to one handle and namespace; the write tools build on it."""

    def __init__(self, handle: Handle, *, agent_id: str | None, namespace: str) -> None:
        """Serve ``handle``, writing as ``agent_id`` in ``namespace`` and reading only ``namespace``."""
        self.handle = handle
        self.agent_id = agent_id
        self.namespace = namespace

    @property
    def owner(self) -> dict[str, Any]:
        """The fields every record written through these tools gets from the configuration."""
        return {"agent_id": self.agent_id, "namespace": self.namespace}

    def store(self, kind: str) -> EpisodeStore | FactStore | SkillStore:
        """The store of ``kind``."""
        stores: dict[str, EpisodeStore | FactStore | SkillStore] = {
            "episode": self.handle.episodes,
            "fact": self.handle.facts,
            "skill": self.handle.skills,
        }
        return stores[kind]

    async def find(self, record_id: str, kinds: tuple[str, ...] = _KINDS) -> Record:
        """The record with this id in this namespace, of any of ``kinds``.

        Raises:
            NotFoundError: there is none (a record of another namespace counts as none).
        """
        for kind in kinds:
            for record in await self.store(kind).get_many((record_id,)):
                if record.namespace == self.namespace:
                    return record
        raise NotFoundError(f"no {' or '.join(kinds)} has the id {record_id!r}")

    async def recall(
        self,
        query: Query,
        kinds: Kinds = _KINDS,
        agent_id: AgentFilter = None,
        tags: Tags = (),
        since: TimeBound = None,
        until: TimeBound = None,
        limit: Limit50 = 10,
    ) -> dict[str, Any]:
        """Search episodes, facts and skills at once; best matches first, with their scores."""
        with as_tool_errors():
            filters: dict[str, Any] = {"namespace": self.namespace, "agent_id": agent_id, "tags": tags}
            filters.update(since=parse_time("since", since), until=parse_time("until", until))
            filters = {key: value for key, value in filters.items() if value not in (None, ())}
            hits: list[Hit] = []
            for kind in dict.fromkeys(kinds):
                hits += await self.store(kind).search(query, limit=limit, **filters)
            hits.sort(key=lambda hit: hit.score, reverse=True)
            return {"results": [hit_view(hit) for hit in hits[:limit]]}

    async def get_memory(self, id: MemoryId) -> dict[str, Any]:  # noqa: A002 - the name a model expects
        """Read one memory (episode, fact or skill) in full by its id."""
        with as_tool_errors():
            return record_view(await self.find(id))

    async def find_skills(self, query: Query, limit: Limit20 = 5) -> dict[str, Any]:
        """Find skills for a task; the best first, with how often each worked."""
        with as_tool_errors():
            hits = await self.handle.skills.search(query, limit=limit, namespace=self.namespace)
            return {"results": [hit_view(hit) | _counts(hit.record) for hit in hits]}

    async def recent_episodes(self, agent_id: AgentFilter = None, limit: Limit50 = 10) -> dict[str, Any]:
        """List the newest episodes, of one agent or of all."""
        with as_tool_errors():
            filters: dict[str, Any] = {"namespace": self.namespace}
            if agent_id is not None:
                filters["agent_id"] = agent_id
            episodes = await self.handle.episodes.search(None, limit=limit, **filters)
            return {"results": [record_view(hit.record) for hit in episodes]}


def _counts(record: Record) -> dict[str, Any]:
    return {"uses": getattr(record, "uses", 0), "successes": getattr(record, "successes", 0)}
