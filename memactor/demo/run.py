"""``memactor demo``: simulated agents sharing one memory file, with live progress and a checked summary.

N agents run concurrently for a few seconds on one SQLite file. Each loop reads memory before it acts and
then records an episode (parallel task execution); agents turn each other's episodes into facts
(collaborative learning); a skill one agent shares, the others find and use (skill sharing); some work is
written as one atomic `batch()`. A streaming pass analyses everything at the end, then the file is reopened
to check that every acknowledged write is readable and that no skill use was lost.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import anyio

from ..actor.memory import Durability, Memory
from ..model.stats import Statistics
from .agents import Agent, Tally

__all__ = ["run_demo"]


async def show_progress(mem: Memory, tally: Tally, started: float, done: anyio.Event) -> None:
    """Report progress on stderr until ``done`` is set: one line rewritten 4 times a second on a terminal,
    a new line every second otherwise (a log file gets readable lines, not one line of carriage returns)."""
    tty = sys.stderr.isatty()
    while not done.is_set():
        with anyio.move_on_after(0.25 if tty else 1.0):
            await done.wait()
        elapsed = max(time.monotonic() - started, 1e-9)
        stats = mem.statistics()
        line = (
            f"{elapsed:5.1f}s  writes {tally.writes:7d}  reads {stats.reads:7d}  "
            f"{tally.writes / elapsed:7.0f} writes/s  queue {stats.queue_depth:4d}  "
            f"mean batch {stats.mean_batch_size:5.1f}"
        )
        sys.stderr.write(f"\r{line}" if tty else f"{line}\n")
        sys.stderr.flush()
    if tty:
        sys.stderr.write("\n")


async def simulate(mem: Memory, tally: Tally, agents: int, seconds: float) -> float:
    """Run every agent until the deadline; returns the elapsed seconds."""
    started = time.monotonic()
    done = anyio.Event()
    async with anyio.create_task_group() as progress:
        progress.start_soon(show_progress, mem, tally, started, done)
        async with anyio.create_task_group() as workers:
            for index in range(agents):
                workers.start_soon(Agent(index, agents, mem, tally).run, started + seconds)
        done.set()
    return time.monotonic() - started


async def analyse(mem: Memory) -> list[str]:
    """The streaming pass: read every record back page by page and summarise it."""
    per_agent: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    episode_ids: set[str] = set()
    async for page in mem.episodes.stream(batch_size=500):
        for episode in page:
            episode_ids.add(episode.id)
            per_agent[episode.agent_id or "?"] += 1
            wins[episode.agent_id or "?"] += episode.success is True
    cited = dangling = facts = 0
    async for fact_page in mem.facts.stream(batch_size=500):
        facts += len(fact_page)
        for fact in fact_page:
            cited += len(fact.source_episode_ids)
            dangling += sum(source not in episode_ids for source in fact.source_episode_ids)
    best = max(per_agent, key=lambda agent: wins[agent] / per_agent[agent], default="-")
    rate = wins[best] / per_agent[best] if per_agent else 0.0
    return [
        f"  streamed {len(episode_ids):,} episodes from {len(per_agent)} agents, "
        f"{sum(wins.values()) / max(len(episode_ids), 1):.0%} successful (best: {best}, {rate:.0%})",
        f"  streamed {facts:,} facts citing {cited:,} source episodes ({dangling} dangling)",
    ]


@dataclass(frozen=True)
class Check:
    """Reading back: records missing, uses stored on the skills used, skills whose count is off."""

    missing: int
    stored_uses: int
    wrong_skills: int

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.wrong_skills == 0


async def verify(path: str, tally: Tally) -> Check:
    """Reopen the file and read back every acknowledged id and every used skill's count."""
    async with Memory(path, readonly=True) as mem:
        missing = 0
        for kind, store in (("episode", mem.episodes), ("fact", mem.facts), ("skill", mem.skills)):
            ids = tally.ids[kind]
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                missing += len(chunk) - len(await store.get_many(chunk))
        skills = await mem.skills.get_many(list(tally.uses))
        wrong = sum(skill.uses != tally.uses[skill.id] for skill in skills) + len(tally.uses) - len(skills)
    return Check(missing, sum(skill.uses for skill in skills), wrong)


