"""``memactor mcp PATH`` as a subprocess, reached over stdio by the SDK's stdio client, as MCP clients do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters

import memactor
from memactor.net.autostart import connect_or_start
from tests.spawned import serve_pids

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]


def _server(db: Path, *flags: str) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "MEMACTOR_NAMESPACE": "from-env"}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "memactor", "mcp", str(db), *flags], env=env, cwd=str(CHECKOUT)
    )


async def test_stdio_server_serves_tools_and_writes_as_configured(place: Path) -> None:
    db_path = place / "memory.db"
    async with Client(_server(db_path, "--agent-id", "cli-agent"), read_timeout_seconds=60) as client:
        assert len((await client.list_tools()).tools) == 10
        written = await client.call_tool("record_episode", {"task": "over stdio", "outcome": "worked"})
        assert not written.is_error, written.content
        refused = await client.call_tool("record_episode", {"task": 42})
        assert refused.is_error
        hits = await client.call_tool("recall", {"query": "stdio"})
        assert hits.structured_content is not None
        assert [hit["text"] for hit in hits.structured_content["results"]] == ["over stdio -> worked"]
    # The MCP process never wrote the file itself: it started the file's server, which still holds it (until
    # it has been idle a while) and has the write.
    (server,) = serve_pids(db_path)
    with pytest.raises(memactor.AlreadyOpenError):
        async with memactor.open(db_path):
            pass
    async with await connect_or_start(db_path) as memory:
        (episode,) = [hit.record for hit in await memory.episodes.search("stdio")]
        assert (episode.agent_id, episode.namespace) == ("cli-agent", "from-env")
    assert serve_pids(db_path) == [server]
