"""One stream is served from one replica: every page of it goes to the same read lane, hence to the same
replica connection, while the handle's other reads keep sharing the lanes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import memactor
from memactor import Fact
from memactor.model.queries import Query
from memactor.postgres import PostgresEngine
from memactor.postgres.replicas import ReadConnection
from tests.postgres.server import PgServer

pytestmark = pytest.mark.anyio


class _Observed(PostgresEngine):
    """The real engine, noting which lane and which replica connection answered each query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[str, str, int | None]] = []

    def run_query(self, conn: ReadConnection, query: Query) -> Any:
        replica = conn.replica.info.backend_pid if conn.replica is not None else None
        self.answered.append((type(query).__name__, threading.current_thread().name, replica))
        return super().run_query(conn, query)


@pytest.fixture
def replica_url(pg_server: PgServer, pg_url: str) -> Iterator[str]:
    assert pg_server.replica_url is not None, "the server has no replica: start it with .ci/postgres"
    yield pg_url.replace(pg_server.url, pg_server.replica_url, 1)


async def test_every_page_of_a_stream_comes_from_one_replica_while_other_reads_rotate(
    pg_url: str, replica_url: str
) -> None:
    # The replica twice: two lanes, each with its own replica connection, told apart by backend pid.
    engine = _Observed(pg_url, replicas=[replica_url, replica_url])
    async with memactor.open(engine, read_connections=2) as mem:
        ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(40)])
        engine.answered.clear()
        seen: list[str] = []
        async for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 11 reads
            seen += [record.id for record in page]
            assert (await mem.facts.get(ids[0])).id == ids[0]  # another read between pages
    assert seen == sorted(ids)
    pages = [(lane, replica) for kind, lane, replica in engine.answered if kind == "Page"]
    others = {lane for kind, lane, _ in engine.answered if kind == "Get"}
    assert len(pages) == 11, engine.answered
    assert len(set(pages)) == 1, f"a stream's pages came from several lanes/replicas: {pages}"
    assert None not in {replica for _, replica in pages}
    assert len(others) == 2, f"the other reads did not share the lanes: {others}"


def _replay(replica_url: str, *, paused: bool) -> None:
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


async def test_a_stream_on_a_lagging_replica_still_sees_the_handles_writes_on_its_one_lane(
    pg_url: str, replica_url: str
) -> None:
    engine = _Observed(pg_url, replicas=[replica_url, replica_url], replica_wait_s=0.01)
    async with memactor.open(engine, read_connections=2) as mem:
        ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(10)])
        _replay(replica_url, paused=True)
        try:
            ids += await mem.facts.add_many([Fact(content=f"written while replay is paused {i}") for i in range(10)])
            engine.answered.clear()
            seen = [record.id async for page in mem.facts.stream(batch_size=2) for record in page]
            figures = await mem.storage_statistics()
        finally:
            _replay(replica_url, paused=False)
    assert seen == sorted(ids)  # every page read from the primary: the replica lacks the handle's last commit
    assert figures["replica_fallbacks"] >= 3, figures
    pages = {lane for kind, lane, _ in engine.answered if kind == "Page"}
    assert len(pages) == 1, engine.answered
