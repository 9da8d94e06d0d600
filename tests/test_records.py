"""`memactor.model.records`: frozen records that validate themselves, ids, defaults and `Hit`."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time

import pytest

from memactor import Episode, Fact, Hit, InvalidInputError, Skill, new_id


def test_new_id_is_time_ordered_and_unique() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    first, later = new_id(), None
    time.sleep(0.001)
    later = new_id()
    assert first < later


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    # Ids come from a seeded PRNG: a child that kept its parent's state would draw the same random halves.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id's random half and leave without running any cleanup
        os.write(write_end, new_id()[16:].encode())
        os._exit(0)
    os.close(write_end)
    parents = new_id()[16:]
    with os.fdopen(read_end, "rb") as pipe:
        childs = pipe.read().decode()
    os.waitpid(pid, 0)
    assert len(childs) == 16 and childs != parents


def test_each_record_gets_its_own_id() -> None:
    assert Episode(task="t").id != Episode(task="t").id


def test_records_are_frozen_and_slotted() -> None:
    episode = Episode(task="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        episode.task = "other"  # type: ignore[misc]
    assert not hasattr(episode, "__dict__")


def test_defaults() -> None:
    e = Episode(task="t")
    assert (e.namespace, e.agent_id, e.tags, e.metadata, e.steps, e.outcome) == ("default", None, (), {}, (), "")
    assert (e.success, e.reward, e.importance, e.version, e.created_at, e.updated_at) == (
        None,
        None,
        0.5,
        0,
        None,
        None,
    )
    f = Fact(content="c")
    assert (f.confidence, f.source_episode_ids) == (0.5, ())
    s = Skill(name="n")
    assert (s.description, s.steps, s.code, s.uses, s.successes, s.last_used_at) == ("", (), "", 0, 0, None)


def test_primary_text_is_positional_and_required() -> None:
    assert Episode("t").task == "t" and Fact("c").content == "c" and Skill("n").name == "n"
    with pytest.raises(TypeError):
        Episode()  # type: ignore[call-arg]
    for make in (lambda: Episode(task=""), lambda: Fact(content=" "), lambda: Skill(name="\n")):
        with pytest.raises(InvalidInputError, match="must not be empty"):
            make()


def test_lists_become_tuples() -> None:
    e = Episode(task="t", steps=["a", "b"], tags=["x"])  # type: ignore[arg-type]
    assert e.steps == ("a", "b") and e.tags == ("x",)
    f = Fact(content="c", source_episode_ids=["e1"])  # type: ignore[arg-type]
    assert f.source_episode_ids == ("e1",)


def test_integer_floats_are_normalised() -> None:
    e = Episode(task="t", importance=1, reward=3)
    assert isinstance(e.importance, float) and isinstance(e.reward, float)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Episode(task=1),
        lambda: Episode(task="t", importance=1.5),
        lambda: Episode(task="t", importance=math.nan),
        lambda: Episode(task="t", reward=math.inf),
        lambda: Episode(task="t", reward=2**70),
        lambda: Episode(task="t", success=1),
        lambda: Episode(task="t", steps="not a tuple"),
        lambda: Episode(task="t", tags=("ok", 3)),
        lambda: Episode(task="t", metadata={"x": math.nan}),
        lambda: Episode(task="t", metadata={1: 2}),
        lambda: Episode(task="t", metadata=[]),
        lambda: Episode(task="t", id=""),
        lambda: Episode(task="t", id=12),
        lambda: Episode(task="t", id="with space"),
        lambda: Episode(task="t", namespace=""),
        lambda: Episode(task="t", agent_id=5),
        lambda: Episode(task="t", version=-1),
        lambda: Episode(task="t", created_at=math.nan),
        lambda: Fact(content="c", confidence=-0.1),
        lambda: Fact(content="c", confidence=math.nan),
        lambda: Fact(content="c", source_episode_ids=("bad id",)),
        lambda: Skill(name="n", uses=-1),
        lambda: Skill(name="n", uses=1, successes=2),
        lambda: Skill(name="n", uses=2**64),
        lambda: Skill(name="n", code=None),
    ],
)
def test_invalid_records_are_refused_on_construction(make: object) -> None:
    with pytest.raises(InvalidInputError):
        make()  # type: ignore[operator]


def test_error_messages_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="confidence"):
        Fact(content="c", confidence=2.0)
    with pytest.raises(InvalidInputError, match=r"steps\[1\]"):
        Episode(task="t", steps=("ok", None))  # type: ignore[arg-type]


def test_replace_revalidates() -> None:
    e = Episode(task="t")
    with pytest.raises(InvalidInputError):
        dataclasses.replace(e, importance=2.0)


def test_user_fields_leave_out_what_the_writer_maintains() -> None:
    fields = Skill(name="n").user_fields()
    assert "name" in fields and "id" in fields and "uses" in fields
    assert not {"created_at", "updated_at", "version"} & set(fields)


def test_hit_carries_the_score_and_its_parts() -> None:
    hit = Hit(Fact(content="c"), score=1.2, relevance=1.0, recency=0.5, importance=0.5)
    assert hit.success_rate is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.score = 2.0  # type: ignore[misc]
