"""`search`: ranking, weights, filters, the no-query listing, and injection-safe text.

Every test here uses only the ``mem`` fixture, so the same tests can run against any handle.
"""

from __future__ import annotations

import time

import pytest

import memactor
from memactor import Episode, Fact, SearchWeights, Skill

pytestmark = pytest.mark.anyio

DAY = 24 * 3600.0
WEEK = 7 * DAY


def ids(hits: list[memactor.Hit]) -> list[str]:
    return [hit.record.id for hit in hits]


# --- ranking ---------------------------------------------------------------------------------------------


async def test_more_relevant_text_ranks_first(mem: memactor.Memory) -> None:
    weak = await mem.episodes.add(Episode(task="check the logs", outcome="nothing about the other word"))
    strong = await mem.episodes.add(Episode(task="health check", outcome="health check failed: health check"))
    await mem.episodes.add(Episode(task="unrelated work"))
    hits = await mem.episodes.search("health check")
    assert ids(hits) == [strong, weak]
    assert hits[0].relevance == pytest.approx(1.0)
    assert 0.0 < hits[1].relevance < 1.0
    assert hits[0].score > hits[1].score


async def test_recency_decays_with_the_half_life(mem: memactor.Memory) -> None:
    now = time.time()
    old = await mem.episodes.add(Episode(task="rotate keys", created_at=now - WEEK))
    new = await mem.episodes.add(Episode(task="rotate keys", created_at=now - 60))
    older = await mem.episodes.add(Episode(task="rotate keys", created_at=now - 2 * WEEK))
    hits = await mem.episodes.search("rotate keys")
    assert ids(hits) == [new, old, older]
    by_id = {hit.record.id: hit for hit in hits}
    assert by_id[old].recency == pytest.approx(0.5, abs=0.01)
    assert by_id[older].recency == pytest.approx(0.25, abs=0.01)
    assert by_id[new].recency == pytest.approx(1.0, abs=0.01)


async def test_half_life_is_a_weight_option(mem: memactor.Memory) -> None:
    eid = await mem.episodes.add(Episode(task="rotate keys", created_at=time.time() - DAY))
    (hit,) = await mem.episodes.search("rotate", weights=SearchWeights(half_life_s=DAY))
    assert hit.record.id == eid
    assert hit.recency == pytest.approx(0.5, abs=0.01)


async def test_importance_breaks_ties_between_equally_relevant_episodes(mem: memactor.Memory) -> None:
    now = time.time()
    low = await mem.episodes.add(Episode(task="restart the cache", importance=0.1, created_at=now))
    high = await mem.episodes.add(Episode(task="restart the cache", importance=0.9, created_at=now))
    hits = await mem.episodes.search("restart cache")
    assert ids(hits) == [high, low]
    assert [hit.importance for hit in hits] == [0.9, 0.1]


async def test_fact_confidence_acts_as_importance(mem: memactor.Memory) -> None:
    now = time.time()
    unsure = await mem.facts.add(Fact(content="timeouts cause failures", confidence=0.2, created_at=now))
    sure = await mem.facts.add(Fact(content="timeouts cause failures", confidence=0.95, created_at=now))
    hits = await mem.facts.search("timeouts")
    assert ids(hits) == [sure, unsure]
    assert hits[0].importance == 0.95 and hits[0].success_rate is None


async def test_skill_success_rate_ranks_reliable_skills_first(mem: memactor.Memory) -> None:
    now = time.time()
    flaky = await mem.skills.add(Skill(name="rollback-a", description="undo a deploy", created_at=now))
    solid = await mem.skills.add(Skill(name="rollback-b", description="undo a deploy", created_at=now))
    for _ in range(4):
        await mem.skills.record_use(flaky, success=False)
        await mem.skills.record_use(solid, success=True)
    hits = await mem.skills.search("undo deploy")
    assert ids(hits) == [solid, flaky]
    assert hits[0].success_rate == pytest.approx(5 / 6)
    assert hits[1].success_rate == pytest.approx(1 / 6)


async def test_score_is_the_documented_blend_of_its_parts(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="blend", description="mix the parts"))
    weights = SearchWeights(relevance=0.7, recency=0.2, importance=0.4, success=0.3)
    (hit,) = await mem.skills.search("blend", weights=weights)
    expected = 0.7 * hit.relevance + 0.2 * hit.recency + 0.4 * hit.importance + 0.3 * hit.success_rate
    assert hit.score == pytest.approx(expected)
    assert all(0.0 <= part <= 1.0 for part in (hit.relevance, hit.recency, hit.importance, hit.success_rate))


