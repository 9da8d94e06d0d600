"""Vectors: the file's embedder, vectors stored with their records and kept in step, vector and hybrid search."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

import memactor
from memactor import Episode, Fact, Skill
from memactor.embed import CallableEmbedder, HashEmbedder
from memactor.errors import ConflictError, EmbedderError, EmbedderMismatchError, InvalidInputError
from memactor.model.commands import AddRecords, UpdateRecord
from memactor.sqlite.vsearch import VectorCache

pytestmark = pytest.mark.anyio

# How a test opens a handle: `memactor.open` here; tests/server/test_vectors_remote.py runs the same tests
# through a server and `memactor.connect`, with the embedder in the client.
Opener = Callable[..., AbstractAsyncContextManager[Any]]


@pytest.fixture
def open_memory() -> Opener:
    return memactor.open


def vector_rows(path: Path) -> dict[str, bytes]:
    """The stored vectors by record id."""
    conn = sqlite3.connect(path)
    try:
        rows = []
        for kind, table in (("episode", "episodes"), ("fact", "facts"), ("skill", "skills")):
            rows += conn.execute(
                f"SELECT t.id, v.vec FROM vectors v JOIN {table} t ON t.rowid = v.rid WHERE v.kind = ?", (kind,)
            ).fetchall()
        return dict(rows)
    finally:
        conn.close()


def orphan_vectors(path: Path) -> int:
    """Stored vectors whose record is gone."""
    conn = sqlite3.connect(path)
    try:
        return sum(
            conn.execute(
                f"SELECT count(*) FROM vectors v WHERE v.kind = ? AND v.rid NOT IN (SELECT rowid FROM {table})",
                (kind,),
            ).fetchone()[0]
            for kind, table in (("episode", "episodes"), ("fact", "facts"), ("skill", "skills"))
        )
    finally:
        conn.close()


def embedded(text: str, dim: int = 256) -> bytes:
    return HashEmbedder(dim).embed([text])[0].astype("<f4").tobytes()


def same(stored: bytes, text: str) -> bool:
    """Whether ``stored`` is the vector of ``text`` (up to float rounding)."""
    return bool(np.allclose(np.frombuffer(stored, "<f4"), np.frombuffer(embedded(text), "<f4"), atol=1e-6))


async def test_the_file_records_its_embedder_and_refuses_another(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        await mem.facts.add(Fact("the rollout failed"))
    for other in (HashEmbedder(dim=128), CallableEmbedder(lambda texts: np.zeros((len(texts), 256)), "other", 256)):
        for readonly in (False, True):
            with pytest.raises(EmbedderMismatchError, match=r"made by embedder 'hash-v1-256-0.5' \(dim 256\)"):
                async with open_memory(db_path, embedder=other, readonly=readonly):
                    pass
    # The refused handles released the file: the right embedder opens it.
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        assert len(await mem.facts.search("rollout", mode="vector")) == 1


async def test_without_an_embedder_a_file_with_vectors_is_text_only(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        with_vector = await mem.facts.add(Fact("the rollout failed"))
    async with open_memory(db_path) as mem:
        hits = await mem.facts.search("rollout")
        assert [hit.record.id for hit in hits] == [with_vector] and hits[0].similarity is None
        without = await mem.facts.add(Fact("the rollout worked"))
        for mode in ("vector", "hybrid"):
            with pytest.raises(InvalidInputError, match="needs an embedder"):
                await mem.facts.search("rollout", mode=mode)
        with pytest.raises(InvalidInputError, match="mode must be one of"):
            await mem.facts.search("rollout", mode="semantic")
    assert set(vector_rows(db_path)) == {with_vector}
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        found = await mem.facts.search("rollout", mode="vector")
        assert [hit.record.id for hit in found] == [with_vector]  # the record written without one has none
        assert {hit.record.id for hit in await mem.facts.search("rollout", mode="hybrid")} == {with_vector, without}


async def test_vectors_are_stored_with_their_records(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        episode = Episode("deploy the api", steps=("build", "push"), outcome="health check timed out")
        await mem.episodes.add(episode)
        await mem.facts.add_many([Fact("alpha"), Fact("beta")])
        skill = Skill("restart", description="restart the service", code="systemctl restart api")
        await mem.skills.add(skill)
        async with mem.batch() as batch:
            batched = batch.facts.add(Fact("gamma"))
    stored = vector_rows(db_path)
    assert same(stored[episode.id], "deploy the api\nbuild\npush\nhealth check timed out")
    assert same(stored[skill.id], "restart\nrestart the service\nsystemctl restart api")
    assert len(stored) == 5 and same(stored[batched], "gamma")


async def test_concurrent_adds_share_few_embedding_calls(db_path: Path, open_memory: Opener) -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return HashEmbedder().embed(texts)

    async with open_memory(db_path, embedder=CallableEmbedder(embed, "counted", 256)) as mem:
        calls.clear()
        ids = await asyncio.gather(*(mem.facts.add(Fact(f"agent {i} learned fact {i}")) for i in range(64)))
        assert sum(calls) == 64 and len(calls) <= 2, calls
    stored = vector_rows(db_path)
    assert all(same(stored[record_id], f"agent {i} learned fact {i}") for i, record_id in enumerate(ids))


async def test_search_sees_exactly_the_current_vectors(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        first = await mem.facts.add(Fact("kubernetes pod evicted for memory"))
        await mem.facts.add(Fact("unrelated note about lunch"))

        async def top(text: str) -> tuple[str, float | None]:
            hit = (await mem.facts.search(text, mode="vector", limit=1))[0]
            return hit.record.id, hit.similarity

        assert (await top("kubernetes pod evicted for memory"))[0] == first  # the reader's matrix is now cached
        second = await mem.facts.add(Fact("postgres replica lagging behind"))
        assert await top("postgres replica lagging behind") == (second, pytest.approx(1.0, abs=1e-5))
        await mem.facts.update(first, content="redis cache hit ratio dropped")
        assert await top("redis cache hit ratio dropped") == (first, pytest.approx(1.0, abs=1e-5))
        old = await mem.facts.search("kubernetes pod evicted for memory", mode="vector")
        assert all(hit.similarity is not None and hit.similarity < 0.5 for hit in old)
        await mem.facts.update(first, confidence=0.9)  # no text change: the vector stays
        assert await top("redis cache hit ratio dropped") == (first, pytest.approx(1.0, abs=1e-5))
        await mem.facts.delete(second)
        assert second not in {hit.record.id for hit in await mem.facts.search("postgres replica", mode="vector")}
    stored = vector_rows(db_path)
    assert same(stored[first], "redis cache hit ratio dropped") and second not in stored
    assert orphan_vectors(db_path) == 0


async def test_an_update_pinned_to_a_stale_version_is_refused(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        fact = await mem.facts.add(Fact("one"))
        await mem.facts.update(fact, content="two")
        with pytest.raises(ConflictError, match="version 2, not 1"):
            await mem.facts.update(fact, expect_version=1, content="three")
    assert same(vector_rows(db_path)[fact], "two")


async def test_filters_apply_before_ranking(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        await mem.facts.add_many([Fact("disk full on the build server", namespace="b") for _ in range(30)])
        wanted = await mem.facts.add(Fact("disk almost full", namespace="a"))
        for mode in ("vector", "hybrid"):
            hits = await mem.facts.search("disk full on the build server", mode=mode, limit=1, namespace="a")
            assert [hit.record.id for hit in hits] == [wanted], mode


def test_the_cache_reads_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    asyncio.run(_fill(path, 50))
    conn = sqlite3.connect(path, isolation_level=None)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    cache = VectorCache("fact")
    cache.refresh(conn)
    assert cache.count == 50 and sum("FROM vectors WHERE" in s for s in statements) == 1
    statements.clear()
    cache.refresh(conn)
    assert statements == ["SELECT coalesce(max(seq), 0) FROM vector_log"]  # nothing new: nothing read
    asyncio.run(_fill(path, 3))
    cache.refresh(conn)
    assert cache.count == 53 and not any("FROM vectors WHERE" in s for s in statements)
    conn.close()


async def _fill(path: Path, count: int) -> None:
    async with memactor.open(path, embedder=HashEmbedder()) as mem:
        await mem.facts.add_many([Fact(f"fact number {i}") for i in range(count)])


async def test_a_vector_of_the_wrong_size_is_refused_alone(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder()) as mem:
        good = Fact("good")
        bad = Fact("bad")
        results = await asyncio.gather(
            mem.execute(AddRecords((good,), (embedded("good"),))),
            mem.execute(AddRecords((bad,), (embedded("bad", 128),))),
            return_exceptions=True,
        )
        assert results[0] == [good.id]
        assert isinstance(results[1], InvalidInputError) and "has 128 values" in str(results[1])
        assert await mem.facts.get_many([good.id, bad.id]) == [await mem.facts.get(good.id)]


def _counting(calls: list[int], fail_on: str | None = None) -> CallableEmbedder:
    """HashEmbedder's vectors, counting the calls (and raising on a text holding ``fail_on``)."""

    def embed(texts: list[str]) -> np.ndarray:
        if fail_on is not None and any(fail_on in text for text in texts):
            raise RuntimeError("the model crashed")
        calls.append(len(texts))
        return HashEmbedder().embed(texts)

    return CallableEmbedder(embed, "counted", 256)


