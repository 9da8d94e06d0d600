"""PostgreSQL fixtures: ``pg_server`` (session: CI's server or a throwaway one), ``pg_url`` (a fresh schema),
and ``mem``, a handle on PostgreSQL, so the contract suites re-imported here run against this engine.

See `tests.postgres.server` for where the server comes from; no test here is ever skipped for want of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import memactor
from tests.postgres.server import PgServer, fresh_schema, pg_server_from_env_or_script


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    yield from pg_server_from_env_or_script()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    yield from fresh_schema(pg_server.url)


@pytest.fixture
async def mem(pg_url: str) -> AsyncIterator[memactor.Memory]:
    # Overrides the SQLite ``mem`` of tests/conftest.py: the contract suites re-imported by the
    # ``test_*_contract.py`` modules here run against PostgreSQL.
    async with memactor.open(pg_url, durability="normal") as handle:
        yield handle
