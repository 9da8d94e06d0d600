"""The write tools and `build_server`, which puts every tool on an MCP server over any memactor handle.

Who writes is the server's business, not the model's: every record is written with the agent id and
namespace the server was started with, and every change by id stays inside that namespace (a record of
another namespace answers as if it did not exist). An ``agent_id`` a model passes is only a read filter.
"""

import re
from typing import Any

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from ..errors import NotFoundError
from ..model.records import Episode, Fact, Skill
from .errors import as_tool_errors
from .guard import ArgumentGuard
from .params import (
    ID_PATTERN,
    Code,
    Confidence,
    Description,
    EpisodeIds,
    FactText,
    Importance,
    MemoryId,
    Name,
    NewConfidence,
    NewTags,
    OptionalText,
    Outcome,
    SkillRef,
    Steps,
    Success,
    Tags,
    TaskText,
    Version,
    Worked,
)
from .reads import Handle, Reads
from .render import record_view

__all__ = ["MemoryTools", "build_server"]


class MemoryTools(Reads):
    """Every tool, bound to one handle, agent id and namespace. Each public coroutine is one tool."""

    async def record_episode(
        self,
        task: TaskText,
        steps: Steps = (),
        outcome: Outcome = "",
        success: Success = None,
        importance: Importance = 0.5,
        tags: Tags = (),
    ) -> dict[str, Any]:
        """Record what happened when you worked on a task, to recall it later."""
        with as_tool_errors():
            episode = Episode(
                task=task, steps=steps, outcome=outcome, success=success, importance=importance, tags=tags, **self.owner
            )
            return {"kind": "episode", "id": await self.handle.episodes.add(episode)}

    async def add_fact(
        self, content: FactText, confidence: Confidence = 0.5, source_episode_ids: EpisodeIds = (), tags: Tags = ()
    ) -> dict[str, Any]:
        """Store a fact or lesson learned, optionally citing the episodes it came from."""
        with as_tool_errors():
            await self._require_episodes(source_episode_ids)
            fact = Fact(
                content=content, confidence=confidence, source_episode_ids=source_episode_ids, tags=tags, **self.owner
            )
            return {"kind": "fact", "id": await self.handle.facts.add(fact)}

    async def update_fact(
        self,
        id: MemoryId,  # noqa: A002 - the name a model expects
        content: OptionalText = None,
        confidence: NewConfidence = None,
        tags: NewTags = None,
        expect_version: Version = None,
    ) -> dict[str, Any]:
        """Change a fact's content, confidence or tags; with expect_version, only if nobody changed it since."""
        changes = {k: v for k, v in (("content", content), ("confidence", confidence), ("tags", tags)) if v is not None}
        if not changes:
            raise ToolError("update_fact: give at least one of content, confidence or tags")
        with as_tool_errors():
            await self.find(id, kinds=("fact",))
            return record_view(await self.handle.facts.update(id, expect_version=expect_version, **changes))

    async def forget(self, id: MemoryId) -> dict[str, Any]:  # noqa: A002
        """Delete one memory (episode, fact or skill) by its id."""
        with as_tool_errors():
            record = await self.find(id)
            await self.store(record.KIND).delete(id)
            return {"forgotten": id, "kind": record.KIND}

    async def add_skill(
        self, name: Name, description: Description = "", steps: Steps = (), code: Code = "", tags: Tags = ()
    ) -> dict[str, Any]:
        """Store a reusable procedure under a name unique in this memory."""
        with as_tool_errors():
            skill = Skill(name=name, description=description, steps=steps, code=code, tags=tags, **self.owner)
            return {"kind": "skill", "id": await self.handle.skills.add(skill)}

    async def record_skill_use(self, skill: SkillRef, success: Worked) -> dict[str, Any]:
        """Count one use of a skill (by id or name) and whether it worked."""
        with as_tool_errors():
            used = await self.handle.skills.record_use((await self._skill(skill)).id, success)
            rate = round((used.successes + 1) / (used.uses + 2), 4)
            return {
                "id": used.id,
                "name": used.name,
                "uses": used.uses,
                "successes": used.successes,
                "success_rate": rate,
            }

    async def _skill(self, ref: str) -> Skill:
        # A name may also look like an id (``rollback``): the id is tried first, then the name.
        if re.fullmatch(ID_PATTERN, ref):
            for found in await self.handle.skills.get_many((ref,)):
                if found.namespace == self.namespace:
                    return found
        return await self.handle.skills.get_by_name(ref, namespace=self.namespace)

    async def _require_episodes(self, ids: tuple[str, ...]) -> None:
        present = {e.id for e in await self.handle.episodes.get_many(ids) if e.namespace == self.namespace}
        missing = [i for i in ids if i not in present]
        if missing:
            raise NotFoundError(f"source_episode_ids: no episode has the id {missing[0]!r}")


