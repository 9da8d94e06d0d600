"""The vector suite (tests/test_vectors.py) run against PostgreSQL (see conftest.py), plus the cache's reads.

The suite's tests take ``db_path`` and open it with `memactor.open`: here ``db_path`` is a PostgreSQL URL
(a fresh schema), and the suite's helpers that read the SQLite file directly read the database instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import psycopg
import pytest

import memactor
import tests.test_vectors as suite
from memactor import Fact
from memactor.embed import HashEmbedder
from memactor.model.vcache import VectorCache
from memactor.postgres import vsearch
from tests.postgres.vectorsql import pg_orphan_vectors, pg_vector_rows
from tests.test_vectors import *  # noqa: F403


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


del test_the_cache_reads_only_what_changed  # noqa: F821 - a SQLite file's; its PostgreSQL twin is below


@pytest.fixture
def db_path(pg_url: str) -> str:
    return pg_url


@pytest.fixture(autouse=True)
def _read_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "vector_rows", pg_vector_rows)
    monkeypatch.setattr(suite, "orphan_vectors", pg_orphan_vectors)


class _Counted(vsearch._Log):
    """The engine's log reads, counting which ran."""

    calls: list[str]

    def every(self, kind: str) -> Iterable[tuple[int, bytes | None]]:
        self.calls.append("every")
        return super().every(kind)

    def changed(self, kind: str, since: int) -> Iterable[tuple[int, bytes | None]]:
        self.calls.append("changed")
        return super().changed(kind, since)


async def _fill(url: str, count: int) -> list[str]:
    async with memactor.open(url, embedder=HashEmbedder()) as mem:
        return await mem.facts.add_many([Fact(f"fact number {i}") for i in range(count)])


def test_the_cache_reads_only_what_changed_on_postgres(pg_url: str) -> None:
    first = asyncio.run(_fill(pg_url, 50))[0]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        log = _Counted(conn)
        log.calls = []
        cache = VectorCache("fact")
        cache.catch_up(log)
        assert cache.count == 50 and log.calls == ["every"]
        log.calls.clear()
        cache.catch_up(log)
        assert log.calls == []  # nothing new: only the log's newest seq was read
        asyncio.run(_fill(pg_url, 3))
        asyncio.run(_delete(pg_url, first))
        cache.catch_up(log)
        assert log.calls == ["changed"] and cache.count == 53 and int(cache.alive[: cache.count].sum()) == 52


async def _delete(url: str, record_id: str) -> None:
    async with memactor.open(url) as mem:
        assert await mem.facts.delete(record_id)