async def test_weights_override_the_default_order(mem: memactor.Memory) -> None:
    now = time.time()
    relevant_but_old = await mem.episodes.add(
        Episode(task="disk full disk full", importance=0.1, created_at=now - 30 * DAY)
    )
    weak_but_fresh = await mem.episodes.add(
        Episode(task="disk", outcome="long text " * 20, importance=0.9, created_at=now)
    )
    default = await mem.episodes.search("disk full")
    assert ids(default) == [relevant_but_old, weak_but_fresh]
    recency_only = await mem.episodes.search("disk full", weights=SearchWeights(relevance=0, importance=0, recency=1))
    assert ids(recency_only) == [weak_but_fresh, relevant_but_old]
    importance_only = await mem.episodes.search(
        "disk full", weights=SearchWeights(relevance=0, recency=0, importance=1)
    )
    assert ids(importance_only) == [weak_but_fresh, relevant_but_old]
    assert importance_only[0].score == pytest.approx(0.9)


async def test_bad_weights_are_refused(mem: memactor.Memory) -> None:
    for bad in ({"relevance": -1.0}, {"recency": float("nan")}, {"half_life_s": 0.0}):
        with pytest.raises(memactor.InvalidInputError):
            await mem.episodes.search("x", weights=SearchWeights(**bad))


async def test_limit_bounds_the_hits_and_is_validated(mem: memactor.Memory) -> None:
    await mem.facts.add_many([Fact(content=f"common word {i}") for i in range(15)])
    assert len(await mem.facts.search("common")) == 10
    assert len(await mem.facts.search("common", limit=3)) == 3
    assert len(await mem.facts.search("common", limit=10_000)) == 15
    for bad in (0, -1, 10_001, 2.0, True, "5"):
        with pytest.raises(memactor.InvalidInputError):
            await mem.facts.search("common", limit=bad)  # type: ignore[arg-type]


async def test_searchable_text_covers_every_text_field(mem: memactor.Memory) -> None:
    eid = await mem.episodes.add(Episode(task="alpha", steps=("bravo",), outcome="charlie"))
    for word in ("alpha", "bravo", "charlie"):
        assert ids(await mem.episodes.search(word)) == [eid]
    sid = await mem.skills.add(Skill(name="delta", description="echo", steps=("foxtrot",), code="golf()"))
    for word in ("delta", "echo", "foxtrot", "golf"):
        assert ids(await mem.skills.search(word)) == [sid]
    assert await mem.facts.search("alpha") == []


async def test_updated_text_is_searchable_and_the_old_text_is_not(mem: memactor.Memory) -> None:
    fid = await mem.facts.add(Fact(content="penguins swim"))
    await mem.facts.update(fid, content="eagles fly")
    assert await mem.facts.search("penguins") == []
    assert ids(await mem.facts.search("eagles")) == [fid]


# --- no query ---------------------------------------------------------------------------------------------


async def test_without_a_query_the_newest_come_first(mem: memactor.Memory) -> None:
    now = time.time()
    made = [await mem.episodes.add(Episode(task=f"t{i}", agent_id="a1", created_at=now - i)) for i in range(5)]
    await mem.episodes.add(Episode(task="other agent", agent_id="a2", created_at=now + 5))
    hits = await mem.episodes.search(agent_id="a1", limit=3)
    assert ids(hits) == made[:3]
    assert all(hit.relevance == 0.0 for hit in hits)
    everything = await mem.episodes.search()
    assert everything[0].record.agent_id == "a2"


# --- filters ---------------------------------------------------------------------------------------------


async def test_namespace_and_agent_filters(mem: memactor.Memory) -> None:
    a = await mem.episodes.add(Episode(task="shared word", namespace="team-a", agent_id="a1"))
    b = await mem.episodes.add(Episode(task="shared word", namespace="team-a", agent_id="a2"))
    c = await mem.episodes.add(Episode(task="shared word", namespace="team-b", agent_id="a1"))
    assert set(ids(await mem.episodes.search("shared", namespace="team-a"))) == {a, b}
    assert set(ids(await mem.episodes.search("shared", agent_id="a1"))) == {a, c}
    assert ids(await mem.episodes.search("shared", namespace="team-a", agent_id="a1")) == [a]
    assert await mem.episodes.search("shared", namespace="default") == []


async def test_tags_filter_means_all_of(mem: memactor.Memory) -> None:
    both = await mem.facts.add(Fact(content="tagged", tags=("db", "prod")))
    db_only = await mem.facts.add(Fact(content="tagged", tags=("db",)))
    await mem.facts.add(Fact(content="tagged"))
    assert ids(await mem.facts.search("tagged", tags=["db", "prod"])) == [both]
    assert set(ids(await mem.facts.search("tagged", tags=("db",)))) == {both, db_only}
    assert await mem.facts.search("tagged", tags=["prod", "staging"]) == []
    assert len(await mem.facts.search("tagged", tags=[])) == 3


async def test_since_and_until_bound_created_at(mem: memactor.Memory) -> None:
    now = time.time()
    old = await mem.episodes.add(Episode(task="event", created_at=now - 3 * DAY))
    mid = await mem.episodes.add(Episode(task="event", created_at=now - 2 * DAY))
    new = await mem.episodes.add(Episode(task="event", created_at=now - DAY))
    assert set(ids(await mem.episodes.search("event", since=now - 2 * DAY))) == {mid, new}
    assert set(ids(await mem.episodes.search("event", until=now - 2 * DAY))) == {old}
    assert ids(await mem.episodes.search("event", since=now - 2.5 * DAY, until=now - 1.5 * DAY)) == [mid]
    assert ids(await mem.episodes.search(since=now - 2 * DAY, until=now)) == [new, mid]


