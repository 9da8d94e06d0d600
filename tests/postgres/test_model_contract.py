"""The model-based state machine (tests/stateful/test_model.py), its rules unchanged, against PostgreSQL.

Each example works in a schema of its own, dropped afterwards. Only what is SQLite's own is replaced: the
file's text-index integrity check after a reopen (PostgreSQL keeps ``tsvector`` columns itself).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis.stateful import initialize, rule

import memactor
import tests.stateful.conftest  # noqa: F401 - registers the stateful profiles test_model reads at import
from tests.postgres.server import PgServer, fresh_schema
from tests.stateful.test_model import MemoryMachine


class PostgresMachine(MemoryMachine):
    """Drives one PostgreSQL memory (a fresh schema) and the model with the same operations."""

    server_url = ""

    def __init__(self) -> None:
        super().__init__()
        self.schema = fresh_schema(self.server_url)
        self.path = next(self.schema)

    @initialize()
    def open_memory(self) -> None:
        self.mem = self.stack.enter_context(memactor.open_sync(self.path, max_batch=64, max_pending=64))

    def teardown(self) -> None:
        try:
            self.stack.close()
        finally:
            self.schema.close()  # drops the schema
            self.dir.cleanup()

    @rule()
    def reopen(self) -> None:
        """Close (drain, commit) and open the database again: everything acknowledged is there."""
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.mem = self.stack.enter_context(memactor.open_sync(self.path, max_batch=64, max_pending=64))


@pytest.fixture(autouse=True)
def _server(pg_server: PgServer) -> Iterator[None]:
    PostgresMachine.server_url = pg_server.url
    yield


TestPostgresModel = PostgresMachine.TestCase
# Fewer examples than on SQLite: each opens a schema on a server. MEMACTOR_STATEFUL_EXAMPLES overrides it.
TestPostgresModel.settings = settings(
    settings.get_profile(f"stateful-{os.environ.get('HYPOTHESIS_PROFILE', 'ci')}"),
    max_examples=int(os.environ.get("MEMACTOR_STATEFUL_EXAMPLES", "60")),
)
