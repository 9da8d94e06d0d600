"""Vectors on PostgreSQL beyond the shared suites: the log stays in commit order with many writers at once,
a version-2 database migrates, a replica's reader keeps a cache of its own and still sees the handle's
vectors, and the fallback stores plain float32 bytes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

import memactor
from memactor import Fact
from memactor.embed import HashEmbedder
from memactor.model.vcache import VectorCache
from memactor.postgres import PostgresEngine, schema
from memactor.postgres.pgvec import Emb, pgvector
from memactor.postgres.vsearch import _Log
from tests.postgres.server import PgServer
from tests.postgres.vectorsql import pg_orphan_vectors, pg_vector_rows


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


WRITERS = 6
VECTORS_EACH = 40
DIM = 8


def _vec(rid: int) -> bytes:
    return np.full(DIM, rid, dtype="<f4").tobytes()


def _setup(url: str, records: int) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        schema.migrate(conn)
        conn.execute("INSERT INTO memactor_meta VALUES ('embedder_name', 'test'), ('embedder_dim', %s)", (str(DIM),))
        conn.execute(
            "INSERT INTO facts (id, namespace, tags, metadata, created_at, updated_at, version, content, confidence,"
            " source_episode_ids) SELECT 'f' || i, 'default', '{}', '{}', 1, 1, 1, 'x', 1, '[]'"
            " FROM generate_series(1, %s) AS i",
            (records,),
        )
        return [rid for (rid,) in conn.execute("SELECT rid FROM facts ORDER BY rid")]


def test_a_reader_catching_up_while_many_writers_commit_misses_no_vector(pg_url: str) -> None:
    # Each writer stores vectors of its own records, one transaction each, pausing between taking its log
    # entry and committing, so transactions commit in another order than they would number their entries;
    # a reader catches up all along. A log numbered in allocation order, not commit order, would let the
    # reader step past an entry committed late and never store that vector.
    rids = _setup(pg_url, WRITERS * VECTORS_EACH)
    failures: list[BaseException] = []

    def write(mine: list[int]) -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                # With pgvector, ``emb`` is written with ``vec``, as memactor's writer does.
                emb, values = (", emb", ", %b") if pgvector(conn) is not None else ("", "")
                for rid in mine:
                    with conn.transaction():
                        conn.execute(
                            f"INSERT INTO vectors (kind, rid, vec{emb}) VALUES ('fact', %s, %s{values})",
                            (rid, _vec(rid), Emb(_vec(rid))) if emb else (rid, _vec(rid)),
                        )
                        conn.execute("SELECT pg_sleep(%s)", (random.uniform(0, 0.004),))
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            failures.append(exc)

    cache = VectorCache("fact")
    with psycopg.connect(pg_url, autocommit=True) as reader:

        def catch_up() -> None:
            with reader.transaction():
                reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cache.catch_up(_Log(reader))

        writers = [
            threading.Thread(target=write, args=(rids[i * VECTORS_EACH : (i + 1) * VECTORS_EACH],))
            for i in range(WRITERS)
        ]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 120  # a hang detector, not a speed bound
        while any(thread.is_alive() for thread in writers):
            catch_up()
            assert time.monotonic() < deadline
        for thread in writers:
            thread.join()
        catch_up()
    assert failures == []
    missing = sorted(set(rids) - set(cache.rows))
    assert missing == [], f"{len(missing)} vectors committed but never seen by the reader's cache"
    for rid in rids:
        assert cache.matrix[cache.rows[rid]][0] == rid


def test_a_version_2_database_migrates_to_vectors_keeping_its_records(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as raw:
        with raw.transaction():
            raw.execute("CREATE TABLE memactor_meta (key text PRIMARY KEY, value text NOT NULL)")
            schema._version_1(raw)
            schema._version_2(raw)
            raw.execute("INSERT INTO memactor_meta VALUES ('schema_version', '2')")
        raw.execute(
            "INSERT INTO facts (id, namespace, tags, metadata, created_at, updated_at, version, content,"
            " confidence, source_episode_ids) VALUES ('f1', 'default', '{}', '{}', 1, 1, 1, 'kept', 1, '[]')"
        )
        schema.migrate(raw)
        assert schema.schema_version(raw) == schema.SCHEMA_VERSION
        assert raw.execute("SELECT content, rid IS NOT NULL FROM facts").fetchall() == [("kept", True)]


@pytest.mark.anyio
async def test_vectors_are_float32_bytes_stored_and_removed_with_their_records(pg_url: str) -> None:
    async with memactor.open(pg_url, embedder=HashEmbedder(16)) as mem:
        kept = await mem.facts.add(Fact("the rollout failed"))
        gone = await mem.facts.add(Fact("the rollout worked"))
        await mem.facts.delete(gone)
    stored = pg_vector_rows(pg_url)
    assert set(stored) == {kept} and pg_orphan_vectors(pg_url) == 0
    assert np.allclose(np.frombuffer(stored[kept], "<f4"), HashEmbedder(16).embed(["the rollout failed"])[0])


@pytest.fixture
def replica_url(pg_server: PgServer, pg_url: str) -> Iterator[str]:
    assert pg_server.replica_url is not None, "the server has no replica: start it with .ci/postgres"
    if pg_server.plain_url is not None and pg_url.startswith(pg_server.plain_url):
        assert pg_server.plain_replica_url is not None, (
            "no replica URL for memactor_plain: set MEMACTOR_PG_PLAIN_REPLICA_URL"
        )
        yield pg_url.replace(pg_server.plain_url, pg_server.plain_replica_url, 1)
    else:
        yield pg_url.replace(pg_server.url, pg_server.replica_url, 1)


@pytest.mark.anyio
async def test_vector_search_through_a_replica_sees_the_handles_own_vectors(pg_url: str, replica_url: str) -> None:
    engine = PostgresEngine(pg_url, replicas=[replica_url], replica_wait_s=5.0)
    async with memactor.open(engine, embedder=HashEmbedder()) as mem:
        for i in range(5):
            added = await mem.facts.add(Fact(f"replica fact number {i}"))
            for mode in ("vector", "hybrid"):
                hits = await mem.facts.search(f"replica fact number {i}", mode=mode, limit=1)
                assert [hit.record.id for hit in hits] == [added], (i, mode)
        await mem.facts.delete(added)
        hits = await mem.facts.search("replica fact number 4", mode="vector", limit=10)
        assert added not in {hit.record.id for hit in hits} and len(hits) == 4
        assert (await mem.storage_statistics())["replica_reads"] > 0
