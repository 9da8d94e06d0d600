"""On SQLite too, every read of one stream goes to the same read lane, while the handle's other reads (even
those of the same task, between pages) keep sharing the lanes; two streams at once may use different lanes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor import Fact
from memactor.model.queries import Query
from memactor.sqlite.engine import SqliteEngine

pytestmark = pytest.mark.anyio


class _Observed(SqliteEngine):
    """The real engine, noting which lane answered each query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[str, str]] = []

    def run_query(self, conn: Any, query: Query) -> Any:
        self.answered.append((type(query).__name__, threading.current_thread().name))
        return super().run_query(conn, query)


async def test_a_streams_reads_keep_to_one_lane(tmp_path: Path) -> None:
    engine = _Observed(str(tmp_path / "agents.db"))
    async with memactor.open(engine, read_connections=3) as mem:
        ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(30)])
        engine.answered.clear()
        seen: list[str] = []
        async for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 8 reads
            seen += [record.id for record in page]
            assert await mem.facts.count() == 30  # another read between pages
    assert seen == sorted(ids)
    pages = [lane for kind, lane in engine.answered if kind == "Page"]
    others = {lane for kind, lane in engine.answered if kind == "Count"}
    assert len(pages) == 8, engine.answered
    assert len(set(pages)) == 1, f"a stream's reads went to several lanes: {pages}"
    assert len(others) == 3, f"the other reads did not share the lanes: {others}"


async def test_concurrent_streams_each_keep_their_lane(tmp_path: Path) -> None:
    engine = _Observed(str(tmp_path / "agents.db"))
    async with memactor.open(engine, read_connections=2) as mem:
        ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(20)])
        engine.answered.clear()
        results: dict[int, list[str]] = {}

        async def drain(n: int) -> None:
            results[n] = [record.id async for page in mem.facts.stream(batch_size=1) for record in page]

        async with anyio.create_task_group() as group:
            for n in range(4):
                group.start_soon(drain, n)
    assert all(found == sorted(ids) for found in results.values())
    assert [kind for kind, _ in engine.answered] == ["Page"] * 4 * 6


def test_a_blocking_streams_reads_keep_to_one_lane(tmp_path: Path) -> None:
    # The blocking facade runs each page's step as its own call on the portal's loop.
    engine = _Observed(str(tmp_path / "agents.db"))
    with memactor.open_sync(engine, read_connections=2) as mem:
        ids = mem.facts.add_many([Fact(content=f"fact {i}") for i in range(20)])
        engine.answered.clear()
        seen = []
        for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 6 reads
            seen += [record.id for record in page]
            assert mem.facts.count() == 20
    assert seen == sorted(ids)
    pages = [lane for kind, lane in engine.answered if kind == "Page"]
    others = {lane for kind, lane in engine.answered if kind == "Count"}
    assert len(pages) == 6 and len(set(pages)) == 1, engine.answered
    assert len(others) == 2, f"the other reads did not share the lanes: {others}"
