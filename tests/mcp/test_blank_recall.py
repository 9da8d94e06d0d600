"""The MCP ``recall`` tool with blank text: ``""`` is refused by its schema (min length 1), whitespace lists the
newest memories, as the API does for blank text."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp")

from mcp import Client

from .test_tools import error_text, ok

pytestmark = pytest.mark.anyio


async def test_recall_with_blank_text(client: Client) -> None:
    first = await ok(client, "add_fact", {"content": "the staging database is read-only on Fridays"})
    second = await ok(client, "add_fact", {"content": "deploys need two reviews"})
    listed = (await ok(client, "recall", {"query": "  ", "kinds": ["fact"]}))["results"]
    assert [hit["id"] for hit in listed] == [second["id"], first["id"]]
    assert "query" in error_text(await client.call_tool("recall", {"query": ""}))
