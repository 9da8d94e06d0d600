"""The store contract (DESIGN section 3): every method of `episodes`, `facts` and `skills`.

Every test here uses only the ``mem`` fixture, so the same tests can run against any handle.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import pytest

import memactor
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio

KINDS = ["episodes", "facts", "skills"]


def make(kind: str, n: int = 0, **fields: Any) -> Episode | Fact | Skill:
    """A valid record of ``kind``; ``n`` makes its primary text (and skill name) unique."""
    if kind == "episodes":
        return Episode(task=f"task number {n}", **fields)
    if kind == "facts":
        return Fact(content=f"fact number {n}", **fields)
    return Skill(name=f"skill-{n}", **fields)


def text_change(kind: str) -> dict[str, Any]:
    return {"episodes": {"task": "changed"}, "facts": {"content": "changed"}, "skills": {"description": "changed"}}[
        kind
    ]


# --- add / get -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_add_then_get_returns_the_record_with_system_fields(mem: memactor.Memory, kind: str) -> None:
    record = make(kind, tags=("a", "b"), metadata={"k": [1, 2.5, None, "x"]}, agent_id="a1", namespace="ns")
    store = getattr(mem, kind)
    record_id = await store.add(record)
    assert record_id == record.id
    got = await store.get(record_id)
    assert type(got) is type(record)
    assert got.version == 1
    assert got.created_at is not None and got.updated_at == got.created_at
    assert dataclasses.replace(got, created_at=None, updated_at=None, version=0) == record


async def test_episode_fields_round_trip(mem: memactor.Memory) -> None:
    episode = Episode(
        agent_id="a1",
        task="deploy api",
        steps=("build", "push"),
        outcome="rolled back: health check failed",
        success=False,
        reward=-1.5,
        importance=0.9,
    )
    got = await mem.episodes.get(await mem.episodes.add(episode))
    assert (got.task, got.steps, got.outcome, got.success, got.reward, got.importance) == (
        "deploy api",
        ("build", "push"),
        "rolled back: health check failed",
        False,
        -1.5,
        0.9,
    )


async def test_fact_and_skill_fields_round_trip(mem: memactor.Memory) -> None:
    eid = await mem.episodes.add(Episode(task="t"))
    fact = await mem.facts.get(await mem.facts.add(Fact(content="c", confidence=0.7, source_episode_ids=(eid,))))
    assert (fact.content, fact.confidence, fact.source_episode_ids) == ("c", 0.7, (eid,))
    skill = await mem.skills.get(
        await mem.skills.add(Skill(name="rollback", description="undo", steps=("a", "b"), code="print(1)"))
    )
    assert (skill.name, skill.description, skill.steps, skill.code) == ("rollback", "undo", ("a", "b"), "print(1)")
    assert (skill.uses, skill.successes, skill.last_used_at) == (0, 0, None)


async def test_defaults_match_the_contract(mem: memactor.Memory) -> None:
    ep = await mem.episodes.get(await mem.episodes.add(Episode(task="t")))
    assert (ep.agent_id, ep.namespace, ep.steps, ep.outcome, ep.success, ep.reward, ep.importance) == (
        None,
        "default",
        (),
        "",
        None,
        None,
        0.5,
    )
    assert (ep.tags, ep.metadata) == ((), {})
    fact = await mem.facts.get(await mem.facts.add(Fact(content="c")))
    assert (fact.confidence, fact.source_episode_ids) == (0.5, ())


@pytest.mark.parametrize("kind", KINDS)
async def test_get_missing_raises_not_found_naming_the_id(mem: memactor.Memory, kind: str) -> None:
    with pytest.raises(memactor.NotFoundError, match="no-such-id"):
        await getattr(mem, kind).get("no-such-id")


@pytest.mark.parametrize("kind", KINDS)
async def test_retried_add_with_same_id_and_content_is_idempotent(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    record = make(kind)
    assert await store.add(record) == record.id
    assert await store.add(record) == record.id
    assert await store.count() == 1
    assert (await store.get(record.id)).version == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_retried_id_with_other_content_conflicts(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    record = make(kind, 1)
    await store.add(record)
    other = dataclasses.replace(make(kind, 2), id=record.id)
    with pytest.raises(memactor.ConflictError, match=record.id):
        await store.add(other)
    assert dataclasses.replace(await store.get(record.id), created_at=None, updated_at=None, version=0) == record


@pytest.mark.parametrize("kind", KINDS)
async def test_add_refuses_a_record_of_another_kind(mem: memactor.Memory, kind: str) -> None:
    wrong = make("facts" if kind != "facts" else "episodes")
    with pytest.raises(memactor.InvalidInputError):
        await getattr(mem, kind).add(wrong)


async def test_skill_names_are_unique_per_namespace(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="deploy"))
    with pytest.raises(memactor.ConflictError, match="deploy"):
        await mem.skills.add(Skill(name="deploy"))
    await mem.skills.add(Skill(name="deploy", namespace="other"))
    assert await mem.skills.count() == 2


# --- add_many / get_many -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_add_many_returns_ids_in_order(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    records = [make(kind, i) for i in range(5)]
    assert await store.add_many(records) == [r.id for r in records]
    assert [r.id for r in await store.get_many([r.id for r in records])] == [r.id for r in records]


async def test_add_many_is_atomic(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="taken"))
    with pytest.raises(memactor.ConflictError):
        await mem.skills.add_many([Skill(name="fresh-1"), Skill(name="taken"), Skill(name="fresh-2")])
    assert await mem.skills.count() == 1
    with pytest.raises(memactor.NotFoundError):
        await mem.skills.get_by_name("fresh-1")


async def test_add_many_refuses_an_empty_list(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.add_many([])


async def test_get_many_keeps_order_skips_missing_and_dedupes(mem: memactor.Memory) -> None:
    a, b, c = await mem.facts.add_many([Fact(content=f"f{i}") for i in range(3)])
    got = await mem.facts.get_many([c, "missing", a, c, b])
    assert [f.id for f in got] == [c, a, b]
    assert await mem.facts.get_many([]) == []


async def test_get_refuses_an_id_that_is_not_a_string(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.get(123)  # type: ignore[arg-type]
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.get_many([b"raw"])  # type: ignore[list-item]


# --- update ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_update_changes_fields_and_bumps_version(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    record_id = await store.add(make(kind))
    before = await store.get(record_id)
    updated = await store.update(record_id, tags=["x"], **text_change(kind))
    assert updated.version == 2
    assert updated.tags == ("x",)
    assert updated.updated_at >= before.updated_at
    assert updated.created_at == before.created_at
    assert await store.get(record_id) == updated


@pytest.mark.parametrize("kind", KINDS)
async def test_update_with_current_expect_version_succeeds_and_stale_conflicts(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    record_id = await store.add(make(kind))
    first = await store.update(record_id, expect_version=1, metadata={"n": 1})
    assert first.version == 2
    with pytest.raises(memactor.ConflictError, match=record_id):
        await store.update(record_id, expect_version=1, metadata={"n": 2})
    assert (await store.get(record_id)).metadata == {"n": 1}


async def test_concurrent_read_modify_write_with_expect_version_has_one_winner(mem: memactor.Memory) -> None:
    fid = await mem.facts.add(Fact(content="c", confidence=0.1))
    results: list[object] = []

    async def bump(value: float) -> None:
        try:
            results.append(await mem.facts.update(fid, expect_version=1, confidence=value))
        except memactor.ConflictError as exc:
            results.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(bump, i / 10)
    winners = [r for r in results if isinstance(r, Fact)]
    assert len(winners) == 1
    assert sum(isinstance(r, memactor.ConflictError) for r in results) == 9
    assert await mem.facts.get(fid) == winners[0]


@pytest.mark.parametrize("kind", KINDS)
async def test_update_missing_raises_not_found(mem: memactor.Memory, kind: str) -> None:
    with pytest.raises(memactor.NotFoundError, match="nope"):
        await getattr(mem, kind).update("nope", tags=["x"])


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "other"},
        {"version": 7},
        {"created_at": 1.0},
        {"updated_at": 1.0},
        {"no_such_field": 1},
        {"importance": 2.0},
        {"importance": float("nan")},
        {"task": ""},
        {"metadata": {"x": float("inf")}},
        {},
    ],
)
async def test_update_refuses_bad_changes(mem: memactor.Memory, changes: dict[str, Any]) -> None:
    eid = await mem.episodes.add(Episode(task="t"))
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.update(eid, **changes)
    assert (await mem.episodes.get(eid)).version == 1


async def test_update_skill_to_a_taken_name_conflicts(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="a"))
    sid = await mem.skills.add(Skill(name="b"))
    with pytest.raises(memactor.ConflictError):
        await mem.skills.update(sid, name="a")
    assert (await mem.skills.get(sid)).name == "b"


# --- delete ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_delete_returns_whether_it_existed(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    record_id = await store.add(make(kind))
    assert await store.delete(record_id) is True
    assert await store.delete(record_id) is False
    with pytest.raises(memactor.NotFoundError):
        await store.get(record_id)
    assert await store.count() == 0


async def test_deleted_records_leave_the_search_index(mem: memactor.Memory) -> None:
    eid = await mem.episodes.add(Episode(task="zebra crossing"))
    assert [h.record.id for h in await mem.episodes.search("zebra")] == [eid]
    await mem.episodes.delete(eid)
    assert await mem.episodes.search("zebra") == []


# --- count / stream -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_count_with_filters(mem: memactor.Memory, kind: str) -> None:
    store = getattr(mem, kind)
    await store.add_many([make(kind, i, namespace="a", agent_id=f"g{i % 2}", tags=("t",)) for i in range(4)])
    await store.add_many([make(kind, i, namespace="b") for i in range(3)])
    assert await store.count() == 7
    assert await store.count(namespace="a") == 4
    assert await store.count(namespace="a", agent_id="g1") == 2
    assert await store.count(tags=["t"]) == 4
    assert await store.count(namespace="c") == 0


async def test_count_refuses_a_filter_of_another_store(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.InvalidInputError, match="min_confidence"):
        await mem.episodes.count(min_confidence=0.5)
    with pytest.raises(memactor.InvalidInputError):
        await mem.facts.count(success=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_size", [1, 3, 100])
async def test_stream_yields_everything_in_id_order_in_pages(mem: memactor.Memory, kind: str, batch_size: int) -> None:
    store = getattr(mem, kind)
    ids = await store.add_many([make(kind, i) for i in range(10)])
    pages = [page async for page in store.stream(batch_size=batch_size)]
    assert all(1 <= len(page) <= batch_size for page in pages)
    assert [r.id for page in pages for r in page] == sorted(ids)
    assert sorted(ids) == ids  # ids are time-ordered: oldest first


async def test_stream_of_an_empty_store_yields_nothing(mem: memactor.Memory) -> None:
    assert [page async for page in mem.episodes.stream()] == []


async def test_stream_applies_filters(mem: memactor.Memory) -> None:
    await mem.episodes.add_many([Episode(task=f"t{i}", namespace="team-a", success=i % 2 == 0) for i in range(9)])
    await mem.episodes.add_many([Episode(task=f"u{i}", namespace="team-b") for i in range(5)])
    got = [r async for page in mem.episodes.stream(batch_size=2, namespace="team-a", success=True) for r in page]
    assert len(got) == 5
    assert all(r.namespace == "team-a" and r.success is True for r in got)


async def test_stream_spanning_several_reads_misses_and_repeats_nothing(mem: memactor.Memory) -> None:
    ids = []
    for chunk in range(5):
        ids += await mem.facts.add_many([Fact(content=f"c{chunk}-{i}") for i in range(100)])
    seen = [r.id async for page in mem.facts.stream(batch_size=7) for r in page]
    assert seen == sorted(ids)


async def test_stream_sees_no_half_of_a_concurrent_write(mem: memactor.Memory) -> None:
    before = await mem.episodes.add_many([Episode(task=f"t{i}") for i in range(30)])
    seen = []
    async for page in mem.episodes.stream(batch_size=5):
        seen += [r.id for r in page]
        await mem.episodes.add(Episode(task="added meanwhile"))
    assert set(before) <= set(seen)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("batch_size", [0, -1, 10_001, 1.5, "10"])
async def test_stream_refuses_a_bad_batch_size(mem: memactor.Memory, batch_size: object) -> None:
    with pytest.raises(memactor.InvalidInputError):
        async for _ in mem.episodes.stream(batch_size=batch_size):  # type: ignore[arg-type]
            pass


# --- skills: record_use / get_by_name ------------------------------------------------------------------


async def test_record_use_counts_uses_and_successes(mem: memactor.Memory) -> None:
    sid = await mem.skills.add(Skill(name="s"))
    first = await mem.skills.record_use(sid, success=True)
    assert (first.uses, first.successes, first.version) == (1, 1, 2)
    assert first.last_used_at is not None
    second = await mem.skills.record_use(sid, success=False)
    assert (second.uses, second.successes, second.version) == (2, 1, 3)
    assert await mem.skills.get(sid) == second


async def test_record_use_of_a_missing_skill_raises_not_found(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.NotFoundError, match="ghost"):
        await mem.skills.record_use("ghost", success=True)


async def test_record_use_refuses_a_non_bool_success(mem: memactor.Memory) -> None:
    sid = await mem.skills.add(Skill(name="s"))
    with pytest.raises(memactor.InvalidInputError):
        await mem.skills.record_use(sid, success=1)  # type: ignore[arg-type]
    assert (await mem.skills.get(sid)).uses == 0


async def test_concurrent_record_use_loses_no_update(mem: memactor.Memory) -> None:
    sid = await mem.skills.add(Skill(name="hot"))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(mem.skills.record_use, sid, i % 4 == 0)
    skill = await mem.skills.get(sid)
    assert (skill.uses, skill.successes, skill.version) == (100, 25, 101)


async def test_get_by_name_is_scoped_to_the_namespace(mem: memactor.Memory) -> None:
    a = await mem.skills.add(Skill(name="deploy"))
    b = await mem.skills.add(Skill(name="deploy", namespace="team-b"))
    assert (await mem.skills.get_by_name("deploy")).id == a
    assert (await mem.skills.get_by_name("deploy", namespace="team-b")).id == b
    with pytest.raises(memactor.NotFoundError, match="deploy"):
        await mem.skills.get_by_name("deploy", namespace="team-c")
    with pytest.raises(memactor.InvalidInputError):
        await mem.skills.get_by_name("")


# --- guarantees visible through the store API ----------------------------------------------------------


async def test_read_your_writes_across_agents(mem: memactor.Memory) -> None:
    seen: dict[str, bool] = {}

    async def agent(n: int) -> None:
        eid = await mem.episodes.add(Episode(agent_id=f"a{n}", task=f"job {n}"))
        # Any read that starts after the await returned sees the write, whoever reads.
        seen[eid] = (await mem.episodes.get(eid)).id == eid and await mem.episodes.count(agent_id=f"a{n}") == 1

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(32):
                tg.start_soon(agent, n)
    assert len(seen) == 32 and all(seen.values())


async def test_one_bad_command_fails_only_its_own_caller(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="taken"))
    outcomes: dict[int, object] = {}

    async def write(n: int) -> None:
        try:
            if n % 5 == 0:
                outcomes[n] = await mem.skills.add(Skill(name="taken"))
            else:
                outcomes[n] = await mem.episodes.add(Episode(task=f"good {n}"))
        except memactor.ConflictError as exc:
            outcomes[n] = exc

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(write, n)
    assert all(isinstance(outcomes[n], memactor.ConflictError) == (n % 5 == 0) for n in range(50))
    assert await mem.episodes.count() == 40
    assert await mem.skills.count() == 1
