"""``memactor mcp --tools reference``: the tools of the reference MCP memory server, as a drop-in.

The reference server is npm ``@modelcontextprotocol/server-memory`` (a knowledge graph in a JSONL file).
A client configured for it gets the same nine tools here, with the same input and output schemas, the
same result texts (``JSON.stringify(result, null, 2)``) and structured content, and the same error text for
a missing entity; the graph lives in the memory's items (`memactor.mcp.graph`), so many clients can share
it without losing each other's changes. As there, arguments a tool does not know are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ValidationError
from typing_extensions import TypedDict

from ..errors import MemactorError, NotFoundError, StorageFullError
from .auth import WRITE_SCOPE, request_scopes
from .graph import GraphHandle, GraphStore
from .refschema import REFERENCE_TOOLS

__all__ = ["ReferenceTools", "ReferenceGate", "build_reference_server"]

# Enough to show what to fix; a 10,000-item list of wrong items would otherwise fill the model's context.
_MAX_REPORTED = 5


class EntityIn(TypedDict):
    """An entity as a tool receives it."""

    name: str
    entityType: str
    observations: list[str]


# "from" is a keyword: this one can only be declared the functional way.
RelationIn = TypedDict("RelationIn", {"from": str, "to": str, "relationType": str})


class AdditionIn(TypedDict):
    """Observations to add to one entity."""

    entityName: str
    contents: list[str]


class DeletionIn(TypedDict):
    """Observations to remove from one entity."""

    entityName: str
    observations: list[str]


def _text(value: Any) -> str:
    # JSON.stringify(value, null, 2): the same separators and escapes for every valid string.
    return json.dumps(value, indent=2, ensure_ascii=False)


def _result(text_of: Any, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=_text(text_of))], structured_content=structured)


def _done(message: str) -> CallToolResult:
    structured = {"success": True, "message": message}
    return CallToolResult(content=[TextContent(type="text", text=message)], structured_content=structured)


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _failure(exc: MemactorError) -> CallToolResult:
    if isinstance(exc, NotFoundError):
        return _error(str(exc))  # the reference server's own text
    if isinstance(exc, StorageFullError):
        return _error("the memory is full: delete entities or observations that are no longer needed, then retry")
    return _error(f"{exc} ({type(exc).__name__}); nothing of this call was written")


class ReferenceTools:
    """The nine tools over one graph; each public coroutine is one tool and answers as the reference does."""

    def __init__(self, graph: GraphStore) -> None:
        """Serve ``graph``."""
        self.graph = graph

    async def create_entities(self, entities: list[EntityIn]) -> CallToolResult:
        """Create multiple new entities in the knowledge graph."""
        try:
            created = await self.graph.create_entities(entities)
        except MemactorError as exc:
            return _failure(exc)
        return _result(created, {"entities": created})

    async def create_relations(self, relations: list[RelationIn]) -> CallToolResult:
        """Create multiple new relations between entities in the knowledge graph."""
        try:
            created = await self.graph.create_relations(relations)
        except MemactorError as exc:
            return _failure(exc)
        return _result(created, {"relations": created})

    async def add_observations(self, observations: list[AdditionIn]) -> CallToolResult:
        """Add new observations to existing entities in the knowledge graph."""
        try:
            results = await self.graph.add_observations(observations)
        except MemactorError as exc:
            return _failure(exc)
        return _result(results, {"results": results})

    async def delete_entities(self, entityNames: list[str]) -> CallToolResult:
        """Delete multiple entities and their associated relations from the knowledge graph."""
        try:
            await self.graph.delete_entities(entityNames)
        except MemactorError as exc:
            return _failure(exc)
        return _done("Entities deleted successfully")

    async def delete_observations(self, deletions: list[DeletionIn]) -> CallToolResult:
        """Delete specific observations from entities in the knowledge graph."""
        try:
            await self.graph.delete_observations(deletions)
        except MemactorError as exc:
            return _failure(exc)
        return _done("Observations deleted successfully")

    async def delete_relations(self, relations: list[RelationIn]) -> CallToolResult:
        """Delete multiple relations from the knowledge graph."""
        try:
            await self.graph.delete_relations(relations)
        except MemactorError as exc:
            return _failure(exc)
        return _done("Relations deleted successfully")

    async def read_graph(self) -> CallToolResult:
        """Read the entire knowledge graph."""
        return await self._graph(lambda entity: True)

    async def search_nodes(self, query: str) -> CallToolResult:
        """Search for nodes in the knowledge graph based on a query."""
        # JavaScript's toLowerCase and Python's lower agree on Unicode's full case mapping.
        needle = query.lower()

        def matches(entity: Mapping[str, Any]) -> bool:
            texts = (entity["name"], entity["entityType"], *entity["observations"])
            return any(needle in text.lower() for text in texts)

        return await self._graph(matches, neighbours=True)

    async def open_nodes(self, names: list[str]) -> CallToolResult:
        """Open specific nodes in the knowledge graph by their names."""
        wanted = set(names)
        return await self._graph(lambda entity: entity["name"] in wanted, neighbours=True)

    async def _graph(self, keep: Any, *, neighbours: bool = False) -> CallToolResult:
        """The entities ``keep`` accepts and the relations with an end among them (all, if not ``neighbours``)."""
        try:
            entities, relations = await self.graph.read()
        except MemactorError as exc:
            return _failure(exc)
        entities = [entity for entity in entities if keep(entity)]
        if neighbours:
            names = {entity["name"] for entity in entities}
            relations = [r for r in relations if r["from"] in names or r["to"] in names]
        graph = {"entities": entities, "relations": relations}
        return _result(graph, graph)


class _PublishedTool(Tool):
    """A tool whose schemas are the reference server's, not the ones derived from its Python signature."""

    published_output: dict[str, Any] | None = None

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The output schema clients are shown (the result itself is built by the tool)."""
        return self.published_output


class ReferenceGate:
    """Server middleware in front of the tools: short argument errors, and no writes through read-only tokens.

    Arguments are checked against the tool's own model first, so that a bad one is answered in a line per
    problem (as the reference server does) without echoing the value sent, which may be huge. Unknown
    arguments pass, and the tool never sees them: the reference server ignores them too.
    """

    def __init__(self, tools: Sequence[Tool], writers: frozenset[str]) -> None:
        """Guard ``tools``; ``writers`` names the ones that write."""
        self._tools = {tool.name: tool for tool in tools}
        self._writers = writers

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Answer a bad ``tools/call`` with a tool error; pass everything else on."""
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            problem = self._problem(ctx, ctx.params)
            if problem is not None:
                return _error(problem)
        return await call_next(ctx)

    def _problem(self, ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> str | None:
        name = params.get("name")
        tool = self._tools.get(name) if isinstance(name, str) else None
        arguments = params.get("arguments") or {}
        if tool is None or not isinstance(arguments, Mapping):
            return None  # the SDK answers these (unknown tool, malformed request)
        if name in self._writers and WRITE_SCOPE not in request_scopes(ctx.request):
            return f"{name}: this token is read-only; it may only call read_graph, search_nodes and open_nodes"
        try:
            tool.fn_metadata.validate_arguments(dict(arguments))
        except ValidationError as exc:
            problems = [f"{item['msg']} at {_location(item['loc'])}" for item in exc.errors()[:_MAX_REPORTED]]
            return f"Input validation error: Invalid arguments for tool {name}: " + "\n".join(problems)
        return None


def _location(parts: Sequence[int | str]) -> str:
    """``entities[0].name``, as the reference server writes a path."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def build_reference_server(
    handle: GraphHandle,
    *,
    namespace: str,
    name: str = "memactor-graph",
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> MCPServer[Any]:
    """An MCP server with the reference memory server's tools over ``handle``'s items.

    Args:
        handle: An open `memactor.Memory` or `memactor.RemoteMemory`; the caller keeps it open, and closes it.
        namespace: The memory namespace the graph lives in (see `memactor.mcp.graph`).
        name: The server's name, as clients show it.
        token_verifier: For streamable HTTP with bearer tokens (see `memactor.mcp.auth`), with ``auth``.
        auth: The SDK's auth settings that go with ``token_verifier``.

    Returns:
        The server, ready to run on any transport or to be reached in process by `mcp.Client`.

    Raises:
        InvalidInputError: ``namespace`` cannot hold items (empty, or with a dot).
    """
    tools = ReferenceTools(GraphStore(handle, namespace))
    registered: list[Tool] = []
    for tool_name, spec in REFERENCE_TOOLS.items():
        tool = cast(
            _PublishedTool,
            _PublishedTool.from_function(
                getattr(tools, tool_name),
                name=tool_name,
                title=spec.title,
                description=spec.description,
                annotations=ToolAnnotations(
                    read_only_hint=not spec.writes,
                    destructive_hint=spec.destructive,
                    idempotent_hint=not spec.writes or spec.destructive,
                    open_world_hint=False,
                ),
            ),
        )
        tool.parameters = spec.input_schema
        tool.published_output = spec.output_schema
        registered.append(tool)
    writers = frozenset(tool_name for tool_name, spec in REFERENCE_TOOLS.items() if spec.writes)
    return MCPServer(
        name,
        tools=registered,
        middleware=[ReferenceGate(registered, writers)],
        token_verifier=token_verifier,
        auth=auth,
    )
