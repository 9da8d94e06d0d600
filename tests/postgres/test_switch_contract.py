"""Embedder switching (tests/test_switch_embedder.py) and reindexing (tests/test_reindex.py) on PostgreSQL.

The suites' tests that open their memory with `memactor.open` run here with ``db_path`` a PostgreSQL URL
(a fresh schema), and their helpers that read the SQLite file read the database instead. ``memactor
reindex`` takes a file path (it reaches the file's server), so its command-line tests stay SQLite's; the
engine-level `memactor.actor.reindex.reindex` and `switch` they drive are what run here. Two tests look
inside a SQLite file; their PostgreSQL twins are below.
"""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg
import pytest

import memactor
import tests.test_reindex as reindexing
import tests.test_switch_embedder as switching
from memactor.actor.reindex import switch
from memactor.embed import HashEmbedder
from memactor.embed.coalesce import Coalescer
from memactor.errors import EmbedderMismatchError, InvalidInputError
from memactor.model.vcache import VectorCache
from memactor.postgres.vsearch import _Log
from tests.postgres.vectorsql import pg_embedder_recorded, pg_orphan_vectors, pg_vector_rows
from tests.test_reindex import (  # noqa: F401 - collected here
    test_all_replaces_vectors_and_a_changed_or_deleted_record_is_skipped,
    test_an_interrupted_reindex_resumes_where_it_stopped,
    test_reindex_fills_every_missing_vector_and_then_has_nothing_to_do,
)
from tests.test_switch_embedder import (  # noqa: F401 - collected here
    OLD,
    _all_made_by,
    _written,
    test_an_interrupted_switch_leaves_the_old_vectors_searchable_and_resumes,
    test_records_changed_and_added_while_the_switch_runs_get_the_new_vector_of_their_text,
    vector_of,
)


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(pg_url: str) -> str:
    return pg_url


@pytest.fixture(autouse=True)
def _read_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (reindexing, switching):
        monkeypatch.setattr(module, "vector_rows", pg_vector_rows)
    monkeypatch.setattr(switching, "_embedder_recorded", pg_embedder_recorded)


async def test_a_switch_swaps_every_vector_and_the_embedder_at_once_on_postgres(db_path: str) -> None:
    texts = await _written(db_path)  # type: ignore[arg-type]
    async with memactor.open(db_path) as mem:
        done = await switch(mem, Coalescer(HashEmbedder(128)), batch=16)
    assert (done.old, done.total, done.staged, done.missing) == ((OLD.name, 256), 62, 62, 0)
    assert pg_embedder_recorded(db_path) == ("hash-v1-128-0.5", 128)
    _all_made_by(db_path, HashEmbedder(128), texts)  # type: ignore[arg-type]
    with pytest.raises(EmbedderMismatchError, match=r"--embedder SPEC --switch"):
        async with memactor.open(db_path, embedder=OLD):
            pass
    async with memactor.open(db_path, embedder=HashEmbedder(128)) as mem:
        hit = (await mem.facts.search("fact number 7 about deploys", mode="vector", limit=1))[0]
        assert hit.record.content == "fact number 7 about deploys"
        with pytest.raises(InvalidInputError, match="already: nothing to switch"):
            await switch(mem, Coalescer(HashEmbedder(128)))
    with psycopg.connect(db_path, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM vector_stage").fetchone() == (0,)
        assert conn.execute("SELECT key FROM memactor_meta WHERE key LIKE 'stage%'").fetchall() == []
    assert pg_orphan_vectors(db_path) == 0


def test_a_readers_cached_matrix_follows_the_swap_to_another_dimension_on_postgres(pg_url: str) -> None:
    texts = asyncio.run(_written(pg_url, facts=30))  # type: ignore[arg-type]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        cache = VectorCache("fact")
        cache.catch_up(_Log(conn))
        assert cache.count == 30 and cache.matrix.shape[1] == 256

        async def switch_to_64() -> None:
            async with memactor.open(pg_url) as mem:
                await switch(mem, Coalescer(HashEmbedder(64)))

        asyncio.run(switch_to_64())
        cache.catch_up(_Log(conn))
        assert cache.matrix.shape[1] == 64 and int(cache.alive[: cache.count].sum()) == 30
        by_rid = dict(conn.execute("SELECT rid, content FROM facts").fetchall())
    for rid, row in cache.rows.items():
        assert np.allclose(cache.matrix[row], vector_of(HashEmbedder(64), by_rid[rid]), atol=1e-6)
    assert set(by_rid.values()) <= set(texts.values())
