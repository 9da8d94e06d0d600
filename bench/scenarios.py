"""The workloads, written once against `bench.systems.System`: S1..S6 and the predecessor's table.

Every scenario is a coroutine ``body(system, context, agents) -> Sample`` run on a freshly opened system.
Agents are asyncio tasks; each awaits one operation at a time, as an agent framework's agents would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from .data import EpisodeData, agent_name
from .measure import Latencies, Sample, rss_bytes
from .systems import System

__all__ = ["Context", "Scenario", "Sizes", "build"]

RECENT_N = 10
PAGE = 100


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each scenario does; `bench.cli` has the quick and full presets.

    Attributes:
        rounds: Interleaved rounds per scenario (medians are taken over them).
        budget: Seconds after which a measurement starts no new operation.
        writes: S1 writes per measurement (split over the agents).
        reads: S2 reads per measurement.
        loops: S3 loops (2 reads + 1 write each) per measurement.
        bulk: S4 episodes in one bulk call.
        rows: Episodes preloaded for S2, S5 and S6.
        searches: S6 searches per measurement.
        small_rows: Episodes preloaded for the predecessor's table.
        repeats: How often each predecessor operation is timed per measurement.
        agents: The agent counts of S1 and S2.
    """

    rounds: int
    budget: float
    writes: int
    reads: int
    loops: int
    bulk: int
    rows: int
    searches: int
    small_rows: int
    repeats: int
    agents: tuple[int, ...] = (1, 8, 64, 256)


@dataclass(frozen=True, slots=True)
class Context:
    """Inputs shared by every measurement of a run, generated before any clock starts.

    Attributes:
        sizes: The run's sizes.
        fresh: New episodes (ids unseen in any layout) for writes.
        small: The episodes preloaded in the small layout (targets of the batch of updates).
        queries: Search texts for S6.
    """

    sizes: Sizes
    fresh: Sequence[EpisodeData]
    small: Sequence[EpisodeData]
    queries: Sequence[str]


