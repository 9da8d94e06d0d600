"""The test server itself: a primary that takes writes and a streaming replica that replays them."""

from __future__ import annotations

import time

import psycopg

from tests.postgres.server import PgServer


def test_primary_takes_writes_in_its_own_schema(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE probe (x int)")
        conn.execute("INSERT INTO probe VALUES (1)")
        assert conn.execute("SELECT current_schema()").fetchone()[0].startswith("t_")  # type: ignore[index]
        assert conn.execute("SELECT count(*) FROM probe").fetchone() == (1,)


def test_replica_replays_the_primary(pg_server: PgServer) -> None:
    assert pg_server.replica_url is not None, "the server has no replica: start it with .ci/postgres"
    with psycopg.connect(pg_server.url, autocommit=True) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS replayed (x int)")
        lsn = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(pg_server.replica_url, autocommit=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        deadline = time.monotonic() + 60  # a hang detector, not a bound on replay speed
        while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the replica did not replay the primary's last write"
            time.sleep(0.01)
        assert replica.execute("SELECT to_regclass('public.replayed') IS NOT NULL").fetchone() == (True,)