async def test_a_batch_stores_the_vectors_of_its_adds_and_text_updates(db_path: Path, open_memory: Opener) -> None:
    calls: list[int] = []
    async with open_memory(db_path, embedder=_counting(calls)) as mem:
        old = await mem.facts.add(Fact("the old text"))
        episode = await mem.episodes.add(Episode("deploy the api", outcome="pending"))
        untouched = await mem.facts.add(Fact("untouched"))
        calls.clear()
        async with mem.batch() as b:
            fact = b.facts.add(Fact("a new fact"))
            b.facts.update(old, content="the new text")
            b.episodes.update(episode, outcome="health check timed out")  # one text field of three
            skill = b.skills.add(Skill("restart", description="first"))
            b.skills.record_use(skill, True)
            b.skills.update(skill, description="restart the service")  # a record added earlier in the batch
            b.facts.update(untouched, confidence=0.9)  # no text change: its vector stays
            gone = b.facts.add(Fact("added then deleted"))
            b.facts.delete(gone)
        assert calls == [6]  # one embedding call for the whole batch: 3 adds, 3 text updates
        assert (await mem.skills.get(skill)).version == 3
    stored = vector_rows(db_path)
    assert same(stored[fact], "a new fact") and same(stored[old], "the new text")
    assert same(stored[episode], "deploy the api\nhealth check timed out")
    assert same(stored[skill], "restart\nrestart the service") and same(stored[untouched], "untouched")
    assert gone not in stored and orphan_vectors(db_path) == 0


