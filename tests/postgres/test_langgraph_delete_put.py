"""A LangGraph batch holding a delete and then a put of one address is that put alone, on both engines, as in
`InMemoryStore` (which applies only the last put per address): the item keeps its created_at and its place.
Found by the differential machine on PostgreSQL, whose bookkeeping took it for a new item."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.base import PutOp, SearchOp

from memactor.langgraph import MemactorStore


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_delete_then_put_in_one_batch_is_the_put(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    target = str(tmp_path / "m.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    with MemactorStore.from_path(target, durability="normal") as store:
        store.batch([PutOp(("a",), "k1", {"n": 0}), PutOp(("a",), "k2", {"n": 0})])
        first = store.get(("a",), "k1")
        store.batch([PutOp(("a",), "k1", None), PutOp(("a",), "k1", {"n": 1})])
        (found,) = store.batch([SearchOp(("a",))])
        assert [item.key for item in found] == ["k1", "k2"]
        assert first is not None and found[0].value == {"n": 1} and found[0].created_at == first.created_at
        store.batch([PutOp(("a",), "k1", {"n": 2}), PutOp(("a",), "k1", None)])
        assert store.get(("a",), "k1") is None
