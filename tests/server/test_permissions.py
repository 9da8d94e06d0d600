"""The permission matrix: every command and query type against every kind of token, in and out of scope.

The rows are keyed by the types of the codec's command table and of the query table: a command or query
added without a row here fails `test_every_command_and_query_has_a_row`, so nobody can add one without
deciding who may send it. Each case is run through a real server and the real client, on records seeded
afresh for it, and the outcome is checked together with what it did to the records (a refused write
changes nothing).
"""

from __future__ import annotations

import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import memactor
from memactor import Episode, Skill, codec
from memactor.model.commands import (
    AddRecords,
    Batch,
    Command,
    DeleteItem,
    DeleteRecord,
    Ping,
    PutItem,
    RecordUse,
    SetEmbedder,
    SetQuota,
    StageVectors,
    StoreVectors,
    SwapEmbedder,
    SweepItems,
    TouchItems,
    UpdateRecord,
)
from memactor.model.queries import Count, Get, GetByName, GetItems, ListNamespaces, Page, Query, Search, SearchItems
from memactor.model.records import new_id
from memactor.net import payloads
from memactor.net.scope import Token
from memactor.net.server import Server, serving

pytestmark = pytest.mark.anyio

SECRETS = {
    "unrestricted": "unrestricted-secret-0123456789",
    "read-only": "read-only-secret-0123456789",
    "scoped": "scoped-secret-0123456789",
    "read-only scoped": "ro-scoped-secret-0123456789",
}
TOKENS = [
    Token.parse(f"all:{SECRETS['unrestricted']}"),
    Token.parse(f"ro:{SECRETS['read-only']}:ro"),
    Token.parse(f"a:{SECRETS['scoped']}:team-a"),
    Token.parse(f"ro-a:{SECRETS['read-only scoped']}:ro:team-a"),
]
TARGETS = {"in scope": "team-a", "out of scope": "team-b"}

# Outcomes. "absent": answered exactly as for an id that exists nowhere (NotFoundError, False, nothing found).
OK, ABSENT, READONLY, DENIED, CONFLICT, REDACTED = "ok", "absent", "read-only", "denied", "conflict", "redacted"
MISMATCH = "mismatch"
_RAISED = {
    memactor.ReadOnlyError: READONLY,
    memactor.AccessDeniedError: DENIED,
    memactor.NotFoundError: ABSENT,
    memactor.ConflictError: CONFLICT,
    memactor.EmbedderMismatchError: MISMATCH,
}


@dataclass(frozen=True)
class Target:
    """Records seeded for one case in one namespace, with a tag found on nothing else."""

    namespace: str
    episode: str
    skill: str
    skill_name: str
    tag: str

    @property
    def item(self) -> tuple[tuple[str, ...], str]:
        """The address of the item seeded with the records: under the target's namespace as its root."""
        return (self.namespace, "sub"), self.tag


Run = Callable[[memactor.RemoteMemory, Target], Awaitable[str]]
# Expected outcome per token kind: one for both targets, or (in scope, out of scope).
Expected = dict[str, str | tuple[str, str]]


@dataclass(frozen=True)
class Case:
    run: Run
    expected: Expected
    writes: bool = False  # an OK outcome must change the target's records; any other must not


def _found(value: Any) -> str:
    return OK if value else ABSENT


async def _streamed(mem: memactor.RemoteMemory, **filters: Any) -> str:
    return _found([r async for page in mem.episodes.stream(batch_size=5, **filters) for r in page])


async def _batch(mem: memactor.RemoteMemory, t: Target) -> str:
    async with mem.batch() as b:
        b.episodes.add(Episode(task="batch", namespace="team-a"))
        b.episodes.update(t.episode, task="batched")
    return OK


async def _ping(mem: memactor.RemoteMemory, t: Target) -> str:
    await mem.execute(Ping())
    return OK


async def _statistics(mem: memactor.RemoteMemory, t: Target) -> str:
    stats = await mem.refresh_statistics()
    return OK if stats.commands > 0 and stats.batches > 0 else REDACTED


async def _done(call: Awaitable[Any]) -> str:
    await call
    return OK


async def _value(call: Awaitable[Any]) -> str:
    return _found(await call)


async def _deleted(call: Awaitable[bool]) -> str:
    return OK if await call else ABSENT