# name -> (writes?, what the model is told). One line each: clients show them in tool pickers.
TOOLS: dict[str, tuple[bool, str]] = {
    "record_episode": (
        True,
        "Record what happened when you worked on a task (steps, outcome, success), to recall later.",
    ),
    "add_fact": (True, "Store a fact or lesson learned, optionally citing the episode ids it came from."),
    "update_fact": (
        True,
        "Change a fact's content, confidence or tags; expect_version makes it fail if changed since.",
    ),
    "recall": (False, "Search episodes, facts and skills at once; returns ids, text and score parts, best first."),
    "get_memory": (False, "Read one memory (episode, fact or skill) in full by its id."),
    "forget": (True, "Delete one memory (episode, fact or skill) by its id."),
    "add_skill": (True, "Store a reusable procedure (steps, code) under a name unique in this memory."),
    "find_skills": (False, "Find skills for a task, best first, with how often each was used and worked."),
    "record_skill_use": (True, "Count one use of a skill (by id or name) and whether it worked."),
    "recent_episodes": (False, "List the newest episodes, of one agent or of all."),
}


def build_server(
    handle: Handle,
    *,
    agent_id: str | None,
    namespace: str,
    name: str = "memactor",
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> MCPServer[Any]:
    """An MCP server with memactor's tools over ``handle`` (a `memactor.Memory` or `memactor.RemoteMemory`).

    Args:
        handle: An open handle; the caller keeps it open while the server runs, and closes it.
        agent_id: The agent id every record written through the tools gets (None: no agent).
        namespace: The one namespace the tools write and read.
        name: The server's name, as clients show it.
        token_verifier: For streamable HTTP with bearer tokens (see `memactor.mcp.auth`), with ``auth``.
        auth: The SDK's auth settings that go with ``token_verifier``.

    Returns:
        The server, ready to run on any transport or to be reached in process by `mcp.Client`.

    Raises:
        InvalidInputError: ``namespace`` or ``agent_id`` is not valid text.
    """
    Episode(task="x", agent_id=agent_id, namespace=namespace)  # checks both, as a write would
    tools = MemoryTools(handle, agent_id=agent_id, namespace=namespace)
    registered = [
        Tool.from_function(
            getattr(tools, tool_name),
            name=tool_name,
            description=description,
            annotations=ToolAnnotations(read_only_hint=not writes, destructive_hint=tool_name == "forget"),
        )
        for tool_name, (writes, description) in TOOLS.items()
    ]
    writers = frozenset(tool_name for tool_name, (writes, _) in TOOLS.items() if writes)
    server: MCPServer[Any] = MCPServer(
        name,
        instructions=_INSTRUCTIONS,
        tools=registered,
        middleware=[ArgumentGuard(registered, writers)],
        token_verifier=token_verifier,
        auth=auth,
    )
    _add_statistics(server, tools)
    return server


_INSTRUCTIONS = (
    "A durable memory shared with other agents. Before a task, recall what is known about it; after it, "
    "record_episode what happened and add_fact what was learned. Ids returned by one tool are accepted by the others."
)


def _add_statistics(server: MCPServer[Any], tools: MemoryTools) -> None:
    @server.resource(
        "memactor://statistics",
        name="statistics",
        mime_type="application/json",
        description="How many episodes, facts and skills this memory holds.",
    )
    async def statistics() -> dict[str, Any]:
        counts = {
            f"{kind}s": await tools.store(kind).count(namespace=tools.namespace)
            for kind in ("episode", "fact", "skill")
        }
        return {"namespace": tools.namespace, "agent_id": tools.agent_id, **counts}
