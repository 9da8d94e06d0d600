"""Fixed cases for each rule MemactorStore shares with LangGraph's InMemoryStore, and its intended differences."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph")

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

import memactor
from memactor.errors import ClosedError, InvalidInputError
from memactor.langgraph import IndexUnsupportedError, MemactorStore, SyncCallInLoopError

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[MemactorStore]:
    async with MemactorStore.from_path(db_path, durability="normal") as opened:
        yield opened


def _error(call: object) -> tuple[type[BaseException], str]:
    try:
        call()  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - returned for comparison
        return type(exc), str(exc)
    raise AssertionError("no error")


@pytest.mark.parametrize("label", ["a.b", "", "x\x00y", 7])
async def test_namespace_labels_are_refused_as_langgraph_refuses_them(store: MemactorStore, label: object) -> None:
    namespace = ("ok", label)
    reference = InMemoryStore()
    expected = _error(lambda: reference.get(namespace, "k"))  # type: ignore[arg-type]
    assert expected[0] is InvalidNamespaceError
    for op in (GetOp(namespace, "k"), SearchOp(namespace), PutOp(namespace, "k", {"v": 1})):  # type: ignore[arg-type]
        with pytest.raises(InvalidNamespaceError) as raised:
            await store.abatch([op])
        assert str(raised.value) == expected[1]
    condition = MatchCondition("prefix", namespace)  # type: ignore[arg-type]
    with pytest.raises(InvalidNamespaceError):
        await store.abatch([ListNamespacesOp((condition,))])


async def test_puts_refuse_an_empty_namespace_and_the_langgraph_root(store: MemactorStore) -> None:
    reference = InMemoryStore()
    for namespace in [(), ("langgraph", "x")]:
        expected = _error(lambda: reference.put(namespace, "k", {"v": 1}))  # noqa: B023
        with pytest.raises(InvalidNamespaceError) as raised:
            await store.aput(namespace, "k", {"v": 1})
        assert (type(raised.value), str(raised.value)) == expected
    with pytest.raises(InvalidNamespaceError, match="Namespace cannot be empty"):
        await store.abatch([PutOp((), "k", {"v": 1})])


async def test_filters(store: MemactorStore) -> None:
    values = {
        "a": {"n": 2**53 + 1, "tag": "x", "x.y": 1, "l": [1, {"p": 2}], "d": {"p": 1, "q": [2]}},
        "b": {"n": 2**53, "tag": "y", "l": [1, {"p": 3}], "d": {"p": 1}},
        "c": {"n": 1.5},
    }
    for key, value in values.items():
        await store.aput(("f",), key, value)

    async def keys(filter: dict[str, object]) -> list[str]:  # noqa: A002
        return [item.key for item in await store.asearch(("f",), filter=filter)]

    assert await keys({"tag": {"$ne": "x"}}) == ["b", "c"]  # $ne matches an item lacking the field
    assert await keys({"x.y": 1}) == ["a"]  # a dotted key is one literal key
    assert await keys({"n": {"$gt": 2**53}}) == ["a"]  # integers compare exactly
    assert await keys({"n": {"$lte": 2**53}}) == ["b", "c"]
    assert await keys({"l": [1, {"p": 2}]}) == ["a"]  # lists by value, element by element
    assert await keys({"d": {"p": 1}}) == ["a", "b"]  # dicts as subsets, by value
    assert await keys({"n": {"$gte": 1, "$lt": 2}}) == ["c"]
    assert await keys({"tag": {"$eq": "y"}, "n": 2**53}) == ["b"]


def test_in_memory_store_compares_integers_through_floats() -> None:
    """Why exact comparison is an intended difference: InMemoryStore rounds 2**53 + 1 to 2**53."""
    reference = InMemoryStore()
    reference.put(("f",), "a", {"n": 2**53 + 1})
    assert reference.search(("f",), filter={"n": {"$gt": 2**53}}) == []


async def test_reads_come_before_writes_and_the_last_put_wins(store: MemactorStore) -> None:
    await store.aput(("b",), "k", {"v": 0})
    ops = [
        PutOp(("b",), "k", {"v": 1}),
        GetOp(("b",), "k"),
        SearchOp(("b",)),
        PutOp(("b",), "k", {"v": 2}),
        PutOp(("b",), "gone", {"v": 9}),
        PutOp(("b",), "gone", None),
        ListNamespacesOp(),
    ]
    for target in (InMemoryStore(), store):
        if isinstance(target, InMemoryStore):
            target.put(("b",), "k", {"v": 0})
        results = await target.abatch(ops)
        assert results[1] is not None and results[1].value == {"v": 0}
        assert [item.value for item in results[2]] == [{"v": 0}]
        assert results[6] == [("b",)]
        assert (await target.aget(("b",), "k")).value == {"v": 2}  # type: ignore[union-attr]
        assert await target.aget(("b",), "gone") is None


async def test_a_bad_op_fails_the_whole_batch_and_writes_nothing(store: MemactorStore) -> None:
    with pytest.raises(InvalidInputError):
        await store.abatch([PutOp(("z",), "ok", {"v": 1}), PutOp(("z",), "bad", {"v": math.nan})])
    assert await store.asearch(("z",)) == []


async def test_value_none_deletes_and_delete_of_nothing_is_fine(store: MemactorStore) -> None:
    await store.aput(("d",), "k", {"v": 1})
    await store.adelete(("d",), "k")
    await store.adelete(("d",), "never")
    assert await store.aget(("d",), "k") is None
    assert await store.alist_namespaces() == []


async def test_list_namespaces_matches_in_memory_store(store: MemactorStore) -> None:
    reference = InMemoryStore()
    spaces = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f"), ("x",)]
    for namespace in spaces:
        reference.put(namespace, "k", {"v": 1})
        await store.aput(namespace, "k", {"v": 1})
    cases: list[dict[str, object]] = [
        {},
        {"prefix": ("a", "b"), "max_depth": 3},
        {"suffix": ("f",)},
        {"prefix": ("a", "*"), "suffix": ("*", "f")},
        {"prefix": ("*", "b", "*")},
        {"max_depth": 1},
        {"max_depth": 2, "limit": 1, "offset": 1},
        {"limit": 2, "offset": 3},
        {"prefix": ("nothing",)},
    ]
    for case in cases:
        assert await store.alist_namespaces(**case) == reference.list_namespaces(**case), case  # type: ignore[arg-type]
    both = ListNamespacesOp((MatchCondition("prefix", ("a", "*")), MatchCondition("prefix", ("*", "b"))))
    assert (await store.abatch([both]))[0] == reference.batch([both])[0]


async def test_times_are_aware_and_created_at_survives_a_replacement(store: MemactorStore) -> None:
    await store.aput(("t",), "k", {"v": 1})
    first = await store.aget(("t",), "k")
    await asyncio.sleep(0.01)
    await store.aput(("t",), "k", {"v": 2})
    second = await store.aget(("t",), "k")
    assert first is not None and second is not None
    for when in (first.created_at, first.updated_at, second.created_at, second.updated_at):
        assert when.tzinfo is not None and when.utcoffset() is not None
    assert second.created_at == first.created_at < second.updated_at


async def test_ttl_in_minutes_default_and_refresh_on_read(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        store = MemactorStore(mem, ttl={"default_ttl": 2.0, "refresh_on_read": True})
        assert store.supports_ttl
        await store.aput(("ttl",), "default", {"v": 1})
        await store.aput(("ttl",), "own", {"v": 1}, ttl=0.5)
        await store.aput(("ttl",), "none", {"v": 1}, ttl=None)
        stored = {key: await mem.items.get(("ttl",), key, refresh_ttl=False) for key in ("default", "own", "none")}
        assert stored["default"].ttl == 120.0 and stored["own"].ttl == 30.0 and stored["none"].ttl is None
        before = stored["own"].expires_at
        assert before is not None
        await asyncio.sleep(0.05)
        await store.aget(("ttl",), "own")  # refreshes: the writer pushes expires_at back
        for _ in range(500):
            after = (await mem.items.get(("ttl",), "own", refresh_ttl=False)).expires_at
            if after is not None and after > before:
                break
            await asyncio.sleep(0.01)
        assert after is not None and after > before
        await store.aput(("ttl",), "brief", {"v": 1}, ttl=0.001)  # 60 ms
        await asyncio.sleep(0.2)
        assert await store.aget(("ttl",), "brief") is None
        assert [item.key for item in await store.asearch(("ttl",))] == ["default", "own", "none"]


async def test_no_refresh_when_the_config_says_so(db_path: Path) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        store = MemactorStore(mem, ttl={"refresh_on_read": False})
        await store.aput(("ttl",), "k", {"v": 1}, ttl=1.0)
        before = (await mem.items.get(("ttl",), "k", refresh_ttl=False)).expires_at
        await asyncio.sleep(0.02)
        await store.aget(("ttl",), "k")
        await store.asearch(("ttl",))
        await mem.items.put(("other",), "flush", {"v": 1})  # a write after any queued refresh has committed
        assert (await mem.items.get(("ttl",), "k", refresh_ttl=False)).expires_at == before


async def test_index_is_refused_with_a_typed_error(db_path: Path) -> None:
    index = {"dims": 3, "embed": lambda texts: [[0.0, 0.0, 1.0] for _ in texts]}
    with pytest.raises(IndexUnsupportedError, match="index="):
        MemactorStore.from_path(db_path, index=index)  # type: ignore[arg-type]
    async with memactor.open(db_path) as mem:
        with pytest.raises(IndexUnsupportedError):
            MemactorStore(mem, index=index)  # type: ignore[arg-type]


async def test_a_query_without_an_index_is_ignored_as_in_memory_store_does(store: MemactorStore) -> None:
    reference = InMemoryStore()
    for target in (reference, store):
        await target.aput(("q",), "a", {"text": "apples"})
        await target.aput(("q",), "b", {"text": "pears"})
        found = await target.asearch(("q",), query="apples")
        assert [item.key for item in found] == ["a", "b"]
        assert all(item.score is None for item in found)


async def test_sync_calls_from_threads_work_and_on_the_loop_are_refused(store: MemactorStore) -> None:
    def worker(number: int) -> None:
        for index in range(20):
            store.put(("threads", str(number)), str(index), {"i": index})
            assert store.get(("threads", str(number)), str(index)) is not None

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    assert len(await store.asearch(("threads",), limit=100)) == 80
    with pytest.raises(SyncCallInLoopError, match="async methods"):
        store.get(("threads", "0"), "0")


def test_a_store_with_its_own_thread_works_from_any_loop_and_thread(db_path: Path) -> None:
    with MemactorStore.from_path(db_path) as store:
        store.put(("own",), "k", {"v": 1})

        async def on_another_loop() -> object:
            store.put(("own",), "sync-in-loop", {"v": 2})  # allowed: the store's loop is elsewhere
            return await store.aget(("own",), "k")

        assert asyncio.run(on_another_loop()) is not None
    with pytest.raises(ClosedError):
        store.get(("own",), "k")
