"""The MCP knowledge-graph tools (tests/mcp/test_reference_tools.py) on a PostgreSQL memory: they keep their
entities and relations in the item store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import memactor
from tests.mcp.test_reference_tools import *  # noqa: F403


@pytest.fixture
async def handle(pg_url: str) -> AsyncIterator[memactor.Memory]:
    async with memactor.open(pg_url, durability="normal") as memory:
        yield memory
