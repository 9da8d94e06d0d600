"""pgvector's column and the path a memory takes: ``emb`` equals ``vec`` after every kind of write, a version-3
memory gains it filled, and a database where the extension cannot be created behaves as before and says so."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

import memactor
from memactor import Fact
from memactor.actor.reindex import switch
from memactor.embed import HashEmbedder
from memactor.embed.coalesce import Coalescer
from memactor.postgres import pgvec, schema
from tests.postgres.vectorsql import pg_emb_mismatches, pg_vector_rows, pg_vector_search

pytestmark = pytest.mark.anyio


async def test_emb_equals_vec_after_adds_updates_stored_vectors_a_stage_and_a_swap(pg_vector_url: str) -> None:
    async with memactor.open(pg_vector_url, embedder=HashEmbedder(32)) as mem:
        assert (await mem.storage_statistics())["pgvector"] == 1
        ids = await mem.facts.add_many(Fact(f"deploy note {i}") for i in range(20))
        await mem.facts.add(Fact("one more note"))
        await mem.facts.update(ids[0], content="a rewritten note")
        assert pg_vector_search(pg_vector_url) == ("pgvector", True)
        assert pg_emb_mismatches(pg_vector_url) == 0
        await switch(mem, Coalescer(HashEmbedder(48)), batch=7)
    stored = pg_vector_rows(pg_vector_url)
    assert len(stored) == 21 and {len(vec) for vec in stored.values()} == {4 * 48}
    assert pg_emb_mismatches(pg_vector_url) == 0


async def test_a_database_where_pgvector_cannot_be_created_ranks_on_the_client_and_says_so(pg_plain_url: str) -> None:
    # memactor_plain's role is no superuser: CREATE EXTENSION vector is refused, and the memory opens anyway.
    async with memactor.open(pg_plain_url, embedder=HashEmbedder(16)) as mem:
        added = await mem.facts.add(Fact("the rollout failed"))
        assert (await mem.storage_statistics())["pgvector"] == 0
        hits = await mem.facts.search("the rollout failed", mode="vector", limit=1)
        assert [hit.record.id for hit in hits] == [added]
    assert pg_vector_search(pg_plain_url) == ("client", False)


def test_a_version_3_memory_with_vectors_gains_emb_filled_from_vec(pg_vector_url: str) -> None:
    vectors = np.random.default_rng(3).standard_normal((5, 8)).astype("<f4")
    with psycopg.connect(pg_vector_url, autocommit=True) as raw:
        with raw.transaction():
            raw.execute("CREATE TABLE memactor_meta (key text PRIMARY KEY, value text NOT NULL)")
            for step in (schema._version_1, schema._version_2, schema._version_3):
                step(raw)
            raw.execute("INSERT INTO memactor_meta VALUES ('schema_version', '3'), ('embedder_dim', '8')")
        for i, vec in enumerate(vectors):
            raw.execute(
                "INSERT INTO facts (id, namespace, tags, metadata, created_at, updated_at, version, content,"
                " confidence, source_episode_ids) VALUES (%s, 'default', '{}', '{}', 1, 1, 1, 'kept', 1, '[]')",
                (f"f{i}",),
            )
            raw.execute(
                "INSERT INTO vectors (kind, rid, vec) SELECT 'fact', rid, %s FROM facts WHERE id = %s",
                (vec.tobytes(), f"f{i}"),
            )
        schema.migrate(raw)
        assert schema.schema_version(raw) == schema.SCHEMA_VERSION
    assert pg_vector_search(pg_vector_url) == ("pgvector", True)
    assert len(pg_vector_rows(pg_vector_url)) == 5 and pg_emb_mismatches(pg_vector_url) == 0


def test_a_connection_that_finds_the_path_undecided_asks_again(pg_vector_url: str) -> None:
    with psycopg.connect(pg_vector_url, autocommit=True) as conn:
        schema.migrate(conn)
        # What a replica still replaying the migration shows: no row yet. That is no answer to keep.
        conn.execute("DELETE FROM memactor_meta WHERE key = 'vector_search'")
        assert pgvec.pgvector(conn) is None
        conn.execute("INSERT INTO memactor_meta VALUES ('vector_search', 'pgvector')")
        assert pgvec.pgvector(conn) == pgvec.PgVector("public")
