"""`open_sync`: the blocking facade over the async handle, used from many threads at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import memactor
from memactor import Episode, Fact, Skill


def test_the_facade_adds_gets_searches_and_counts(db_path: Path) -> None:
    with memactor.open_sync(db_path, durability="normal") as mem:
        eid = mem.episodes.add(Episode(task="deploy api", agent_id="a1"))
        assert mem.episodes.get(eid).task == "deploy api"
        assert [h.record.id for h in mem.episodes.search("deploy", agent_id="a1")] == [eid]
        assert mem.episodes.count() == 1
        sid = mem.skills.add(Skill(name="rollback"))
        assert mem.skills.record_use(sid, success=True).uses == 1
        assert mem.skills.get_by_name("rollback").id == sid
        assert mem.facts.update(mem.facts.add(Fact(content="c")), confidence=0.9).version == 2
        with pytest.raises(memactor.NotFoundError):
            mem.episodes.get("missing")
        stats = mem.statistics()
        assert isinstance(stats, memactor.Statistics) and stats.commands >= 5
    assert not [t for t in threading.enumerate() if t.name.startswith("memactor-")]


def test_open_sync_from_eight_threads_at_once(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)

    def agent(n: int) -> int:
        # Each thread opens its own file (one writer per file), all at the same moment.
        barrier.wait(timeout=30)
        with memactor.open_sync(tmp_path / f"agent-{n}.db", durability="normal") as mem:
            mem.facts.add_many([Fact(content=f"agent {n} fact {i}") for i in range(10)])
            return int(mem.facts.count())

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(agent, range(8), timeout=60)) == [10] * 8


def test_one_facade_shared_by_eight_threads(db_path: Path) -> None:
    with memactor.open_sync(db_path, durability="normal") as mem:
        sid = mem.skills.add(Skill(name="shared"))

        def agent(n: int) -> list[str]:
            ids = [mem.episodes.add(Episode(task=f"thread {n} step {i}", agent_id=f"t{n}")) for i in range(10)]
            for _ in range(5):
                mem.skills.record_use(sid, success=n % 2 == 0)
            assert [e.id for e in mem.episodes.get_many(ids)] == ids
            return ids

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(agent, range(8), timeout=60))
        assert len({i for ids in results for i in ids}) == 80
        skill = mem.skills.get(sid)
        assert (skill.uses, skill.successes) == (40, 20)
        assert mem.episodes.count(agent_id="t3") == 10


def test_batch_through_the_facade(db_path: Path) -> None:
    with memactor.open_sync(db_path, durability="normal") as mem:
        with mem.batch() as b:
            eid = b.episodes.add(Episode(task="t"))
            b.facts.add(Fact(content="from t", source_episode_ids=(eid,)))
        assert mem.facts.count() == 1 and mem.episodes.get(eid).task == "t"
        with pytest.raises(RuntimeError):
            with mem.batch() as b:
                b.episodes.add(Episode(task="never"))
                raise RuntimeError("body failed")
        assert mem.episodes.count() == 1
        with pytest.raises(memactor.ConflictError):
            with mem.batch() as b:
                b.skills.add(Skill(name="dup"))
                b.skills.add(Skill(name="dup"))
        assert mem.skills.count() == 0


def test_stream_through_the_facade(db_path: Path) -> None:
    with memactor.open_sync(db_path, durability="normal") as mem:
        ids = mem.facts.add_many([Fact(content=f"f{i}", namespace="ns") for i in range(25)])
        pages = list(mem.facts.stream(batch_size=10, namespace="ns"))
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [f.id for p in pages for f in p] == sorted(ids)
        # Leaving a stream early closes it.
        for page in mem.facts.stream(batch_size=3):
            assert len(page) == 3
            break
        assert mem.facts.count() == 25


def test_a_facade_used_after_its_block_raises(db_path: Path) -> None:
    with memactor.open_sync(db_path) as mem:
        store = mem.facts
    with pytest.raises(memactor.ClosedError):
        # The handle was closed with the block.
        store.count()


def test_open_sync_refuses_a_second_writer(db_path: Path) -> None:
    with memactor.open_sync(db_path):
        with pytest.raises(memactor.AlreadyOpenError):
            with memactor.open_sync(db_path):
                pass
