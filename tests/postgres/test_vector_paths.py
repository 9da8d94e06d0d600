"""The two vector paths on PostgreSQL answer alike: the server ranking with pgvector, each reader ranking without.

The same records, vectors and queries (vector and hybrid, with and without filters) on a memory in the
database with pgvector and on one in ``memactor_plain`` give the same hits in the same order, with the same
similarities and scores to 1e-6; and the pgvector path's readers hold no matrix of vectors.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import memactor
from memactor import Fact, SearchWeights
from memactor.embed import CallableEmbedder
from memactor.postgres import PostgresEngine, vsearch

pytestmark = pytest.mark.anyio

DIM = 24
WORDS = ("deploy", "rollback", "cache", "latency", "schema", "index", "replica", "timeout")
# No recency: both memories hold the same created_at, but each search has its own "now".
WEIGHTS = SearchWeights(recency=0.0)
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"namespace": "ns1"},
    {"tags": ["a"]},
    {"agent_id": "agent2"},
    {"min_confidence": 0.6},
    {"namespace": "ns0", "tags": ["b", "c"]},
    {"namespace": "nowhere"},
    {"namespace": "ns1", "agent_id": "agent2"},  # only the record with the zero vector
)


def _vectors(texts: Sequence[str]) -> Any:
    # A fixed vector per text (seeded by it): the same on both memories, and no two alike; but one text gets
    # the zero vector, which has no cosine distance on the server (NaN) and a dot product of 0 on the client.
    return np.stack(
        [
            np.zeros(DIM) if t == ZERO.content else np.random.default_rng(zlib.crc32(t.encode())).standard_normal(DIM)
            for t in texts
        ]
    )


ZERO = Fact("zero vector", id="zero", namespace="ns1", agent_id="agent2", tags=("a",), created_at=1_700_000_000.0)


def _facts() -> list[Fact]:
    rng = np.random.default_rng(11)
    facts = [ZERO]
    for i in range(150):
        words = " ".join(rng.choice(WORDS, size=3))
        facts.append(
            Fact(
                f"note {i}: {words}",
                id=f"f{i:03d}",
                namespace=f"ns{i % 2}",
                agent_id=f"agent{i % 4}",
                tags=tuple(tag for tag, keep in zip("abc", rng.random(3) < 0.5, strict=True) if keep),
                confidence=float(rng.random()),
                created_at=1_700_000_000.0 + i,
            )
        )
    return facts


EXACT = _facts()[9]  # a query that is this record's text: its nearest vector is the record's own (namespace ns0)
QUERIES = ("deploy rollback", "cache latency", EXACT.content, "timeout", "note 120: deploy cache", "zero vector")


async def _answers(url: str) -> tuple[dict[tuple[str, str, int], list[tuple[str, float, float]]], int, int]:
    engine = PostgresEngine(url)
    async with memactor.open(engine, embedder=CallableEmbedder(_vectors, "seeded", DIM)) as mem:
        await mem.facts.add_many(_facts())
        answers = {}
        for mode in ("vector", "hybrid"):
            for f, filters in enumerate(FILTERS):
                for text in QUERIES:
                    hits = await mem.facts.search(text, mode=mode, limit=10, weights=WEIGHTS, **filters)
                    answers[(mode, text, f)] = [(h.record.id, h.similarity, h.score) for h in hits]
        ranked_by_server = (await mem.storage_statistics())["pgvector"]
        caches = sum(reader.primary in vsearch._CACHES for reader in engine._readers)
    return answers, ranked_by_server, caches


async def test_pgvector_and_the_client_give_the_same_hits_in_the_same_order(
    pg_vector_url: str, pg_plain_url: str
) -> None:
    server, on_server, server_caches = await _answers(pg_vector_url)
    client, on_client, client_caches = await _answers(pg_plain_url)
    assert (on_server, on_client) == (1, 0)
    assert server_caches == 0, "a reader of a pgvector memory built a matrix of its vectors"
    assert client_caches > 0  # the client path does: the count above can see one
    assert server.keys() == client.keys()
    for key in server:
        assert [h[0] for h in server[key]] == [h[0] for h in client[key]], key
        for (_, s_sim, s_score), (_, c_sim, c_score) in zip(server[key], client[key], strict=True):
            assert s_sim == pytest.approx(c_sim, abs=1e-6) and s_score == pytest.approx(c_score, abs=1e-6), key
    # The filters are applied before ranking: the record a query is the text of is found only where it may be.
    assert server[("vector", EXACT.content, 0)][0][0] == EXACT.id
    in_ns1 = [h[0] for h in server[("vector", EXACT.content, 1)]]
    assert len(in_ns1) == 10 and EXACT.id not in in_ns1
    assert all(not hits for (_, _, f), hits in server.items() if FILTERS[f] == {"namespace": "nowhere"})
    assert any(hit[0] == ZERO.id and hit[1] == 0.0 for hits in server.values() for hit in hits)
