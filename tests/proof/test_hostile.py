"""Hostile input: well over 500 inputs per run, hand-picked and generated, into every argument of every
store method, into records, and as raw msgpack frames (through `memactor.codec.decode` and through the
writer via `Memory.execute_encoded`). Each gets a typed memactor error or a correct answer; after each, the
writer answers a probe within 2 s and another agent's data is unchanged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgpack

import memactor
from memactor import CodecError, Episode, Fact, InvalidInputError, MemactorError, NotFoundError, Skill, codec
from memactor.model.commands import AddRecords, DeleteRecord, Ping, RecordUse, UpdateRecord

FTS = [
    '"',
    '"unbalanced',
    "NEAR(",
    "NEAR(a b, 2)",
    "*",
    "a*",
    "AND",
    "OR",
    "NOT",
    "-",
    "-x",
    "^",
    "^x",
    "task:x",
    "{task outcome}: x",
    "(",
    ")",
    "a + b",
    "x:",
    "'",
    "''",
]
SQL = [
    "' OR 1=1 --",
    "'; DROP TABLE episodes; --",
    '" OR ""="',
    "1; SELECT * FROM sqlite_master",
    "%",
    "_",
    "\\",
    "/*",
    "*/",
    "NULL",
    "?",
    ":id",
    ":f_namespace",
    "@x",
    "$x",
    "; ATTACH DATABASE 'x.db' AS y; --",
    "')) --",
    "victim' OR namespace != '",
    "1=1",
    "json_each(tags)",
]
CONTROL = [
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\r\n",
    "\u202e",
    "\ufeff",
    "\x7f",
    "".join(map(chr, range(1, 32))),
    "\U0001f600",
    "\u0301",
    "  ",
    "",
]
SURROGATES = ["\ud800", "a\udfffb", "\udbff\udc00\ud800"]
HOSTILE_TEXT = FTS + SQL + CONTROL + SURROGATES
HUGE = "x" * (50 * 1024 * 1024)
HOSTILE_VALUES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    2**64,
    -(2**63) - 1,
    10**30,
    True,
    "1",
    None,
    [],
    {},
    object(),
    b"x",
    -1,
    0,
    1e308,
    -0.0,
]
BAD_IDS: list[Any] = [
    "",
    "x" * 129,
    "has space",
    "ünïcode",
    "../etc",
    "a\x00b",
    "id'--",
    'id"',
    "a\nb",
    7,
    None,
    b"id",
    ["x"],
    "\ud800",
]
VICTIM_NS = "victim"


def nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": [value]}
    return value


class Harness:
    """Runs one hostile input at a time and checks the memory afterwards."""

    def __init__(self, mem: Any) -> None:
        self.mem = mem
        self.count = 0
        self.failures: list[str] = []
        self.victim: list[Any] = []

    async def snapshot(self) -> list[Any]:
        records: list[Any] = []
        for store in (self.mem.episodes, self.mem.facts, self.mem.skills):
            async for page in store.stream(namespace=VICTIM_NS):
                records.extend(page)
        return records

    async def attempt(self, label: str, action: Callable[[], Any], check: Callable[[Any], bool] | None = None) -> None:
        """Run ``action`` (sync or async); it must raise a memactor error or return an answer ``check`` accepts."""
        self.count += 1
        try:
            result = action()
            if hasattr(result, "__await__"):
                result = await result
            if check is not None and not check(result):
                self.failures.append(f"{label}: wrong answer {str(result)[:200]}")
        except MemactorError:
            pass
        except Exception as exc:  # noqa: BLE001 - an untyped error is the finding
            self.failures.append(f"{label}: untyped {type(exc).__name__}: {str(exc)[:200]}")
        try:
            with anyio.fail_after(2):  # the liveness bound: the actor answers a probe at once
                await self.mem.execute(Ping())
            after = await self.snapshot()
        except Exception as exc:
            self.failures.append(f"{label}: probe failed afterwards: {exc!r}")
            raise AssertionError("\n".join(self.failures[:20])) from exc
        if after != self.victim:
            self.failures.append(f"{label}: the victim's data changed")
            self.victim = after


async def records_and_arguments(h: Harness, zebra: dict[str, str]) -> None:
    mem = h.mem
    stores = {"episode": mem.episodes, "fact": mem.facts, "skill": mem.skills}
    texts: list[Any] = [*HOSTILE_TEXT, HUGE, 16 * 1024 * 1024 * "y" + "y"]
    # Hostile text in every query argument and filter: answers are lists that only hold what matches.
    for value in [*HOSTILE_TEXT, HUGE]:
        for kind, store in stores.items():
            word = "zebra"
            await h.attempt(
                f"{kind}.search({value[:30]!r} zebra)",
                lambda store=store, value=value, word=word: store.search(f"{value} {word}", namespace="probe"),
                lambda hits, kind=kind: zebra[kind] in {hit.record.id for hit in hits},
            )
            for name in ("namespace", "agent_id", "tags"):
                arg = (value,) if name == "tags" else value
                empty = lambda result: result in ([], 0)  # noqa: E731 - no record has such a value
                await h.attempt(
                    f"{kind}.search({name}={value[:30]!r})",
                    lambda s=store, n=name, a=arg: s.search(None, **{n: a}),
                    empty,
                )
                await h.attempt(
                    f"{kind}.count({name}={value[:30]!r})", lambda s=store, n=name, a=arg: s.count(**{n: a}), empty
                )
        await h.attempt(f"skills.get_by_name({value[:30]!r})", lambda v=value: mem.skills.get_by_name(v))
        await h.attempt(
            f"skills.search(name={value[:30]!r})", lambda v=value: mem.skills.search(None, name=v), lambda r: r == []
        )
        await h.attempt(
            f"skills.get_by_name(ns={value[:30]!r})", lambda v=value: mem.skills.get_by_name("zebra", namespace=v)
        )
    # Text into every text field of every record kind, then added; if accepted it must read back equal.
    # (after the queries above, which expect no record to carry these values yet)
    builders: dict[str, Callable[[Any], Any]] = {
        "episode.task": lambda v: Episode(task=v, namespace="hostile"),
        "episode.outcome": lambda v: Episode(task="t", outcome=v, namespace="hostile"),
        "episode.steps": lambda v: Episode(task="t", steps=(v, v), namespace="hostile"),
        "episode.tags": lambda v: Episode(task="t", tags=(v,), namespace="hostile"),
        "episode.agent_id": lambda v: Episode(task="t", agent_id=v, namespace="hostile"),
        "episode.namespace": lambda v: Episode(task="t", namespace=v),
        "fact.content": lambda v: Fact(content=v, namespace="hostile"),
        "fact.metadata value": lambda v: Fact(content="c", metadata={"k": v}, namespace="hostile"),
        "fact.metadata key": lambda v: Fact(content="c", metadata={v: [v]}, namespace="hostile"),
        "skill.name": lambda v: Skill(name=v, namespace="hostile"),
        "skill.description": lambda v: Skill(name="n" + str(random.random()), description=v, namespace="hostile"),
        "skill.code": lambda v: Skill(name="c" + str(random.random()), code=v, namespace="hostile"),
    }
    for place, build in builders.items():
        for value in texts:
            if value is HUGE and place not in ("episode.task", "fact.metadata value", "skill.code"):
                continue

            async def add_and_read(place: str = place, value: Any = value, build: Callable[[Any], Any] = build) -> bool:
                record = build(value)
                store = stores[place.split(".")[0]]
                if record.namespace == VICTIM_NS:
                    return True
                record_id = await store.add(record)
                return (await store.get(record_id)).user_fields() == record.user_fields()

            await h.attempt(f"{place} <- {value[:30]!r}", add_and_read, bool)
    # Bad ids everywhere an id goes.
    for bad in BAD_IDS:
        for kind, store in stores.items():
            await h.attempt(f"{kind}.get({bad!r:.30})", lambda s=store, b=bad: s.get(b))
            await h.attempt(f"{kind}.delete({bad!r:.30})", lambda s=store, b=bad: s.delete(b))
            await h.attempt(f"{kind}.update({bad!r:.30})", lambda s=store, b=bad: s.update(b, tags=("x",)))
            await h.attempt(
                f"{kind}.get_many([{bad!r:.30}])", lambda s=store, b=bad: s.get_many([b]), lambda r: r == []
            )
        await h.attempt(f"record_use({bad!r:.30})", lambda b=bad: mem.skills.record_use(b, True))
        await h.attempt(f"Episode(id={bad!r:.30})", lambda b=bad: mem.episodes.add(Episode(id=b, task="t")))
        await h.attempt(
            f"Fact(sources={bad!r:.30})", lambda b=bad: mem.facts.add(Fact(content="c", source_episode_ids=(b,)))
        )
    # Non-text hostile values into every numeric, boolean and structural argument.
    numeric: dict[str, Callable[[Any], Any]] = {
        "reward": lambda v: mem.episodes.add(Episode(task="t", reward=v, namespace="hostile")),
        "importance": lambda v: mem.episodes.add(Episode(task="t", importance=v, namespace="hostile")),
        "success": lambda v: mem.episodes.add(Episode(task="t", success=v, namespace="hostile")),
        "confidence": lambda v: mem.facts.add(Fact(content="c", confidence=v, namespace="hostile")),
        "created_at": lambda v: mem.facts.add(Fact(content="c", created_at=v, namespace="hostile")),
        "version": lambda v: mem.facts.add(Fact(content="c", version=v, namespace="hostile")),
        "uses": lambda v: mem.skills.add(Skill(name=f"u{random.random()}", uses=v, namespace="hostile")),
        "metadata": lambda v: mem.facts.add(Fact(content="c", metadata=v, namespace="hostile")),
        "metadata value": lambda v: mem.facts.add(Fact(content="c", metadata={"v": v}, namespace="hostile")),
        "tags": lambda v: mem.facts.add(Fact(content="c", tags=v, namespace="hostile")),
        "limit": lambda v: mem.facts.search("zebra", limit=v),
        "batch_size": lambda v: _drain(mem.facts.stream(batch_size=v)),
        "since": lambda v: mem.facts.count(since=v),
        "until": lambda v: mem.facts.search(None, until=v),
        "min_confidence": lambda v: mem.facts.count(min_confidence=v),
        "success filter": lambda v: mem.episodes.count(success=v),
        "expect_version": lambda v: mem.facts.update(zebra["fact"], expect_version=v, content="zebra probe"),
        "record_use success": lambda v: mem.skills.record_use(zebra["skill"], v),
        "weights": lambda v: mem.facts.search("zebra", weights=memactor.SearchWeights(relevance=v)),
        "add": lambda v: mem.episodes.add(v),
        "add_many": lambda v: mem.episodes.add_many(v),
        "get_many": lambda v: mem.episodes.get_many(v),
        "query": lambda v: mem.episodes.search(v),
        "namespace filter": lambda v: mem.episodes.count(namespace=v),
    }
    for place, call in numeric.items():
        for value in HOSTILE_VALUES:
            await h.attempt(f"{place} <- {value!r:.30}", lambda c=call, v=value: c(v))
    for depth in (31, 33, 100, 5000):
        await h.attempt(
            f"metadata depth {depth}",
            lambda d=depth: mem.facts.add(Fact(content="c", metadata=nest(d), namespace="hostile")),
        )
    # Wrong record types and missing fields.
    # A missing required argument is Python's own call error (TypeError), raised before memactor runs at all.
    await h.attempt("Episode() missing task", lambda: _call_error(lambda: Episode()))  # type: ignore[call-arg]
    await h.attempt("Skill() missing name", lambda: _call_error(lambda: Skill(description="d")))  # type: ignore[call-arg]
    await h.attempt("Fact into episodes", lambda: mem.episodes.add(Fact(content="c")))
    await h.attempt("dict into facts", lambda: mem.facts.add({"content": "c"}))
    await h.attempt("unknown update field", lambda: mem.facts.update(zebra["fact"], nonsense=1))
    await h.attempt("update a system field", lambda: mem.facts.update(zebra["fact"], version=99))
    await h.attempt("update created_at", lambda: mem.facts.update(zebra["fact"], created_at=1.0))
    await h.attempt("update without changes", lambda: mem.facts.update(zebra["fact"]))
    await h.attempt("unknown filter", lambda: mem.facts.count(success=True))
    await h.attempt("unknown filter 2", lambda: mem.facts.search(None, **{"1=1; --": 1}))


def _call_error(build: Callable[[], Any]) -> None:
    try:
        build()
    except TypeError as exc:
        assert "missing" in str(exc)
        return
    raise AssertionError("a record without its required text was built")


async def _drain(stream: Any) -> list[Any]:
    return [page async for page in stream]


async def poisoned(h: Harness) -> None:
    """Records changed behind their checks (``object.__setattr__``: ordinary changes raise TypeError now),
    sent as trusted in-process frames: each fails alone with a typed error, or is stored and reads back."""
    mem = h.mem
    fields = ["metadata", "tags", "steps", "created_at", "importance", "reward", "task", "namespace", "success"]
    values: list[Any] = [*HOSTILE_VALUES, {"s": math.nan}, {"a": [1, {"b": math.inf}]}, {"d": nest(60)}, (1,)]
    for field in fields:
        for value in values:
            record = Episode(task="poisoned", namespace="hostile")
            object.__setattr__(record, field, value)

            async def add(record: Episode = record, many: bool = False) -> bool:
                if many:
                    await mem.episodes.add_many([Episode(task="ok", namespace="hostile"), record])
                else:
                    await mem.episodes.add(record)
                await mem.episodes.get(record.id)  # what was stored reads back
                return True

            await h.attempt(f"poisoned {field} <- {value!r:.30}", add, bool)
            await h.attempt(f"poisoned add_many {field} <- {value!r:.30}", lambda a=add: a(many=True), bool)


def raw_frames(rng: random.Random) -> list[bytes]:
    """Truncated, unknown-tag, wrongly typed and random msgpack frames."""
    valid = [
        codec.encode(AddRecords((Episode(task="raw", namespace="hostile"), Fact(content="raw", namespace="hostile")))),
        codec.encode(UpdateRecord("fact", "raw-missing", {"content": "x"}, 3, 1.0)),
        codec.encode(DeleteRecord("skill", "raw-missing")),
        codec.encode(RecordUse("raw-missing", True, 1.0)),
        codec.encode(Ping()),
    ]
    frames = [f[:cut] for f in valid for cut in range(0, len(f), max(1, len(f) // 12))]
    frames += [msgpack.packb([tag]) for tag in (0, 8, 99, -1, 2**64 - 1, 2**63)]
    frames += [msgpack.packb([t, 1]) for t in ("1", None, True, 1.5, [1])]
    for tag in (1, 2, 3, 4, 5, 7):
        for value in [
            math.nan,
            math.inf,
            2**64 - 1,
            -(2**63),
            "x",
            b"x",
            None,
            True,
            [],
            {},
            {"a": 1},
            [[9, 1]],
            "\x00",
            [[1, *(["x"] * 14)]],
            [[3] + [None] * 20],
        ]:
            frames.append(msgpack.packb([tag, value], use_bin_type=True))
            frames.append(msgpack.packb([tag, value, value, value, value, value], use_bin_type=True))
    frames += [
        b"\x91" * 100_000 + b"\xc0",
        b"\x81" * 1000,
        b"\xc1",
        b"",
        b"\xdd\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
    ]
    frames.append(msgpack.packb([1, [[1, "id", "ns", None, [], {}, None, None, 0, "t" * (17 * 1024 * 1024)]]]))
    frames.append(valid[0] + b"\x00")
    for _ in range(150):
        frame = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
        frames.append(bytes(frame))
    frames += [rng.randbytes(rng.randint(1, 40)) for _ in range(50)]
    return frames


async def raw(h: Harness, rng: random.Random) -> None:
    for frame in raw_frames(rng):
        label = f"raw frame {frame[:24]!r}"
        try:
            command = codec.decode(frame)
        except CodecError:
            command = None
        except Exception as exc:  # noqa: BLE001
            h.failures.append(f"{label}: decode raised untyped {exc!r}")
            continue
        if command is not None and (type(command).__name__ == "SetQuota" or VICTIM_NS in repr(command)):
            continue  # a legitimate command that would change the quota or the victim: not hostile input

        async def send(frame: bytes = frame, command: Any = command) -> bool:
            try:
                await h.mem.execute_encoded(frame)
            except CodecError:
                return command is None
            except (NotFoundError, InvalidInputError, MemactorError):
                return command is not None
            return command is not None

        await h.attempt(label, send, bool)


def test_hostile_inputs(tmp_path: Path) -> None:
    rng = random.Random(1234)

    async def main() -> None:
        async with memactor.open(str(tmp_path / "hostile.db")) as mem:
            h = Harness(mem)
            zebra = {
                "episode": await mem.episodes.add(Episode(task="zebra crossing", namespace="probe")),
                "fact": await mem.facts.add(Fact(content="zebra stripes", namespace="probe")),
                "skill": await mem.skills.add(Skill(name="zebra", namespace="probe")),
            }
            await mem.episodes.add_many(
                [
                    Episode(task=f"victim {i}", agent_id="victim", namespace=VICTIM_NS, metadata={"i": i})
                    for i in range(20)
                ]
            )
            await mem.facts.add(Fact(content="victim fact", namespace=VICTIM_NS, tags=("keep",)))
            await mem.skills.add(Skill(name="victim skill", namespace=VICTIM_NS))
            h.victim = await h.snapshot()
            await records_and_arguments(h, zebra)
            await poisoned(h)
            await raw(h, rng)
            assert h.count >= 500, f"only {h.count} hostile inputs"
            assert not h.failures, f"{len(h.failures)} of {h.count} inputs mishandled:\n" + "\n".join(h.failures[:40])

    anyio.run(main)
