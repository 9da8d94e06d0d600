"""PostgreSQL fixtures: ``pg_server`` (session: CI's server or a throwaway one), ``pg_url`` (a fresh schema),
and ``mem``, a handle on PostgreSQL, so the contract suites re-imported here run against this engine.

See `tests.postgres.server` for where the server comes from; no test here is ever skipped for want of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
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
def pg_plain_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh schema in the database where pgvector is never created: vectors are ranked by each reader."""
    assert pg_server.plain_url is not None, (
        "no database without pgvector: set MEMACTOR_PG_PLAIN_URL, or start the server with .ci/postgres"
    )
    with psycopg.connect(pg_server.plain_url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None, (
            f"pgvector exists in {pg_server.plain_url}, which must be without it"
        )
    yield from fresh_schema(pg_server.plain_url)


def pgvector_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh schema in the database where memactor creates pgvector: vectors are ranked by the server."""
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone(), (
            "this PostgreSQL has no pgvector: install it (postgresql-NN-pgvector), or let .ci/postgres build it"
        )
    yield from fresh_schema(pg_server.url)


@pytest.fixture
def pg_vector_url(pg_server: PgServer) -> Iterator[str]:
    yield from pgvector_url(pg_server)


@pytest.fixture(params=["pgvector", "plain"])
def pg_both_url(request: pytest.FixtureRequest, pg_server: PgServer) -> Iterator[str]:
    """A fresh schema on each vector path in turn: the server ranking (pgvector) and the readers ranking (plain).

    A vector suite runs on both by taking this as its ``pg_url`` (``pg_url = both_paths`` in the module).
    """
    if request.param == "pgvector":
        yield from pgvector_url(pg_server)
    else:
        assert pg_server.plain_url is not None, (
            "no database without pgvector: set MEMACTOR_PG_PLAIN_URL, or start the server with .ci/postgres"
        )
        yield from fresh_schema(pg_server.plain_url)


@pytest.fixture
async def mem(pg_url: str) -> AsyncIterator[memactor.Memory]:
    # Overrides the SQLite ``mem`` of tests/conftest.py: the contract suites re-imported by the
    # ``test_*_contract.py`` modules here run against PostgreSQL.
    async with memactor.open(pg_url, durability="normal") as handle:
        yield handle
