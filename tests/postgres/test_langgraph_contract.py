"""LangGraph's `InMemoryStore` against `MemactorStore` over a PostgreSQL memory: the differential state machine
of tests/langgraph/test_differential.py, each run in a fresh schema of the test server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime

import pytest
from hypothesis.stateful import initialize

from memactor.langgraph import MemactorStore
from tests.langgraph import test_differential
from tests.postgres.server import PgServer, fresh_schema

_server: list[PgServer] = []


@pytest.fixture(autouse=True)
def _pg(pg_server: PgServer) -> Iterator[None]:
    _server[:] = [pg_server]
    yield


class PostgresStoreComparison(test_differential.StoreComparison):
    """The same machine; the `MemactorStore` side opens a PostgreSQL memory in a schema of its own."""

    @initialize()
    def open_stores(self) -> None:
        import asyncio

        self.stack = ExitStack()
        schemas = fresh_schema(_server[0].url)
        url = next(schemas)
        self.stack.callback(schemas.close)  # drops the schema, after the store (closed first) is gone
        self.store = self.stack.enter_context(MemactorStore.from_path(url, durability="normal"))
        self.reference = test_differential.Reference()
        self.loop = asyncio.new_event_loop()
        self.stack.callback(self.loop.close)
        self.step = 0
        self.written: dict[tuple[tuple[str, ...], str], tuple[int, int]] = {}
        self.step_times: dict[int, datetime] = {}


TestPostgresStoreComparison = PostgresStoreComparison.TestCase
TestPostgresStoreComparison.settings = test_differential.TestStoreComparison.settings
