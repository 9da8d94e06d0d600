"""The item store's contract: ``mem.items`` put/get/delete/search/list_namespaces, TTL, batches, bad input.

Every test uses only the ``mem`` fixture, so tests/server/test_items_remote.py runs the same ones against
`memactor.connect`. Time is a clock the test controls (`ItemStore` takes one), so no test waits for a TTL.
"""

from __future__ import annotations

from typing import Any

import pytest

import memactor
from memactor import Episode, Item
from memactor.actor.items import ItemStore

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store(mem: Any, clock: Clock | None = None) -> ItemStore:
    return ItemStore(mem, clock or Clock())


async def test_put_get_replace_and_delete(mem: Any) -> None:
    clock = Clock()
    items = store(mem, clock)
    first = await items.put(("users", "u1"), "prefs", {"theme": "dark", "n": [1, {"a": None}]})
    assert isinstance(first, Item)
    assert (first.namespace, first.key, first.version) == (("users", "u1"), "prefs", 1)
    assert first.created_at == first.updated_at == clock.now and first.ttl is None and first.expires_at is None
    got = await items.get(("users", "u1"), "prefs")
    assert got == first and got.value == {"theme": "dark", "n": [1, {"a": None}]}
    with pytest.raises(TypeError):
        got.value["theme"] = "light"  # type: ignore[index]
    clock.now += 5
    second = await items.put(("users", "u1"), "prefs", {"theme": "light"})
    assert (second.version, second.created_at, second.updated_at) == (2, first.created_at, clock.now)
    assert (await items.get(("users", "u1"), "prefs")).value == {"theme": "light"}
    assert await items.delete(("users", "u1"), "prefs") is True
    assert await items.delete(("users", "u1"), "prefs") is False
    with pytest.raises(memactor.NotFoundError):
        await items.get(("users", "u1"), "prefs")


async def test_get_many_keeps_order_and_skips_missing(mem: Any) -> None:
    items = store(mem)
    for key in "abc":
        await items.put(("ns",), key, {"k": key})
    found = await items.get_many([(("ns",), "c"), (("ns",), "zz"), (("ns",), "a"), (("ns",), "c"), (("other",), "a")])
    assert [item.key for item in found] == ["c", "a"]


async def test_expect_version(mem: Any) -> None:
    items = store(mem)
    await items.put(("ns",), "k", {"v": 1}, expect_version=0)
    with pytest.raises(memactor.ConflictError):
        await items.put(("ns",), "k", {"v": 2}, expect_version=0)
    with pytest.raises(memactor.ConflictError):
        await items.put(("ns",), "k", {"v": 2}, expect_version=2)
    assert (await items.put(("ns",), "k", {"v": 2}, expect_version=1)).version == 2
    with pytest.raises(memactor.ConflictError):
        await items.put(("ns",), "absent", {"v": 2}, expect_version=1)
    assert (await items.get(("ns",), "k")).value == {"v": 2}


async def test_search_covers_the_prefix_and_below_only(mem: Any) -> None:
    items = store(mem)
    for ns in [("a",), ("a", "b"), ("a", "b", "c"), ("ab",), ("a-",), ("b", "a")]:
        await items.put(ns, "k", {"ns": list(ns)})
    keys = lambda found: [item.namespace for item in found]  # noqa: E731
    assert keys(await items.search(("a",))) == [("a",), ("a", "b"), ("a", "b", "c")]
    assert keys(await items.search(("a", "b"))) == [("a", "b"), ("a", "b", "c")]
    assert len(await items.search((), limit=100)) == 6
    assert await items.search(("zz",)) == []


async def test_search_order_limit_and_offset(mem: Any) -> None:
    items = store(mem)
    for n in range(5):
        await items.put(("ns", str(n % 2)), f"k{n}", {"n": n})
    await items.put(("ns", "0"), "k0", {"n": 10})  # a replacement keeps its place
    found = await items.search(("ns",), limit=10)
    assert [item.key for item in found] == ["k0", "k1", "k2", "k3", "k4"]
    assert [item.key for item in await items.search(("ns",), limit=2, offset=1)] == ["k1", "k2"]
    assert await items.search(("ns",), offset=5) == []
    # The same paging when Python decides part of the filter (a list operand).
    await items.put(("ns",), "l1", {"tags": ["x", "y"]})
    await items.put(("ns",), "l2", {"tags": ["x", "y"]})
    paged = await items.search(("ns",), filter={"tags": ["x", "y"]}, limit=1, offset=1)
    assert [item.key for item in paged] == ["l2"]


