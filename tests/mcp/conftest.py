"""MCP fixtures: the tools on a `memactor.open` handle and on a `memactor.connect` handle, reached in process."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client

import memactor
from memactor.mcp import build_server
from memactor.net.server import serving

AGENT = "agent-7"
NAMESPACE = "team-a"


@pytest.fixture(params=["open", "connect"])
async def handle(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[Any]:
    async with memactor.open(db_path, durability="normal") as memory:
        if request.param == "open":
            yield memory
            return
        # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
        sockets = Path(tempfile.mkdtemp(prefix="mcp-", dir="/tmp"))
        try:
            async with serving(memory, f"unix://{sockets}/s.sock") as server:
                async with memactor.connect(server.url) as remote:
                    yield remote
        finally:
            shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
async def client(handle: Any) -> AsyncIterator[Client]:
    async with Client(build_server(handle, agent_id=AGENT, namespace=NAMESPACE)) as connected:
        yield connected