Body = Callable[[System, Context, int], Awaitable[Sample]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row group of the table.

    Attributes:
        key: Unique id, e.g. ``"S1-64"``.
        group: The scenario family (``"S1"``), which systems use to opt out.
        title: What it measures, for people.
        agents: Concurrent agents.
        rows: Episodes preloaded before it starts (which layout size to copy).
        unit: ``"ops/s"``, ``"rows/s"`` or ``"ms"`` (latency of one grouped operation, lower is better).
        body: The workload.
    """

    key: str
    group: str
    title: str
    agents: int
    rows: int
    unit: str
    body: Body


async def _agents(count: int, work: Callable[[int], Coroutine[Any, Any, None]]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(work(i) for i in range(count)))
    return time.perf_counter() - start


async def _writes(system: System, ctx: Context, agents: int) -> Sample:
    episodes = ctx.fresh[: ctx.sizes.writes]
    if system.bulk_writes:
        sample = await _bulk(system, ctx, len(episodes))
        sample.latencies.clear()  # one executemany has no per-write latency
        return sample
    clock = Latencies(ctx.sizes.budget)

    async def agent(i: int) -> None:
        for episode in episodes[i::agents]:
            if clock.expired:
                return
            await clock.time(system.write(episode))

    seconds = await _agents(agents, agent)
    seconds += await _timed(system.flush())
    return Sample(len(clock.values), seconds, clock.values)


async def _reads(system: System, ctx: Context, agents: int) -> Sample:
    clock = Latencies(ctx.sizes.budget)
    per_agent = max(1, ctx.sizes.reads // agents)

    async def agent(i: int) -> None:
        for _ in range(per_agent):
            if clock.expired:
                return
            await clock.time(system.recent(agent_name(i), RECENT_N))

    seconds = await _agents(agents, agent)
    return Sample(len(clock.values), seconds, clock.values)


async def _mixed(system: System, ctx: Context, agents: int) -> Sample:
    clock = Latencies(ctx.sizes.budget)

    async def agent(i: int) -> None:
        for episode in ctx.fresh[i::agents][: max(1, ctx.sizes.loops // agents)]:
            if clock.expired:
                return
            await clock.time(system.recent(agent_name(i), RECENT_N))
            await clock.time(system.recent(agent_name(i + 1), RECENT_N))
            await clock.time(system.write(episode))

    seconds = await _agents(agents, agent)
    seconds += await _timed(system.flush())
    return Sample(len(clock.values), seconds, clock.values)


async def _bulk(system: System, ctx: Context, count: int | None = None) -> Sample:
    episodes = ctx.fresh[: count or ctx.sizes.bulk]
    seconds = await _timed(system.bulk(episodes))
    seconds += await _timed(system.flush())
    return Sample(len(episodes), seconds, [seconds])


async def _bulk_body(system: System, ctx: Context, agents: int) -> Sample:
    return await _bulk(system, ctx)


async def _stream(system: System, ctx: Context, agents: int) -> Sample:
    clock = Latencies(ctx.sizes.budget)
    before = peak = rss_bytes()
    rows = 0
    start = time.perf_counter()
    async with aclosing(system.stream(PAGE)) as pages:
        async for size in pages:
            rows += size
            peak = max(peak, rss_bytes())
            if clock.expired:
                break
    seconds = time.perf_counter() - start
    return Sample(rows, seconds, extra={"rss_growth_mb": (peak - before) / 2**20})


async def _search(system: System, ctx: Context, agents: int) -> Sample:
    clock = Latencies(ctx.sizes.budget)
    per_agent = max(1, ctx.sizes.searches // agents)

    async def agent(i: int) -> None:
        for j in range(per_agent):
            if clock.expired:
                return
            await clock.time(system.search(ctx.queries[(i * per_agent + j) % len(ctx.queries)], RECENT_N))

    seconds = await _agents(agents, agent)
    return Sample(len(clock.values), seconds, clock.values)


async def _timed(operation: Awaitable[object]) -> float:
    start = time.perf_counter()
    await operation
    return time.perf_counter() - start


async def _repeat(ctx: Context, make: Callable[[int], Awaitable[object]]) -> Sample:
    """Time ``make(j)`` for j = 0, 1, ... (the predecessor's table reports one grouped operation's latency)."""
    clock = Latencies(ctx.sizes.budget)
    start = time.perf_counter()
    for j in range(ctx.sizes.repeats):
        if clock.expired:
            break
        await clock.time(make(j))
    return Sample(len(clock.values), time.perf_counter() - start, clock.values)


def _gather(operations: Iterable[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return asyncio.gather(*operations)


async def _parallel_reads(system: System, ctx: Context, agents: int) -> Sample:
    return await _repeat(ctx, lambda j: _gather(system.recent(agent_name(j + k), RECENT_N) for k in range(5)))


async def _mixed_group(system: System, ctx: Context, agents: int) -> Sample:
    def group(j: int) -> Awaitable[list[Any]]:
        reads = [system.recent(agent_name(j + k), RECENT_N) for k in range(6)]
        return _gather([*reads, *(system.write(e) for e in ctx.fresh[3 * j : 3 * j + 3])])

    return await _repeat(ctx, group)


async def _drain(system: System, limit: int) -> int:
    rows = 0
    async with aclosing(system.stream(PAGE)) as pages:
        async for size in pages:
            rows += size
            if rows >= limit:
                break
    return rows


async def _stream_small(system: System, ctx: Context, agents: int) -> Sample:
    return await _repeat(ctx, lambda j: _drain(system, 1_000))


async def _update_batch(system: System, ctx: Context, agents: int) -> Sample:
    batches = max(1, len(ctx.small) // 100)
    return await _repeat(ctx, lambda j: system.update_many(ctx.small[(j % batches) * 100 :][:100]))


def build(sizes: Sizes, groups: Iterable[str] | None = None) -> list[Scenario]:
    """Return the scenarios of ``groups`` (``S1``..``S6``, ``P``; all when None) in run order."""
    every = [
        *(Scenario(f"S1-{n}", "S1", f"writes, {n} agents", n, 0, "ops/s", _writes) for n in sizes.agents),
        *(Scenario(f"S2-{n}", "S2", f"recent 10, {n} agents", n, sizes.rows, "ops/s", _reads) for n in sizes.agents),
        Scenario("S3", "S3", "mixed 2 reads + 1 write, 64 agents", 64, sizes.rows, "ops/s", _mixed),
        Scenario("S4", "S4", f"bulk {sizes.bulk:,} episodes", 1, 0, "rows/s", _bulk_body),
        Scenario("S5", "S5", f"stream {sizes.rows:,} in pages of {PAGE}", 1, sizes.rows, "rows/s", _stream),
        Scenario("S6", "S6", f"FTS search, 64 agents, {sizes.rows:,} rows", 64, sizes.rows, "ops/s", _search),
        Scenario("P1", "P", "5 parallel reads", 5, sizes.small_rows, "ms", _parallel_reads),
        Scenario("P2", "P", "6 reads + 3 writes mixed", 9, sizes.small_rows, "ms", _mixed_group),
        Scenario("P3", "P", "streaming 1,000", 1, sizes.small_rows, "ms", _stream_small),
        Scenario("P4", "P", "batch of 100 updates", 1, sizes.small_rows, "ms", _update_batch),
    ]
    wanted = None if groups is None else {g.upper() for g in groups}
    return [s for s in every if wanted is None or s.group in wanted or s.key in wanted]