async def _add_new(m: memactor.RemoteMemory, t: Target) -> str:
    await m.episodes.add(Episode(task="new", namespace=t.namespace, tags=(t.tag,)))
    return OK


async def _add_copy(m: memactor.RemoteMemory, t: Target) -> str:
    await m.episodes.add(Episode(id=t.episode, task="copy", namespace="team-a"))
    return OK


async def _touch(m: memactor.RemoteMemory, t: Target) -> str:
    await m.execute(TouchItems((t.item,), time.time() + 60))
    return OK


async def _sweep(m: memactor.RemoteMemory, t: Target) -> str:
    await m.execute(SweepItems(time.time()))
    return OK


async def _batch_items(m: memactor.RemoteMemory, t: Target) -> str:
    async with m.batch() as b:
        b.items.put(t.item[0], "another", {"v": 1})
        b.items.delete(*t.item)
    return OK


async def _stage_vector(m: memactor.RemoteMemory, t: Target) -> str:
    staged = await m.execute(StageVectors("tiny-next", 2, "episode", (t.episode,), (1,), (bytes(8),)))
    return OK if staged == [t.episode] else ABSENT


async def _swap_embedder(m: memactor.RemoteMemory, t: Target) -> str:
    await m.execute(SwapEmbedder("tiny-next", 2))
    return OK


async def _store_vector(m: memactor.RemoteMemory, t: Target) -> str:
    # The file needs an embedder first; checking it is all a read-only token may do, and passes on none.
    await m.execute(SetEmbedder("tiny", 2, check_only=m.readonly))
    stored = await m.execute(StoreVectors("episode", (t.episode,), (1,), (bytes(8),)))
    return OK if stored == [t.episode] else ABSENT


async def _listed(m: memactor.RemoteMemory, t: Target) -> str:
    return _found(t.item[0] in await m.items.list_namespaces(limit=10_000))


WRITER: Expected = {"unrestricted": OK, "read-only": READONLY, "scoped": (OK, ABSENT), "read-only scoped": READONLY}
READER: Expected = {"unrestricted": OK, "read-only": OK, "scoped": (OK, ABSENT), "read-only scoped": (OK, ABSENT)}
NAMED: Expected = {"unrestricted": OK, "read-only": OK, "scoped": (OK, DENIED), "read-only scoped": (OK, DENIED)}
ADMIN_ONLY: Expected = {"unrestricted": OK, "read-only": DENIED, "scoped": DENIED, "read-only scoped": DENIED}
EVERYONE: Expected = dict.fromkeys(SECRETS, OK)
# Items: a write names its namespace, so one outside the token's is refused on the request alone.
ITEM_WRITER: Expected = {
    "unrestricted": OK,
    "read-only": READONLY,
    "scoped": (OK, DENIED),
    "read-only scoped": READONLY,
}

