"""The MCP knowledge-graph tools (tests/mcp/test_reference_tools.py) on a PostgreSQL memory: they keep their
entities and relations in the item store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import memactor
from tests.mcp.test_reference_tools import (
    test_a_malformed_line_stops_the_import_with_its_number_and_writes_nothing,
    test_a_name_given_twice_in_one_call_is_one_entity,
    test_an_import_merges_and_a_second_import_changes_nothing,
    test_clients_creating_one_name_at_once_make_one_entity_and_one_says_so,
    test_concurrent_clients_lose_no_entity_and_no_observation,
)

pytestmark = pytest.mark.anyio

__all__ = [
    "test_a_malformed_line_stops_the_import_with_its_number_and_writes_nothing",
    "test_a_name_given_twice_in_one_call_is_one_entity",
    "test_an_import_merges_and_a_second_import_changes_nothing",
    "test_clients_creating_one_name_at_once_make_one_entity_and_one_says_so",
    "test_concurrent_clients_lose_no_entity_and_no_observation",
]


@pytest.fixture
async def handle(pg_url: str) -> AsyncIterator[memactor.Memory]:
    async with memactor.open(pg_url, durability="normal") as memory:
        yield memory
