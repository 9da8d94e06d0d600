"""The gate in front of every tool call: strict arguments, and writes only for tokens that may write.

The SDK ignores arguments a tool does not declare, and reports a bad one in pydantic's long form. A
language model learns more from a short list of what to fix, and an argument it invented (``agent_id`` on
a write, say) must not pass unnoticed. So this server middleware checks each ``tools/call`` against the
tool's own argument model first and answers a bad call with a tool error (``isError``), which the model
reads; the call never reaches the tool. The SDK validates again behind it, which is cheap.

Over HTTP, a request authenticated with a read-only token (see `memactor.mcp.auth`) may call only the
tools that do not write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from .auth import WRITE_SCOPE, request_scopes

__all__ = ["ArgumentGuard"]

# Enough to show what to fix; a 10,000-item list of wrong items would otherwise fill the model's context.
_MAX_REPORTED = 5


class ArgumentGuard:
    """Server middleware: refuse unknown or invalid tool arguments, and writes through read-only tokens."""

    def __init__(self, tools: Sequence[Tool], writers: frozenset[str]) -> None:
        """Guard ``tools``; ``writers`` names the ones that write."""
        self._tools = {tool.name: tool for tool in tools}
        self._writers = writers

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Answer a bad ``tools/call`` with a tool error; pass everything else on."""
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            problem = self._problem(ctx, ctx.params)
            if problem is not None:
                return CallToolResult(content=[TextContent(type="text", text=problem)], is_error=True)
        return await call_next(ctx)

    def _problem(self, ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> str | None:
        name = params.get("name")
        arguments = params.get("arguments") or {}
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None or not isinstance(arguments, Mapping):
            return None  # the SDK answers these (unknown tool, malformed request)
        if name in self._writers and WRITE_SCOPE not in request_scopes(ctx.request):
            return f"{name}: this token is read-only; it may only read (recall, get_memory, find_skills, ...)"
        known = set(tool.parameters.get("properties", {}))
        unknown = sorted(str(key)[:40] for key in arguments if key not in known)
        if unknown:
            return (
                f"{name}: unknown argument(s) {', '.join(unknown[:_MAX_REPORTED])}; "
                f"it takes only: {', '.join(sorted(known))}. Remove the others and call again."
            )
        try:
            tool.fn_metadata.validate_arguments(dict(arguments))
        except ValidationError as exc:
            return f"{name}: invalid arguments: {_describe(exc)}. Fix them and call again."
        return None


def _describe(error: ValidationError) -> str:
    # The rejected values are left out: they may be huge, and the model knows what it sent.
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}" for item in error.errors()
    ]
    more = len(problems) - _MAX_REPORTED
    return "; ".join(problems[:_MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