COMMAND_ROWS: dict[type[Any], dict[str, Case]] = {
    AddRecords: {
        "add a new record to the target's namespace": Case(
            _add_new,
            {"unrestricted": OK, "read-only": READONLY, "scoped": (OK, DENIED), "read-only scoped": READONLY},
            writes=True,
        ),
        "add reusing the target's id": Case(
            _add_copy,
            {"unrestricted": CONFLICT, "read-only": READONLY, "scoped": CONFLICT, "read-only scoped": READONLY},
        ),
    },
    UpdateRecord: {
        "update": Case(lambda m, t: _done(m.episodes.update(t.episode, task="changed")), WRITER, writes=True),
    },
    DeleteRecord: {
        "delete": Case(lambda m, t: _deleted(m.skills.delete(t.skill)), WRITER, writes=True),
    },
    RecordUse: {
        "record_use": Case(lambda m, t: _done(m.skills.record_use(t.skill, True)), WRITER, writes=True),
    },
    Batch: {
        "batch of an add and an update": Case(_batch, WRITER, writes=True),
    },
    SetQuota: {
        "set the quota": Case(lambda m, t: _done(m.set_max_size(10**9)), ADMIN_ONLY),
        "lift the quota": Case(lambda m, t: _done(m.set_max_size(None)), ADMIN_ONLY),
    },
    Ping: {
        "ping": Case(_ping, EVERYONE),
    },
    # Recording the file's embedder is a write any writing token may make (the first one sets it for
    # all); checking it writes nothing, so every token may. The unrestricted token runs first and records.
    SetEmbedder: {
        "record the embedder": Case(
            lambda m, t: _done(m.execute(SetEmbedder("hash-v1-256-0.5", 256))),
            {"unrestricted": OK, "read-only": READONLY, "scoped": OK, "read-only scoped": READONLY},
        ),
        "check the embedder": Case(
            lambda m, t: _done(m.execute(SetEmbedder("hash-v1-256-0.5", 256, check_only=True))), EVERYONE
        ),
        "record another embedder": Case(
            lambda m, t: _done(m.execute(SetEmbedder("other", 256))),
            {"unrestricted": MISMATCH, "read-only": READONLY, "scoped": MISMATCH, "read-only scoped": READONLY},
        ),
        "check another embedder": Case(
            lambda m, t: _done(m.execute(SetEmbedder("other", 256, check_only=True))), dict.fromkeys(SECRETS, MISMATCH)
        ),
    },
    PutItem: {
        "put over the target's item": Case(
            lambda m, t: _done(m.items.put(*t.item, {"v": 2})), ITEM_WRITER, writes=True
        ),
        "put a new item under the target's namespace": Case(
            lambda m, t: _done(m.items.put((t.namespace,), "new", {"tag": t.tag})), ITEM_WRITER
        ),
    },
    DeleteItem: {
        "delete the target's item": Case(lambda m, t: _deleted(m.items.delete(*t.item)), ITEM_WRITER, writes=True),
        "batch of an item put and delete": Case(_batch_items, ITEM_WRITER, writes=True),
    },
    TouchItems: {
        "refresh the target's item's TTL": Case(_touch, ITEM_WRITER, writes=True),
    },
    SweepItems: {
        "sweep expired items": Case(_sweep, ADMIN_ONLY),
    },
    # It names records by id in any namespace, so only an unrestricted token (what `reindex` uses).
    StoreVectors: {
        "store a record's vector": Case(_store_vector, ADMIN_ONLY),
    },
    # A switch of the file's embedder: as re-embedding, only through an unrestricted token.
    StageVectors: {
        "stage a record's vector for another embedder": Case(_stage_vector, ADMIN_ONLY),
    },
    SwapEmbedder: {
        "swap in another embedder's vectors": Case(_swap_embedder, ADMIN_ONLY),
    },
}

QUERY_ROWS: dict[type[Any], dict[str, Case]] = {
    Get: {
        "get": Case(lambda m, t: _done(m.episodes.get(t.episode)), READER),
        "get_many": Case(lambda m, t: _value(m.episodes.get_many([t.episode, new_id()])), READER),
    },
    GetByName: {
        "get_by_name in the target's namespace": Case(
            lambda m, t: _done(m.skills.get_by_name(t.skill_name, namespace=t.namespace)), NAMED
        ),
    },
    Search: {
        "search by tag, no namespace": Case(lambda m, t: _value(m.episodes.search(tags=[t.tag])), READER),
        "search by text and tag, no namespace": Case(
            lambda m, t: _value(m.episodes.search("plan", tags=[t.tag])), READER
        ),
        "search in the target's namespace": Case(
            lambda m, t: _value(m.episodes.search(tags=[t.tag], namespace=t.namespace)), NAMED
        ),
    },
    Page: {
        "stream by tag, no namespace": Case(lambda m, t: _streamed(m, tags=[t.tag]), READER),
        "stream of the target's namespace": Case(lambda m, t: _streamed(m, namespace=t.namespace), NAMED),
    },
    GetItems: {
        "get the target's item": Case(lambda m, t: _done(m.items.get(*t.item)), READER),
        "get_many of the target's item": Case(lambda m, t: _value(m.items.get_many([t.item, (("x",), "y")])), READER),
        "get without refreshing the TTL": Case(lambda m, t: _done(m.items.get(*t.item, refresh_ttl=False)), READER),
    },
    SearchItems: {
        "search every namespace by a field": Case(
            lambda m, t: _value(m.items.search((), filter={"tag": t.tag})), READER
        ),
        "search under the target's namespace": Case(lambda m, t: _value(m.items.search((t.namespace,))), READER),
        "search by text without refreshing": Case(
            lambda m, t: _value(m.items.search((), query=t.tag.split("-")[1], refresh_ttl=False)), READER
        ),
    },
    ListNamespaces: {
        "list namespaces under the target's": Case(
            lambda m, t: _value(m.items.list_namespaces(prefix=(t.namespace,))), READER
        ),
        "list every namespace": Case(_listed, READER),
    },
    Count: {
        "count by tag, no namespace": Case(lambda m, t: _value(m.skills.count(tags=[t.tag])), READER),
        "count in the target's namespace": Case(lambda m, t: _value(m.episodes.count(namespace=t.namespace)), NAMED),
    },
}

