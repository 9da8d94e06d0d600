"""`mem.batch()`: one atomic command on exit, ids known at once, nothing sent if the body raises.

Every test here uses only the ``mem`` fixture, so the same tests can run against any handle.
"""

from __future__ import annotations

import pytest

import memactor
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio


async def test_batch_commits_everything_and_ids_are_known_inside(mem: memactor.Memory) -> None:
    async with mem.batch() as b:
        eid = b.episodes.add(Episode(task="deploy"))
        fid = b.facts.add(Fact(content="learned", source_episode_ids=(eid,)))
        sids = b.skills.add_many([Skill(name="s1"), Skill(name="s2")])
        assert isinstance(eid, str) and isinstance(fid, str) and len(sids) == 2
        # Nothing is sent before the block ends.
        assert await mem.episodes.count() == 0
    assert (await mem.episodes.get(eid)).task == "deploy"
    assert (await mem.facts.get(fid)).source_episode_ids == (eid,)
    assert [s.name for s in await mem.skills.get_many(sids)] == ["s1", "s2"]


async def test_batch_commands_may_refer_to_records_made_earlier_in_it(mem: memactor.Memory) -> None:
    async with mem.batch() as b:
        sid = b.skills.add(Skill(name="s"))
        b.skills.record_use(sid, True)
        b.skills.record_use(sid, False)
        b.skills.update(sid, description="two uses")
        eid = b.episodes.add(Episode(task="gone soon"))
        b.episodes.delete(eid)
    skill = await mem.skills.get(sid)
    assert (skill.uses, skill.successes, skill.description, skill.version) == (2, 1, "two uses", 4)
    with pytest.raises(memactor.NotFoundError):
        await mem.episodes.get(eid)


async def test_batch_results_hold_one_result_per_command(mem: memactor.Memory) -> None:
    existing = await mem.facts.add(Fact(content="old"))
    async with mem.batch() as b:
        eid = b.episodes.add(Episode(task="t"))
        b.facts.delete(existing)
        b.facts.delete("never-existed")
    assert b.results[0] == [eid]
    assert b.results[1:] == [True, False]


async def test_a_failing_command_rolls_back_the_whole_batch(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="taken"))
    fid = await mem.facts.add(Fact(content="keep me"))
    with pytest.raises(memactor.ConflictError):
        async with mem.batch() as b:
            b.episodes.add(Episode(task="first"))
            b.facts.update(fid, content="changed")
            b.skills.add(Skill(name="taken"))
            b.episodes.add(Episode(task="last"))
    assert await mem.episodes.count() == 0
    assert (await mem.facts.get(fid)).content == "keep me"
    assert await mem.skills.count() == 1


@pytest.mark.parametrize(
    ("error", "fill"),
    [
        (memactor.NotFoundError, lambda b, fid: b.facts.update("missing", content="x")),
        (memactor.ConflictError, lambda b, fid: b.facts.update(fid, expect_version=5, content="x")),
        (memactor.NotFoundError, lambda b, fid: b.skills.record_use("missing", True)),
    ],
)
async def test_batch_failure_raises_the_commands_error(mem: memactor.Memory, error: type, fill: object) -> None:
    fid = await mem.facts.add(Fact(content="keep me"))
    with pytest.raises(error, match="batch command 1"):
        async with mem.batch() as b:
            b.episodes.add(Episode(task="first"))
            fill(b, fid)  # type: ignore[operator]
    assert await mem.episodes.count() == 0
    assert (await mem.facts.get(fid)).version == 1


async def test_nothing_is_sent_if_the_body_raises(mem: memactor.Memory) -> None:
    with pytest.raises(KeyError):
        async with mem.batch() as b:
            b.episodes.add(Episode(task="never"))
            raise KeyError("boom")
    assert await mem.episodes.count() == 0


async def test_an_empty_batch_is_fine(mem: memactor.Memory) -> None:
    async with mem.batch() as b:
        pass
    assert b.results == []


async def test_batch_methods_validate_at_once(mem: memactor.Memory) -> None:
    async with mem.batch() as b:
        with pytest.raises(memactor.InvalidInputError):
            b.episodes.add(Fact(content="wrong kind"))  # type: ignore[arg-type]
        with pytest.raises(memactor.InvalidInputError):
            b.facts.update("x", no_such_field=1)
        with pytest.raises(memactor.InvalidInputError):
            b.skills.delete(42)  # type: ignore[arg-type]
        with pytest.raises(memactor.InvalidInputError):
            b.skills.add_many([])
        b.facts.add(Fact(content="the one valid command"))
    assert await mem.facts.count() == 1
    assert await mem.episodes.count() == 0


async def test_a_batch_can_be_entered_once(mem: memactor.Memory) -> None:
    context = mem.batch()
    async with context as b:
        b.facts.add(Fact(content="x"))
    with pytest.raises(memactor.InvalidInputError):
        async with context:
            pass
    assert await mem.facts.count() == 1


async def test_duplicate_skill_names_within_one_batch_conflict(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.ConflictError):
        async with mem.batch() as b:
            b.skills.add(Skill(name="same"))
            b.skills.add(Skill(name="same"))
    assert await mem.skills.count() == 0
