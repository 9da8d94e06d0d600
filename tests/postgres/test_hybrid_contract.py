"""The labelled recall check of hybrid search (tests/test_hybrid_recall.py) on PostgreSQL.

Text ranking differs (``ts_rank`` over PostgreSQL's stemmer, not bm25), the fusion is the same
(`memactor.model.vrank`): hybrid must still be at least as good as either list alone.
"""

from __future__ import annotations

import pytest

from tests.test_hybrid_recall import recall_at_10


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


pytestmark = pytest.mark.anyio


async def test_hybrid_is_never_worse_than_text_or_vector_alone_on_postgres(pg_url: str) -> None:
    recall = await recall_at_10(pg_url)  # type: ignore[arg-type]
    print(f"recall@10 on the labelled check, PostgreSQL: {recall}")
    assert recall["hybrid"] >= max(recall["text"], recall["vector"]), recall
    assert recall["text"] <= 0.6 and recall["vector"] < 1.0 and recall["hybrid"] > 0.6, recall