FILTER_DOCS = {
    "int": {"n": 2**53 + 1, "s": "b", "flag": True, "a.b": 1, "list": [1, 2], "obj": {"x": 1, "y": [2]}},
    "float": {"n": 9007199254740992.0, "s": "a", "flag": False, "list": [1, 2, 3], "obj": {"x": 1}},
    "small": {"n": 1, "s": "c", "nested": {"a": {"b": 1}}},
    "text": {"n": "2", "s": "ä", "none": None},
    "bare": {},
}
FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"n": {"$gt": 2**53}}, {"int"}),  # integers compare exactly, never through floats
    ({"n": {"$gte": 2**53}}, {"int", "float"}),
    ({"n": {"$lt": 2}}, {"small"}),
    ({"n": {"$lte": 2**53, "$gt": 1}}, {"float"}),
    ({"n": 2**53 + 1}, {"int"}),
    ({"n": {"$eq": 2**53}}, {"float"}),
    ({"n": {"$ne": 1}}, {"int", "float", "text", "bare"}),  # $ne matches an item lacking the field
    ({"n": "2"}, {"text"}),  # a string is not a number
    ({"s": {"$gt": "a"}}, {"int", "small", "text"}),  # by code point
    ({"s": {"$lt": 1}}, set()),  # a string never compares with a number
    ({"a.b": 1}, {"int"}),  # a dotted key is one literal key
    ({"a": {"b": 1}}, set()),
    ({"flag": True}, {"int"}),
    ({"flag": 1}, {"int"}),  # as Python compares: True == 1
    ({"flag": {"$ne": False}}, {"int", "small", "text", "bare"}),
    ({"list": [1, 2]}, {"int"}),  # lists by value, length included
    ({"list": {"$eq": [1, 2, 3]}}, {"float"}),
    ({"list": {"$ne": [1, 2]}}, {"float", "small", "text", "bare"}),
    ({"obj": {"$eq": {"x": 1}}}, {"float"}),  # $eq: whole value
    ({"obj": {"x": 1}}, {"int", "float"}),  # a plain dict: a subset
    ({"nested": {"a": {"b": 1}}}, {"small"}),
    ({"none": None}, {"int", "float", "small", "text", "bare"}),  # a missing field equals None
    ({"none": {"$ne": None}}, set()),
    ({"s": "ä", "n": "2"}, {"text"}),
    ({}, {"int", "float", "small", "text", "bare"}),
]


@pytest.mark.parametrize(("condition", "expected"), FILTER_CASES, ids=[str(c) for c, _ in FILTER_CASES])
async def test_filters(mem: Any, condition: dict[str, Any], expected: set[str]) -> None:
    items = store(mem)
    for key, value in FILTER_DOCS.items():
        await items.put(("docs",), key, value)
    found = await items.search(("docs",), filter=condition, limit=100)
    assert {item.key for item in found} == expected


@pytest.mark.parametrize(
    "bad",
    [{"n": {"$in": [1]}}, {"n": {"$gt": [1]}}, {"n": {"$gt": None}}, {"n": float("nan")}, {1: 2}, "n"],
    ids=repr,
)
async def test_bad_filters_are_refused(mem: Any, bad: Any) -> None:
    with pytest.raises(memactor.InvalidInputError):
        await store(mem).search(("docs",), filter=bad)


async def test_text_query(mem: Any) -> None:
    items = store(mem)
    await items.put(("notes",), "a", {"body": "the deploy failed on friday", "tags": ["ops"]})
    await items.put(("notes",), "b", {"body": "lunch menu", "more": {"deep": "deploy deploy deploy"}})
    await items.put(("notes",), "c", {"deploy": "keys are not searched"})
    await items.put(("other",), "d", {"body": "deploy elsewhere"})
    found = await items.search(("notes",), query="deploy")
    assert [item.key for item in found] == ["b", "a"]  # best match first
    assert await items.search(("notes",), query='" AND NEAR(') == []
    assert [i.key for i in await items.search(("notes",), query="deploy", filter={"tags": ["ops"]})] == ["a"]
    await items.put(("notes",), "a", {"body": "nothing now"})
    assert [item.key for item in await items.search(("notes",), query="deploy")] == ["b"]
    await items.delete(("notes",), "b")
    assert await items.search(("notes",), query="deploy") == []