async def test_success_filter_for_episodes(mem: memactor.Memory) -> None:
    ok = await mem.episodes.add(Episode(task="deploy", success=True))
    failed = await mem.episodes.add(Episode(task="deploy", success=False))
    await mem.episodes.add(Episode(task="deploy"))
    assert ids(await mem.episodes.search("deploy", success=True)) == [ok]
    assert ids(await mem.episodes.search("deploy", success=False)) == [failed]
    assert len(await mem.episodes.search("deploy")) == 3
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.search("deploy", success=1)


async def test_min_confidence_filter_for_facts(mem: memactor.Memory) -> None:
    await mem.facts.add(Fact(content="claim", confidence=0.3))
    edge = await mem.facts.add(Fact(content="claim", confidence=0.6))
    high = await mem.facts.add(Fact(content="claim", confidence=0.9))
    assert ids(await mem.facts.search("claim", min_confidence=0.6)) == [high, edge]
    assert ids(await mem.facts.search(min_confidence=0.8)) == [high]


async def test_name_filter_for_skills(mem: memactor.Memory) -> None:
    await mem.skills.add(Skill(name="build", description="make it"))
    wanted = await mem.skills.add(Skill(name="ship", description="make it go"))
    assert ids(await mem.skills.search("make", name="ship")) == [wanted]
    assert ids(await mem.skills.search(name="ship")) == [wanted]


async def test_filters_of_another_store_and_unknown_filters_are_refused(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.InvalidInputError, match="success"):
        await mem.facts.search("x", success=True)
    with pytest.raises(memactor.InvalidInputError, match="name"):
        await mem.episodes.search("x", name="y")
    with pytest.raises(memactor.InvalidInputError):
        await mem.skills.search("x", min_confidence=0.1)
    with pytest.raises(memactor.InvalidInputError, match="colour"):
        await mem.episodes.search("x", colour="red")
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.search("x", tags="not-a-tuple")
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.search("x", since=float("nan"))
    with pytest.raises(memactor.InvalidInputError):
        await mem.episodes.search(b"bytes")  # type: ignore[arg-type]


# --- injection-safe text ---------------------------------------------------------------------------------

HOSTILE = ['"', "NEAR(", "*", "-", "AND", "^", "'; DROP TABLE episodes; --", 'a"b', "OR", "NOT", "(", ")", ":"]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_text_never_raises_and_matches_only_its_words(mem: memactor.Memory, text: str) -> None:
    plain = await mem.episodes.add(Episode(task="plain record about nothing special"))
    words = await mem.episodes.add(Episode(task="near and or not a b drop table episodes"))
    hits = await mem.episodes.search(text)
    assert plain not in ids(hits)
    assert ids(hits) in ([], [words])
    assert await mem.episodes.count() == 2
    for store in (mem.facts, mem.skills):
        assert await store.search(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AND", "and"),
        ("NEAR(", "near"),
        ("'; DROP TABLE episodes; --", "drop"),
        ("-logs", "logs"),
        ("^start", "start"),
        ('"unbalanced', "unbalanced"),
        ("task:column", "column"),
    ],
)
async def test_operators_are_searched_as_plain_words(mem: memactor.Memory, text: str, expected: str) -> None:
    target = await mem.episodes.add(Episode(task=f"a record with the word {expected} in it"))
    await mem.episodes.add(Episode(task="something else entirely"))
    assert ids(await mem.episodes.search(text)) == [target]


async def test_a_star_is_not_a_prefix_query(mem: memactor.Memory) -> None:
    await mem.episodes.add(Episode(task="deploy"))
    assert await mem.episodes.search("depl*") == []


async def test_a_leading_minus_is_not_negation(mem: memactor.Memory) -> None:
    with_build = await mem.episodes.add(Episode(task="deploy build"))
    deploy_only = await mem.episodes.add(Episode(task="deploy"))
    assert set(ids(await mem.episodes.search("deploy -build"))) == {with_build, deploy_only}


async def test_text_without_words_finds_nothing(mem: memactor.Memory) -> None:
    # Blank text is no text (the newest first, see tests/test_blank_query.py); punctuation is text, of no word.
    eid = await mem.episodes.add(Episode(task="anything"))
    for text in ("!!! ??? ***", '""'):
        assert await mem.episodes.search(text) == []
    for text in ("", "   "):
        assert ids(await mem.episodes.search(text)) == [eid]


async def test_non_ascii_words_are_found(mem: memactor.Memory) -> None:
    eid = await mem.facts.add(Fact(content="le déploiement a échoué 部署"))
    assert ids(await mem.facts.search("échoué")) == [eid]