async def test_an_embedder_failure_fails_the_whole_batch_and_writes_nothing(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=_counting([], fail_on="boom")) as mem:
        kept = await mem.facts.add(Fact("kept as it was"))
        with pytest.raises(EmbedderError, match=r"embedder 'counted' failed .*RuntimeError: the model crashed"):
            async with mem.batch() as b:
                b.facts.add(Fact("fine"))
                b.facts.update(kept, content="boom")
                b.items.put(("team",), "note", {"text": "also not written"})
        assert await mem.facts.count() == 1 and (await mem.facts.get(kept)).content == "kept as it was"
        assert await mem.items.get_many([(("team",), "note")]) == []
    assert set(vector_rows(db_path)) == {kept}


async def test_an_embedder_failure_on_a_single_write_or_search_is_an_embedder_error(
    db_path: Path, open_memory: Opener
) -> None:
    async with open_memory(db_path, embedder=_counting([], fail_on="boom")) as mem:
        kept = await mem.facts.add(Fact("kept as it was"))
        for attempt in (
            mem.facts.add(Fact("boom")),
            mem.facts.update(kept, content="boom"),
            mem.facts.search("boom", mode="vector"),
        ):
            with pytest.raises(
                EmbedderError, match=r"embedder 'counted' failed .*RuntimeError: the model crashed"
            ) as info:
                await attempt
            assert isinstance(info.value.__cause__, RuntimeError)  # the embedder's own error, chained
        assert await mem.facts.count() == 1 and (await mem.facts.get(kept)).content == "kept as it was"
        assert await mem.facts.add(Fact("the writer goes on")) is not None
    assert len(vector_rows(db_path)) == 2


async def test_a_batch_never_stores_the_vector_of_a_text_another_writer_replaced(
    db_path: Path, open_memory: Opener
) -> None:
    embedding, release = threading.Event(), threading.Event()
    hold = [False]

    def embed(texts: list[str]) -> np.ndarray:
        if hold[0]:
            hold[0] = False
            embedding.set()
            release.wait(60)
        return HashEmbedder().embed(texts)

    async with open_memory(db_path, embedder=CallableEmbedder(embed, "held", 256)) as mem:
        episode = await mem.episodes.add(Episode("old task", outcome="old outcome"))
        hold[0] = True

        async def batch() -> None:
            async with mem.batch() as b:
                b.episodes.update(episode, outcome="the batch's outcome")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(batch)
            await anyio.to_thread.run_sync(embedding.wait, 60)
            # Another writer changes another text field while the batch's vector is computed.
            await mem.execute(UpdateRecord("episode", episode, {"task": "new task"}, None, 0.0))
            release.set()
        record = await mem.episodes.get(episode)
        assert (record.task, record.outcome, record.version) == ("new task", "the batch's outcome", 3)
    assert same(vector_rows(db_path)[episode], "new task\nthe batch's outcome")