async def test_list_namespaces(mem: Any) -> None:
    items = store(mem)
    for ns in [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x"), ("c",)]:
        await items.put(ns, "k", {})
    listed = items.list_namespaces
    assert await listed() == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x"), ("c",)]
    assert await listed(prefix=("a",)) == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2")]
    assert await listed(prefix=("*", "x")) == [("a", "x", "1"), ("b", "x")]
    assert await listed(suffix=("1",)) == [("a", "x", "1"), ("a", "y", "1")]
    assert await listed(suffix=("x",)) == [("b", "x")]
    assert await listed(prefix=("a",), suffix=("*", "2")) == [("a", "y", "2")]
    assert await listed(max_depth=2) == [("a", "x"), ("a", "y"), ("b", "x"), ("c",)]
    assert await listed(max_depth=1, limit=2, offset=1) == [("b",), ("c",)]
    await items.delete(("c",), "k")
    assert ("c",) not in await listed()


async def test_ttl_expiry_hides_at_once_and_reads_refresh(mem: Any) -> None:
    clock = Clock()
    items = store(mem, clock)
    put = await items.put(("s",), "k", {"v": 1}, ttl=10)
    assert (put.ttl, put.expires_at) == (10.0, clock.now + 10)
    await items.put(("s",), "forever", {"v": 2})
    clock.now += 8
    assert (await items.get(("s",), "k")).value == {"v": 1}  # refreshes: expires at +18 now
    await items.put(("s",), "barrier", {})  # the refresh was queued before this write: committed by now
    clock.now += 8
    assert (await items.get(("s",), "k", refresh_ttl=False)).expires_at == clock.now - 16 + 8 + 10
    await items.put(("s",), "barrier", {})
    clock.now += 5  # past the refreshed expiry: the read without refresh did not push it back
    with pytest.raises(memactor.NotFoundError):
        await items.get(("s",), "k")
    assert [item.key for item in await items.search(("s",))] == ["forever", "barrier"]
    assert await items.delete(("s",), "k") is False  # an expired item does not exist
    again = await items.put(("s",), "k", {"v": 3})  # a put where an item expired starts afresh
    assert (again.version, again.created_at, again.ttl) == (1, clock.now, None)


async def test_search_refreshes_ttl_and_expired_namespaces_vanish(mem: Any) -> None:
    clock = Clock()
    items = store(mem, clock)
    await items.put(("t", "a"), "k", {"v": 1}, ttl=10)
    await items.put(("t", "b"), "k", {"v": 1}, ttl=10)
    clock.now += 9
    assert len(await items.search(("t", "a"))) == 1
    await items.put(("t",), "barrier", {})
    clock.now += 9
    assert await items.list_namespaces(prefix=("t",)) == [("t",), ("t", "a")]
    assert [item.namespace for item in await items.search(("t",))] == [("t", "a"), ("t",)]


async def test_batch_of_items_is_atomic(mem: Any) -> None:
    items = store(mem)
    await items.put(("b",), "exists", {"v": 1})
    with pytest.raises(memactor.ConflictError):
        async with mem.batch() as b:
            b.episodes.add(Episode(task="in the failing batch"))
            b.items.put(("b",), "new", {"v": 1})
            b.items.delete(("b",), "exists")
            b.items.put(("b",), "exists", {"v": 2}, expect_version=7)
    assert await items.get_many([(("b",), "new")]) == []
    assert (await items.get(("b",), "exists")).value == {"v": 1}
    assert await mem.episodes.count() == 0
    async with mem.batch() as b:
        b.items.put(("b",), "new", {"v": 1})
        b.items.delete(("b",), "exists")
        b.items.put(("b",), "new", {"v": 2})  # the last put to a key wins
    first, deleted, last = b.results
    assert (first.version, deleted, last.version, last.value) == (1, True, 2, {"v": 2})
    assert [item.key for item in await items.search(("b",))] == ["new"]


BAD_PUTS: list[tuple[Any, Any, Any, dict[str, Any]]] = [
    ((), "k", {}, {}),
    (("a.b",), "k", {}, {}),
    (("",), "k", {}, {}),
    (("*",), "k", {}, {}),
    ("abc", "k", {}, {}),
    ((1,), "k", {}, {}),
    (("a",) * 33, "k", {}, {}),
    (("a",), 1, {}, {}),
    (("a",), "", {}, {}),
    (("a",), "\ud800", {}, {}),
    (("a",), "k", {"x": float("nan")}, {}),
    (("a",), "k", {"x": 2**64}, {}),
    (("a",), "k", {1: "x"}, {}),
    (("a",), "k", [1], {}),
    (("a",), "k", {"x": {1, 2}}, {}),
    (("a",), "k", {}, {"ttl": 0}),
    (("a",), "k", {}, {"ttl": float("inf")}),
    (("a",), "k", {}, {"expect_version": -1}),
]


@pytest.mark.parametrize(("namespace", "key", "value", "options"), BAD_PUTS, ids=repr)
async def test_bad_input_is_refused_and_the_writer_goes_on(
    mem: Any, namespace: Any, key: Any, value: Any, options: dict[str, Any]
) -> None:
    items = store(mem)
    with pytest.raises(memactor.InvalidInputError):
        await items.put(namespace, key, value, **options)
    assert (await items.put(("a",), "after", {"ok": True})).version == 1


async def test_a_huge_value_is_refused_by_the_writer_which_goes_on(mem: Any) -> None:
    items = store(mem)
    piece = "x" * (6 * 1024 * 1024)
    with pytest.raises(memactor.InvalidInputError, match="limit"):
        await items.put(("big",), "k", {"a": piece, "b": piece, "c": piece})
    assert await items.get_many([(("big",), "k")]) == []
    assert (await items.put(("big",), "small", {"a": "x"})).version == 1


async def test_bad_reads_are_refused(mem: Any) -> None:
    items = store(mem)
    for call in [
        items.get(("a.b",), "k"),
        items.get_many("ab"),
        items.search(("a",), limit=0),
        items.search(("a",), offset=-1),
        items.list_namespaces(prefix=("a.b",)),
        items.list_namespaces(max_depth=0),
    ]:
        with pytest.raises(memactor.InvalidInputError):
            await call
