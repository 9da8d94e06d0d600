"""Reads through a streaming replica keep read-your-writes: a replica that has not replayed the handle's last
commit does not answer; the primary does, and once the replica catches up it answers again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import memactor
from memactor import Fact
from memactor.errors import InvalidInputError
from memactor.postgres import PostgresEngine
from tests.postgres.server import PgServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def replica_url(pg_server: PgServer, pg_url: str) -> Iterator[str]:
    assert pg_server.replica_url is not None, "the server has no replica: start it with .ci/postgres"
    # The same schema (search_path) on the replica, which replays the primary's CREATE SCHEMA.
    yield pg_url.replace(pg_server.url, pg_server.replica_url, 1)


def _replay(replica_url: str, *, paused: bool) -> None:
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


async def test_reads_fall_back_to_the_primary_until_the_replica_has_the_handles_writes(
    pg_url: str, replica_url: str
) -> None:
    engine = PostgresEngine(pg_url, replicas=[replica_url], replica_wait_s=0.05)
    async with memactor.open(engine) as mem:
        deadline = time.monotonic() + 60  # a hang detector, not a bound on replay speed
        first = await mem.facts.add(Fact(content="replayed before the pause"))
        while (await mem.storage_statistics())["replica_reads"] == 0:
            assert (await mem.facts.get(first)).content == "replayed before the pause"
            assert time.monotonic() < deadline, "the replica never answered"
        _replay(replica_url, paused=True)
        try:
            second = await mem.facts.add(Fact(content="written while replay is paused"))
            assert (await mem.facts.get(second)).content == "written while replay is paused"
            assert await mem.facts.count() == 2
            figures = await mem.storage_statistics()
            assert figures["replica_fallbacks"] >= 2, figures
        finally:
            _replay(replica_url, paused=False)
        while (await mem.storage_statistics())["replica_reads"] == figures["replica_reads"]:
            assert (await mem.facts.get(second)).content == "written while replay is paused"
            assert time.monotonic() < deadline, "the replica did not answer again after replay resumed"


async def test_open_takes_replicas_beside_the_primarys_url(pg_url: str, replica_url: str) -> None:
    async with memactor.open(pg_url, replicas=[replica_url]) as mem:
        deadline = time.monotonic() + 60  # a hang detector, not a bound on replay speed
        record = await mem.facts.add(Fact(content="read through the replica"))
        while (await mem.storage_statistics())["replica_reads"] == 0:
            assert (await mem.facts.get(record)).content == "read through the replica"
            assert time.monotonic() < deadline, "the replica never answered"


async def test_replicas_are_refused_for_a_file_and_as_one_string(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(InvalidInputError, match="postgresql:// URL"):
        memactor.open(tmp_path / "agents.db", replicas=[pg_url])
    with pytest.raises(InvalidInputError, match="list of URLs"):
        memactor.open(pg_url, replicas=pg_url)  # type: ignore[arg-type]
