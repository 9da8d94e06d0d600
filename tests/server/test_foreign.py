"""A namespace-scoped token learns nothing of other namespaces: a foreign id answers exactly as an id that
exists nowhere, a foreign namespace exactly as one that holds nothing, and no error text names either.

Every request below is sent twice through the same scoped token, once about a record of namespace
``team-b`` and once about a freshly generated id (or name, or namespace) that exists nowhere; the answers
(error class and text with the caller's own id replaced, or the value) must be the same. Run over the
server's read pool and over a ``local_reads`` client, whose reads are scoped on the client side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import memactor
from memactor import Episode, Fact, Skill
from memactor.model.records import new_id
from memactor.net.scope import Token
from memactor.net.server import Server, serving

pytestmark = pytest.mark.anyio

ADMIN = "admin-secret-0123456789"
TEAM_A = "team-a-secret-0123456789"
TEAM_A_RO = "team-a-ro-secret-0123456789"
TOKENS = [
    Token.parse(f"admin:{ADMIN}"),
    Token.parse(f"a:{TEAM_A}:team-a"),
    Token.parse(f"a-ro:{TEAM_A_RO}:ro:team-a"),
]
FOREIGN_NS = "team-b"


@dataclass(frozen=True)
class Subject:
    """What a request is about: ids of an episode, a fact and a skill, a skill name, a namespace, words."""

    episode: str
    fact: str
    skill: str
    skill_name: str
    namespace: str
    word: str
    tag: str
    agent: str


Request = Callable[[memactor.RemoteMemory, Subject], Awaitable[Any]]


async def _stream(mem: memactor.RemoteMemory, **filters: Any) -> list[str]:
    return [r.id for page in [p async for p in mem.episodes.stream(batch_size=2, **filters)] for r in page]


async def _batch(mem: memactor.RemoteMemory, fill: Callable[[Any], None]) -> str:
    async with mem.batch() as b:
        fill(b)
    return "committed"


def _add_mine(b: Any) -> None:
    b.episodes.add(Episode(task="mine", namespace="team-a"))


# Each request is about the subject only; everything else it touches lies in the token's own namespace.
REQUESTS: dict[str, Request] = {
    "get episode": lambda m, s: m.episodes.get(s.episode),
    "get fact": lambda m, s: m.facts.get(s.fact),
    "get skill": lambda m, s: m.skills.get(s.skill),
    "get_many": lambda m, s: m.episodes.get_many([s.episode, s.fact]),
    "update": lambda m, s: m.episodes.update(s.episode, task="stolen"),
    "update expecting a version": lambda m, s: m.facts.update(s.fact, expect_version=1, content="x"),
    "update moving it into my namespace": lambda m, s: m.episodes.update(s.episode, namespace="team-a"),
    "update past its uses": lambda m, s: m.skills.update(s.skill, successes=5),
    "delete": lambda m, s: m.episodes.delete(s.episode),
    "delete skill": lambda m, s: m.skills.delete(s.skill),
    "record_use": lambda m, s: m.skills.record_use(s.skill, True),
    "get_by_name in my namespace": lambda m, s: m.skills.get_by_name(s.skill_name, namespace="team-a"),
    "get_by_name in its namespace": lambda m, s: m.skills.get_by_name(s.skill_name, namespace=s.namespace),
    "batch: update": lambda m, s: _batch(m, lambda b: b.episodes.update(s.episode, task="x")),
    "batch: add, then update": lambda m, s: _batch(m, lambda b: (_add_mine(b), b.facts.update(s.fact, content="x"))),
    "batch: add, then delete": lambda m, s: _batch(m, lambda b: (_add_mine(b), b.episodes.delete(s.episode))),
    "batch: record_use, then add": lambda m, s: _batch(
        m, lambda b: (b.skills.record_use(s.skill, False), _add_mine(b))
    ),
    "batch: delete twice": lambda m, s: _batch(m, lambda b: (b.skills.delete(s.skill), b.skills.delete(s.skill))),
    "stream": lambda m, s: _stream(m),
    "stream of its namespace": lambda m, s: _stream(m, namespace=s.namespace),
    "stream by its tag": lambda m, s: _stream(m, tags=[s.tag]),
    "stream by its agent": lambda m, s: _stream(m, agent_id=s.agent),
    "search its words": lambda m, s: m.episodes.search(s.word),
    "search its namespace": lambda m, s: m.episodes.search(s.word, namespace=s.namespace),
    "search by its agent": lambda m, s: m.facts.search(agent_id=s.agent),
    "count": lambda m, s: m.episodes.count(),
    "count by its tag": lambda m, s: m.skills.count(tags=[s.tag]),
    "count by its agent": lambda m, s: m.episodes.count(agent_id=s.agent),
    "count of its namespace": lambda m, s: m.facts.count(namespace=s.namespace),
}


@pytest.fixture
async def tcp_server(db_path: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, "tcp://127.0.0.1:0", tokens=TOKENS) as running:
            yield running


async def _foreign_subject(server: Server) -> Subject:
    """Records of another namespace, with words, a tag and an agent found nowhere else."""
    word, tag, agent = "zanzibarplan", "tag-of-b", "agent-of-b"
    async with memactor.connect(server.url, token=ADMIN) as admin:
        episode = await admin.episodes.add(
            Episode(task=f"secret {word}", namespace=FOREIGN_NS, tags=(tag,), agent_id=agent)
        )
        fact = await admin.facts.add(Fact(content=f"fact {word}", namespace=FOREIGN_NS, agent_id=agent))
        skill = await admin.skills.add(Skill(name="deploy-b", namespace=FOREIGN_NS, tags=(tag,)))
        # The token's own namespace holds records too, so a scoped answer is not trivially empty.
        await admin.episodes.add(Episode(task="ours", namespace="team-a"))
    return Subject(episode, fact, skill, "deploy-b", FOREIGN_NS, word, tag, agent)


def _missing_subject() -> Subject:
    return Subject(new_id(), new_id(), new_id(), "no-such-skill", "nowhere-ns", "quixoticword", "no-tag", "no-agent")


def _observe(outcome: Any, subject: Subject) -> Any:
    """An answer with the caller's own ids and names replaced, so two subjects' answers compare equal."""
    if isinstance(outcome, BaseException):
        text = str(outcome)
    elif isinstance(outcome, list):
        text = repr([_id_of(x) for x in outcome])
    else:
        text = repr(_id_of(outcome))
    for placeholder, value in (
        ("<EPISODE>", subject.episode),
        ("<FACT>", subject.fact),
        ("<SKILL>", subject.skill),
        ("<NAME>", subject.skill_name),
        ("<NS>", subject.namespace),
    ):
        text = text.replace(value, placeholder)
    return type(outcome).__name__ if isinstance(outcome, BaseException) else "value", text


def _id_of(value: Any) -> Any:
    record = getattr(value, "record", value)  # a search hit, or a record
    return getattr(record, "id", value)


async def _ask(mem: memactor.RemoteMemory, request: Request, subject: Subject) -> Any:
    try:
        return await request(mem, subject)
    except memactor.MemactorError as exc:
        return exc


@pytest.mark.parametrize("local_reads", [False, True], ids=["server-reads", "local-reads"])
@pytest.mark.parametrize("token", [TEAM_A, TEAM_A_RO], ids=["scoped", "read-only-scoped"])
async def test_a_foreign_id_answers_as_a_missing_one(tcp_server: Server, token: str, local_reads: bool) -> None:
    foreign, missing = await _foreign_subject(tcp_server), _missing_subject()
    differences = []
    async with memactor.connect(tcp_server.url, token=token, local_reads=local_reads) as scoped:
        for name, request in REQUESTS.items():
            seen_foreign = await _ask(scoped, request, foreign)
            seen_missing = await _ask(scoped, request, missing)
            if _observe(seen_foreign, foreign) != _observe(seen_missing, missing):
                differences.append(f"{name}: foreign {seen_foreign!r} but missing {seen_missing!r}")
            if isinstance(seen_foreign, BaseException) and FOREIGN_NS in str(seen_foreign):
                differences.append(f"{name}: the error names the foreign namespace: {seen_foreign}")
    assert not differences, "\n".join(differences)
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        # Nothing of the other namespace was changed by any of it.
        assert (await admin.episodes.get(foreign.episode)).version == 1
        assert (await admin.facts.get(foreign.fact)).version == 1
        assert (await admin.skills.get(foreign.skill)).uses == 0


async def test_no_error_text_names_a_namespace_outside_the_scope(tcp_server: Server) -> None:
    foreign = await _foreign_subject(tcp_server)
    async with memactor.connect(tcp_server.url, token=TEAM_A) as scoped:
        for name, request in REQUESTS.items():
            outcome = await _ask(scoped, request, foreign)
            if isinstance(outcome, BaseException) and "namespace" not in name:
                assert FOREIGN_NS not in str(outcome), f"{name}: {outcome}"
        # Requests that name the foreign namespace themselves get an answer that does not repeat it either.
        for call in (
            scoped.episodes.count(namespace=FOREIGN_NS),
            scoped.skills.get_by_name("deploy-b", namespace=FOREIGN_NS),
            scoped.episodes.add(Episode(task="x", namespace=FOREIGN_NS)),
            scoped.episodes.update(new_id(), namespace=FOREIGN_NS),
        ):
            with pytest.raises(memactor.AccessDeniedError) as denied:
                await call
            assert FOREIGN_NS not in str(denied.value)
            assert "team-a" in str(denied.value)  # says which namespaces it may use


@pytest.mark.parametrize("in_batch", [False, True], ids=["add", "batch"])
async def test_an_add_reusing_a_foreign_id_reveals_nothing_of_the_record(tcp_server: Server, in_batch: bool) -> None:
    foreign = await _foreign_subject(tcp_server)
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        stored = await admin.episodes.get(foreign.episode)
    copy = Episode(id=foreign.episode, task="guess", namespace="team-a", agent_id="me")
    async with memactor.connect(tcp_server.url, token=TEAM_A) as scoped:
        with pytest.raises(memactor.ConflictError) as conflict:
            if in_batch:
                async with scoped.batch() as b:
                    _add_mine(b)
                    b.episodes.add(copy)
            else:
                await scoped.episodes.add(copy)
        assert await scoped.episodes.count() == 1  # nothing of the batch was applied
    text = str(conflict.value)
    for revealing in ("'task'", "agent_id", "tags", "'namespace'", FOREIGN_NS, stored.task, "differs", "['"):
        assert revealing not in text, f"{revealing!r} in {text!r}"
    assert foreign.episode in text and "new id" in text  # says what to do
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        assert await admin.episodes.get(foreign.episode) == stored


async def test_a_token_of_several_namespaces_names_one_to_search_stream_or_count(db_path: Path) -> None:
    secret = "two-teams-secret-0123456789"
    tokens = [*TOKENS, Token.parse(f"ab:{secret}:team-a,team-c")]
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, "tcp://127.0.0.1:0", tokens=tokens) as server:
            foreign = await _foreign_subject(server)
            async with memactor.connect(server.url, token=secret) as both:
                mine = await both.episodes.add(Episode(task="c", namespace="team-c"))
                # namespace=None never means "every namespace" for a scoped token.
                for call in (both.episodes.count(), both.episodes.search("secret"), _stream(both)):
                    with pytest.raises(memactor.AccessDeniedError, match="pass namespace="):
                        await call
                assert await both.episodes.count(namespace="team-c") == 1
                assert [r.id for r in await both.episodes.get_many([mine, foreign.episode])] == [mine]
