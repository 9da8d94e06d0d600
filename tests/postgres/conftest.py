"""PostgreSQL fixtures: ``pg_server`` (session: CI's server or a throwaway one) and ``pg_url`` (a fresh schema).

See `tests.postgres.server` for where the server comes from; no test here is ever skipped for want of one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres.server import PgServer, fresh_schema, pg_server_from_env_or_script


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    yield from pg_server_from_env_or_script()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    yield from fresh_schema(pg_server.url)
