"""``memactor mcp --embedder``: the recall tool searches by meaning too (hybrid), and says how similar each hit is."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters

import memactor
from memactor.embed import HashEmbedder
from memactor.embed.spec import embedder_from_spec
from memactor.mcp import build_server
from memactor.mcp.command import _open_handle, add_arguments
from memactor.net.server import serving

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]
STORED = "the deployment failed: health check timed out"
# Shares no word with STORED (text search finds nothing), but word pieces (HashEmbedder's trigrams).
QUERY = "healthcheck timeout"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


async def test_recall_through_the_commands_handle_is_hybrid(db_path: Path) -> None:
    sockets = Path(tempfile.mkdtemp(prefix="mce-", dir="/tmp"))
    args = _args("--url", f"unix://{sockets}/s.sock", "--embedder", "hash")
    try:
        async with memactor.open(db_path, durability="normal") as memory:
            async with serving(memory, args.url):
                async with _open_handle(args, embedder_from_spec(args.embedder)) as handle:
                    async with Client(build_server(handle, agent_id="a", namespace="default")) as client:
                        written = await client.call_tool("add_fact", {"content": STORED})
                        assert not written.is_error, written.content
                        found = await client.call_tool("recall", {"query": QUERY})
                        assert found.structured_content is not None
                        (best, *_) = found.structured_content["results"]
                        assert best["text"] == STORED and best["similarity"] > 0.1
                        # Without an embedder the same question finds nothing: the match is by meaning.
                        assert await memory.facts.search(QUERY) == []
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    async with memactor.open(db_path, embedder=HashEmbedder()) as mem:  # the file recorded the embedder
        assert (await mem.facts.search(QUERY, mode="vector"))[0].record.content == STORED


async def test_stdio_mcp_with_an_embedder_recalls_by_meaning(place: Path) -> None:
    db_path = place / "memory.db"
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memactor", "mcp", str(db_path), "--embedder", "hash"],
        env=env,
        cwd=str(CHECKOUT),
    )
    async with Client(server, read_timeout_seconds=60) as client:
        written = await client.call_tool("add_fact", {"content": STORED})
        assert not written.is_error, written.content
        found = await client.call_tool("recall", {"query": QUERY})
        assert found.structured_content is not None, found.content
        (best, *_) = found.structured_content["results"]
        assert best["text"] == STORED and best["similarity"] > 0.1
