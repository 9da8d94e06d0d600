"""``memactor mcp PATH`` as a subprocess, reached over stdio by the SDK's stdio client, as MCP clients do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters

import memactor

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]


def _server(db: Path, *flags: str) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "MEMACTOR_NAMESPACE": "from-env"}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "memactor", "mcp", str(db), *flags], env=env, cwd=str(CHECKOUT)
    )


async def test_stdio_server_serves_tools_and_writes_as_configured(db_path: Path) -> None:
    async with Client(_server(db_path, "--agent-id", "cli-agent"), read_timeout_seconds=60) as client:
        assert len((await client.list_tools()).tools) == 10
        written = await client.call_tool("record_episode", {"task": "over stdio", "outcome": "worked"})
        assert not written.is_error, written.content
        refused = await client.call_tool("record_episode", {"task": 42})
        assert refused.is_error
        hits = await client.call_tool("recall", {"query": "stdio"})
        assert hits.structured_content is not None
        assert [hit["text"] for hit in hits.structured_content["results"]] == ["over stdio -> worked"]
    # The server process has exited with its client: the file is free, and the write is in it.
    async with memactor.open(db_path) as memory:
        (episode,) = [hit.record for hit in await memory.episodes.search("stdio")]
        assert (episode.agent_id, episode.namespace) == ("cli-agent", "from-env")
