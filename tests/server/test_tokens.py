"""Tokens: none, wrong, scoped to other namespaces, read-only; checked on every command and query."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import memactor
from memactor import Episode, Skill
from memactor.net.scope import Token
from memactor.net.server import Server, serving

pytestmark = pytest.mark.anyio

ADMIN = "admin-secret-0123456789"
TEAM_A = "team-a-secret-0123456789"
READER = "reader-secret-0123456789"
TOKENS = [Token.parse(f"admin:{ADMIN}"), Token.parse(f"a:{TEAM_A}:a"), Token.parse(f"reader:{READER}:ro")]


@pytest.fixture
async def tcp_server(db_path: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, "tcp://127.0.0.1:0", tokens=TOKENS) as running:
            yield running


async def test_no_token_and_a_wrong_token_are_refused(tcp_server: Server) -> None:
    for token in (None, "wrong-secret-0123456789", ADMIN[:-1]):
        with pytest.raises(memactor.AccessDeniedError):
            async with memactor.connect(tcp_server.url, token=token, retry_window=0.5):
                pass


async def test_a_read_only_token_reads_but_cannot_write(tcp_server: Server) -> None:
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        record_id = await admin.episodes.add(Episode(task="t"))
    async with memactor.connect(tcp_server.url, token=READER) as reader:
        assert reader.readonly
        assert (await reader.episodes.get(record_id)).task == "t"
        with pytest.raises(memactor.ReadOnlyError):
            await reader.episodes.add(Episode(task="nope"))
        with pytest.raises(memactor.ReadOnlyError):
            await reader.episodes.delete(record_id)
        with pytest.raises(memactor.ReadOnlyError):
            async with reader.batch() as b:
                b.episodes.add(Episode(task="nope"))
        assert await reader.episodes.count() == 1


async def test_a_namespace_token_stays_in_its_namespace(tcp_server: Server) -> None:
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        other = await admin.episodes.add(Episode(task="secret plan", namespace="b"))
        skill = await admin.skills.add(Skill(name="s", namespace="b"))
    async with memactor.connect(tcp_server.url, token=TEAM_A) as a:
        mine = await a.episodes.add(Episode(task="mine", namespace="a"))
        denied = [
            a.episodes.add(Episode(task="x", namespace="b")),
            a.episodes.add(Episode(task="x")),  # "default" is another namespace too
            a.episodes.update(mine, namespace="b"),
            a.episodes.search("secret", namespace="b"),
            a.episodes.count(namespace="b"),
            a.skills.get_by_name("s", namespace="b"),
            a.set_max_size(10**9),
        ]
        for call in denied:
            with pytest.raises(memactor.AccessDeniedError):
                await call
        with pytest.raises(memactor.AccessDeniedError):
            async with a.batch() as b:  # one bad command in a batch: none applied
                b.episodes.add(Episode(task="ok", namespace="a"))
                b.episodes.add(Episode(task="x", namespace="b"))
        # Records of other namespaces look absent (see test_foreign.py); unfiltered queries are limited to "a".
        with pytest.raises(memactor.NotFoundError):
            await a.episodes.get(other)
        with pytest.raises(memactor.NotFoundError):
            await a.episodes.update(other, task="stolen")
        with pytest.raises(memactor.NotFoundError):
            await a.skills.record_use(skill, True)
        assert not await a.episodes.delete(other)
        assert await a.episodes.get_many([other, mine]) == [await a.episodes.get(mine)]
        assert [h.record.id for h in await a.episodes.search("secret plan mine")] == [mine]
        assert await a.episodes.count() == 1
        assert [r.id for page in [p async for p in a.episodes.stream()] for r in page] == [mine]
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        assert (await admin.episodes.get(other)).task == "secret plan"
        assert await admin.episodes.count() == 2


async def test_tcp_needs_a_token_and_loopback(db_path: Path) -> None:
    async with memactor.open(db_path) as memory:
        with pytest.raises(memactor.InvalidInputError):
            Server(memory, "tcp://127.0.0.1:0")
        server = Server(memory, "tcp://0.0.0.0:0", tokens=TOKENS)
        with pytest.raises(memactor.InvalidInputError):
            await server.bind()


async def test_the_unix_socket_is_private(server: Server) -> None:
    path = server.url.removeprefix("unix://")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("spec", ["x", "x:short", ":secret-0123456789abcdef", "x:secret-0123456789abcdef:a:b"])
def test_malformed_token_specs_are_refused(spec: str) -> None:
    with pytest.raises(memactor.InvalidInputError):
        Token.parse(spec)