def percentiles(samples: list[float]) -> str:
    """``p50 x ms  p99 y ms`` of ``samples``."""
    if len(samples) < 2:
        return "p50 -  p99 -"
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {cuts[49]:7.2f} ms  p99 {cuts[98]:7.2f} ms"


def histogram(stats: Statistics) -> str:
    """The batch-size distribution as ``size range: count`` pairs."""
    buckets = stats.batch_size_histogram.items()
    return "  ".join(f"{low if low == 1 else f'{low}-{2 * low - 1}'}: {count}" for low, count in buckets)


def summary(tally: Tally, stats: Statistics, elapsed: float, analysis: list[str], check: Check) -> str:
    """The report printed at the end of the demo."""
    counts = {kind: len(ids) for kind, ids in tally.ids.items()}
    records = sum(counts.values())
    calls = sum(tally.uses.values())
    return "\n".join(
        [
            f"memactor demo: {elapsed:.1f} s",
            f"  records written: {counts['episode']:,} episodes, {counts['fact']:,} facts, {counts['skill']:,} skills"
            f" ({records:,} records in {tally.writes:,} acknowledged writes, {tally.batches:,} of them batches)",
            f"  skill adds refused as duplicates (ConflictError, then the existing skill was used): {tally.conflicts}",
            f"  reads served: {stats.reads:,}",
            f"  throughput: {tally.writes / elapsed:,.0f} writes/s, {records / elapsed:,.0f} records/s, "
            f"{stats.reads / elapsed:,.0f} reads/s",
            f"  group commits: {stats.batches:,}, mean size {stats.mean_batch_size:.1f}, max {stats.max_batch_size}",
            f"  batch sizes: {histogram(stats)}",
            f"  write latency: {percentiles(tally.write_ms)}   (commit p50 {stats.commit_p50_ms:.2f} ms)",
            f"  read latency:  {percentiles(tally.read_ms)}",
            *analysis,
            f"  skill uses: {check.stored_uses:,} counted by the store, {calls:,} record_use calls made: "
            + ("equal" if not check.wrong_skills else f"{check.wrong_skills} skills differ (LOST UPDATES)"),
            "  every acknowledged write readable after reopening: "
            + ("OK" if not check.missing else f"MISSING {check.missing} of {records}"),
        ]
    )


async def _demo(agents: int, seconds: float, path: str, durability: Durability) -> int:
    tally = Tally()
    print(f"memactor demo: {agents} agents for {seconds:g} s on {path} (durability={durability})", flush=True)
    async with Memory(path, durability=durability) as mem:
        elapsed = await simulate(mem, tally, agents, seconds)
        analysis = await analyse(mem)
        stats = mem.statistics()
    check = await verify(path, tally)
    print(summary(tally, stats, elapsed, analysis, check), flush=True)
    return 0 if check.ok else 1


def run_demo(*, agents: int = 20, seconds: float = 5.0, path: str | None = None, durability: str = "full") -> int:
    """Run the demo and print its summary on stdout (progress goes to stderr).

    Args:
        agents: Concurrent simulated agents.
        seconds: How long they work.
        path: A new memory file to create; a file in a temporary directory when None.
        durability: ``"full"`` or ``"normal"``, as for `memactor.open`.

    Returns:
        The exit status: 0 when every acknowledged write was read back and every skill use counted, else 1.
    """
    if agents < 1 or seconds <= 0 or durability not in ("full", "normal"):
        print("memactor demo: --agents must be >= 1, --seconds > 0, --durability full or normal", file=sys.stderr)
        return 2
    if path is not None and Path(path).exists():
        # Exact counts are checked at the end, so the run needs a file of its own.
        print(f"memactor demo: {path} exists; give a new file (or no --path for a temporary one)", file=sys.stderr)
        return 2
    mode = cast(Durability, durability)
    if path is not None:
        return anyio.run(_demo, agents, seconds, path, mode, backend="asyncio")
    with tempfile.TemporaryDirectory(prefix="memactor-demo-") as directory:
        return anyio.run(_demo, agents, seconds, str(Path(directory) / "demo.db"), mode, backend="asyncio")
