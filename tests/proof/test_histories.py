"""Concurrency histories: 200 agents mix adds, batches, reads, searches, updates and ``record_use`` for a
bounded time (``MEMACTOR_HISTORY_SECONDS``, 5 s by default); every call's start, end and result is
recorded and the history is checked afterwards:

- no stale read: a write acknowledged before a read began is visible to it (by id, count and search);
- no phantom: a write that failed (a batch failing part-way) is never visible, not even in part;
- no lost update: skill counters equal the successful ``record_use`` calls, and a read-modify-write
  counter with ``expect_version`` equals its successful updates;
- every acknowledged write is present, intact, after reopening;
- no unexpected error at all (no "database is locked"); the mailbox never holds more than its bound.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

import memactor
from memactor import ConflictError, Episode, Fact, NotFoundError, Skill

AGENTS = int(os.environ.get("MEMACTOR_HISTORY_AGENTS", "200"))
SECONDS = float(os.environ.get("MEMACTOR_HISTORY_SECONDS", "5"))
MAX_PENDING = 32  # well below the number of agents, so backpressure is exercised
SKILLS = 4


@dataclass
class Call:
    """One call of the history."""

    agent: int
    op: str
    start: float
    end: float = 0.0
    args: Any = None
    result: Any = None
    error: BaseException | None = None


@dataclass
class History:
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # id -> (time its add was acknowledged, the record as sent)
    acked: dict[str, tuple[float, Any]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # id -> when its add began
    phantoms: set[str] = field(default_factory=set)  # ids of writes that failed
    depth_samples: list[int] = field(default_factory=list)

    async def run(
        self, agent: int, op: str, args: Any, coro: Any, expected: tuple[type[BaseException], ...] = ()
    ) -> Call:
        call = Call(agent, op, time.monotonic(), args=args)
        try:
            call.result = await coro
        except expected as exc:
            call.error = exc
        except Exception as exc:  # noqa: BLE001 - every unexpected error is a finding, recorded with its call
            call.error = exc
            self.problems.append(f"agent {agent} {op}{args!r}: unexpected {exc!r}")
        call.end = time.monotonic()
        self.calls.append(call)
        return call


async def agent_loop(mem: Any, agent: int, history: History, deadline: float, shared: dict[str, Any]) -> None:
    rng = random.Random(agent)
    me = f"agent-{agent}"
    mine: list[str] = []
    n = 0
    while time.monotonic() < deadline:
        roll = rng.random()
        n += 1
        token = f"tok{agent}x{n}"
        if roll < 0.25:
            record = Episode(agent_id=me, task=f"task {token}", steps=("a", "b"), outcome="ok", success=True)
            history.started[record.id] = time.monotonic()
            call = await history.run(agent, "add", record.id, mem.episodes.add(record))
            if call.error is None:
                history.acked[record.id] = (call.end, record)
                mine.append(record.id)
        elif roll < 0.33:
            good = [Fact(agent_id=me, content=f"fact {token} {i}") for i in range(3)]
            fail = rng.random() < 0.5
            for record in good:
                history.started[record.id] = time.monotonic()

            async def do_batch(good: list[Fact] = good, fail: bool = fail) -> None:
                async with mem.batch() as b:
                    for record in good:
                        b.facts.add(record)
                    if fail:
                        b.facts.update("missing-record", content="never")  # fails the whole batch

            call = await history.run(agent, "batch", [r.id for r in good], do_batch(), (NotFoundError,))
            if fail:
                if call.error is None:
                    history.problems.append(f"agent {agent}: a batch with a missing update succeeded")
                history.phantoms.update(r.id for r in good)
            elif call.error is None:
                for record in good:
                    history.acked[record.id] = (call.end, record)
                mine.extend(r.id for r in good)
        elif roll < 0.53:
            if not history.acked:
                continue
            record_id = rng.choice(list(history.acked)[-500:])
            if rng.random() < 0.5 and mine:
                record_id = rng.choice(mine)
            store = mem.episodes if isinstance(history.acked[record_id][1], Episode) else mem.facts
            await history.run(agent, "get", record_id, store.get(record_id), (NotFoundError,))
        elif roll < 0.63:
            await history.run(agent, "count", me, _own_count(mem, me))
        elif roll < 0.70:
            if not mine:
                continue
            record_id = rng.choice(mine)
            record = history.acked[record_id][1]
            word = record.task.split()[-1] if isinstance(record, Episode) else record.content.split()[1]
            store = mem.episodes if isinstance(record, Episode) else mem.facts
            await history.run(agent, "search", (record_id, word), store.search(word, agent_id=me, limit=20))
        elif roll < 0.95:
            skill = shared["skills"][rng.randrange(SKILLS)]
            success = rng.random() < 0.5
            await history.run(agent, "use", (skill, success), mem.skills.record_use(skill, success))
        else:
            await increment(mem, agent, history, shared["counter"])


async def _own_count(mem: Any, me: str) -> int:
    return int(await mem.episodes.count(agent_id=me)) + int(await mem.facts.count(agent_id=me))


async def increment(mem: Any, agent: int, history: History, counter_id: str) -> None:
    """Read-modify-write with ``expect_version``: retried on conflict, never lost."""
    for _ in range(50):
        read = await history.run(agent, "read-counter", counter_id, mem.facts.get(counter_id))
        if read.error is not None:
            return
        fact = read.result
        call = await history.run(
            agent,
            "increment",
            fact.version,
            mem.facts.update(counter_id, expect_version=fact.version, metadata={"n": fact.metadata["n"] + 1}),
            (ConflictError,),
        )
        if call.error is None:
            return
        await anyio.sleep(random.random() * 0.01)  # back off: 200 agents racing one record mostly conflict


async def sample_depth(mem: Any, history: History, deadline: float) -> None:
    while time.monotonic() < deadline:
        history.depth_samples.append(mem.statistics().queue_depth)
        await anyio.sleep(0.001)


def check(history: History, shared: dict[str, Any]) -> None:
    problems = history.problems
    by_op: dict[str, list[Call]] = {}
    for call in history.calls:
        by_op.setdefault(call.op, []).append(call)
    # No stale read: every get of an id acknowledged before the get began finds it, intact.
    for call in by_op.get("get", []):
        acked_at, record = history.acked[call.args]
        if acked_at < call.start and (call.error is not None or call.result.user_fields() != record.user_fields()):
            problems.append(
                f"stale read: get {call.args} at {call.start:.4f} after ack at {acked_at:.4f}: {call.error!r}"
            )
    # Own counts are exact: each agent is sequential, so its acknowledged adds are all its writes.
    acked_by_agent: dict[int, list[float]] = {}
    for call in history.calls:
        if call.op in ("add", "batch") and call.error is None:
            acked_by_agent.setdefault(call.agent, []).extend([call.end] * (1 if call.op == "add" else 3))
    for call in by_op.get("count", []):
        expected = sum(1 for t in acked_by_agent.get(call.agent, []) if t < call.start)
        if call.result != expected:
            problems.append(f"agent {call.agent} counted {call.result} own records, expected {expected}")
    for call in by_op.get("search", []):
        record_id, word = call.args
        if record_id not in {hit.record.id for hit in call.result}:
            problems.append(f"search {word!r} missed {record_id}, acknowledged before it began")
        if any(hit.record.id in history.phantoms for hit in call.result):
            problems.append(f"search {word!r} found a record of a failed batch")
    # Increments: versions read never go back past an acknowledged update.
    acked_versions = sorted((c.end, c.args + 1) for c in by_op.get("increment", []) if c.error is None)
    for call in by_op.get("read-counter", []):
        if call.error is not None:
            continue  # already recorded as an unexpected error (a counter not found is a stale read)
        floor = max((v for t, v in acked_versions if t < call.start), default=1)
        if call.result.version < floor:
            problems.append(f"counter read at version {call.result.version} after version {floor} was acknowledged")
    if history.depth_samples and max(history.depth_samples) > MAX_PENDING:
        problems.append(f"mailbox depth {max(history.depth_samples)} above its bound {MAX_PENDING}")


async def final_checks(path: str, history: History, shared: dict[str, Any]) -> None:
    problems = history.problems
    uses = {s: [0, 0] for s in shared["skills"]}
    increments = 0
    for call in history.calls:
        if call.op == "use" and call.error is None:
            skill, success = call.args
            uses[skill][0] += 1
            uses[skill][1] += int(success)
        if call.op == "increment" and call.error is None:
            increments += 1
    async with memactor.open(path) as mem:
        for skill_id, (count, successes) in uses.items():
            skill = await mem.skills.get(skill_id)
            if (skill.uses, skill.successes) != (count, successes):
                problems.append(
                    f"lost update: skill {skill_id} has {skill.uses}/{skill.successes}, calls made {count}/{successes}"
                )
        counter = await mem.facts.get(shared["counter"])
        if counter.metadata["n"] != increments or counter.version != increments + 1:
            problems.append(
                f"lost update: counter {counter.metadata['n']} (v{counter.version}), increments {increments}"
            )
        acked_ids = list(history.acked)
        for start in range(0, len(acked_ids), 5000):
            chunk = acked_ids[start : start + 5000]
            found = {r.id: r for r in await mem.episodes.get_many(chunk)} | {
                r.id: r for r in await mem.facts.get_many(chunk)
            }
            for record_id in chunk:
                if record_id not in found:
                    problems.append(f"acknowledged {record_id} missing after reopen")
                elif found[record_id].user_fields() != history.acked[record_id][1].user_fields():
                    problems.append(f"acknowledged {record_id} changed after reopen")
        phantoms = sorted(history.phantoms)
        for start in range(0, len(phantoms), 5000):
            visible = await mem.facts.get_many(phantoms[start : start + 5000])
            if visible:
                problems.append(f"phantom: {len(visible)} records of failed batches are visible, e.g. {visible[0].id}")


def test_two_hundred_agents_history(tmp_path: Any) -> None:
    path = str(tmp_path / "history.db")
    history = History()
    shared: dict[str, Any] = {}

    async def main() -> None:
        async with memactor.open(path, max_pending=MAX_PENDING, max_batch=256) as mem:
            shared["skills"] = [await mem.skills.add(Skill(name=f"skill-{i}")) for i in range(SKILLS)]
            shared["counter"] = await mem.facts.add(Fact(content="counter", metadata={"n": 0}))
            deadline = time.monotonic() + SECONDS
            async with anyio.create_task_group() as tg:
                tg.start_soon(sample_depth, mem, history, deadline)
                for agent in range(AGENTS):
                    tg.start_soon(agent_loop, mem, agent, history, deadline, shared)
            stats = mem.statistics()
            assert stats.queue_capacity == MAX_PENDING
        await final_checks(path, history, shared)

    anyio.run(main)
    check(history, shared)
    assert not history.problems, f"{len(history.problems)} problems, first: " + "; ".join(history.problems[:5])
    writes = sum(1 for c in history.calls if c.op in ("add", "batch", "use", "increment"))
    assert writes > AGENTS, f"only {writes} writes in {SECONDS} s: the history proves little"
    assert max(history.depth_samples) > 0, "the mailbox never filled: backpressure was not exercised"