# Neither a command nor a query: what the STATS message answers.
OTHER_ROWS: dict[str, dict[str, Case]] = {
    "statistics": {
        "statistics": Case(
            _statistics,
            {"unrestricted": OK, "read-only": OK, "scoped": REDACTED, "read-only scoped": REDACTED},
        ),
    },
}


def test_every_command_and_query_has_a_row() -> None:
    commands = set(typing.get_args(Command))
    queries = set(typing.get_args(Query))
    # The union types and the wire tables must agree, and each type of them needs a row here.
    assert commands == set(codec._COMMAND_TAGS)
    assert queries == set(payloads._QUERY_TAGS)
    assert set(COMMAND_ROWS) == commands, f"commands without a row: {commands - set(COMMAND_ROWS)}"
    assert set(QUERY_ROWS) == queries, f"queries without a row: {queries - set(QUERY_ROWS)}"
    for cases in [*COMMAND_ROWS.values(), *QUERY_ROWS.values(), *OTHER_ROWS.values()]:
        for name, case in cases.items():
            assert set(case.expected) == set(SECRETS), f"{name}: a token kind has no expectation"


ROWS = {
    **{cls.__name__: cases for cls, cases in COMMAND_ROWS.items()},
    **{cls.__name__: cases for cls, cases in QUERY_ROWS.items()},
    **OTHER_ROWS,
}


@pytest.fixture
async def tcp_server(db_path: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, "tcp://127.0.0.1:0", tokens=TOKENS) as running:
            yield running


async def _seed(admin: memactor.RemoteMemory, namespace: str) -> Target:
    tag = f"tag-{new_id()}"
    episode = await admin.episodes.add(Episode(task="the plan", namespace=namespace, tags=(tag,)))
    name = f"skill-{new_id()}"
    skill = await admin.skills.add(Skill(name=name, namespace=namespace, tags=(tag,)))
    target = Target(namespace, episode, skill, name, tag)
    await admin.items.put(*target.item, {"tag": tag, "text": tag}, ttl=3600)
    return target


async def _snapshot(admin: memactor.RemoteMemory, t: Target) -> Any:
    return (
        await admin.episodes.get_many([t.episode]),
        await admin.skills.get_many([t.skill]),
        await admin.episodes.count(namespace=t.namespace),
        await admin.items.get_many([t.item, ((t.namespace, "sub"), "another")], refresh_ttl=False),
    )


async def _outcome(case: Case, mem: memactor.RemoteMemory, target: Target) -> str:
    try:
        return await case.run(mem, target)
    except memactor.MemactorError as exc:
        return _RAISED.get(type(exc), f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("local_reads", [False, True], ids=["server-reads", "local-reads"])
@pytest.mark.parametrize("row", sorted(ROWS))
async def test_permission_matrix(tcp_server: Server, row: str, local_reads: bool) -> None:
    wrong = []
    async with memactor.connect(tcp_server.url, token=SECRETS["unrestricted"]) as admin:
        await admin.episodes.add(Episode(task="so that statistics have something to count"))
        for token_kind, secret in SECRETS.items():
            async with memactor.connect(tcp_server.url, token=secret, local_reads=local_reads) as mem:
                for name, case in ROWS[row].items():
                    expected = case.expected[token_kind]
                    for index, (where, namespace) in enumerate(TARGETS.items()):
                        want = expected if isinstance(expected, str) else expected[index]
                        target = await _seed(admin, namespace)
                        before = await _snapshot(admin, target)
                        got = await _outcome(case, mem, target)
                        changed = await _snapshot(admin, target) != before
                        if got != want:
                            wrong.append(f"{name} by a {token_kind} token, {where}: expected {want}, got {got}")
                        elif case.writes and changed != (got == OK):
                            wrong.append(f"{name} by a {token_kind} token, {where}: {got}, but changed={changed}")
        await admin.set_max_size(None)
    assert not wrong, "\n".join(wrong)
