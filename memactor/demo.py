"""``memactor demo``: simulated agents sharing one memory file, with live progress and a checked summary.

N agents run concurrently for a few seconds on one SQLite file. Each loop reads memory before it acts and
then records an episode (parallel task execution); agents turn each other's episodes into facts
(collaborative learning); a skill one agent shares, the others find and use (skill sharing); some work is
written as one atomic `batch()`. A streaming pass analyses everything at the end, then the file is reopened
to check that every acknowledged write is readable and that no skill use was lost.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import anyio

from .errors import ConflictError, NotFoundError
from .memory import Durability, Memory
from .records import Episode, Fact, Skill
from .stats import Statistics

__all__ = ["run_demo"]

T = TypeVar("T")
SEED = 20240611
VERBS = ("deploy", "migrate", "index", "backup", "rotate", "scale", "patch", "audit")
OBJECTS = ("api", "database", "cache", "queue", "search", "billing", "auth", "logs")
STEPS = ("plan", "build", "test", "push", "verify", "snapshot", "rollback", "notify", "retry", "drain")
CAUSES = ("health check failed", "timeout", "disk full", "permission denied", "schema drift", "flaky test")
KINDS = ("episode", "fact", "skill")


@dataclass
class Tally:
    """What the agents did, as the demo saw it: only acknowledged writes count."""

    ids: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    writes: int = 0
    batches: int = 0
    conflicts: int = 0
    uses: Counter[str] = field(default_factory=Counter)
    write_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)


async def timed(samples: list[float], call: Awaitable[T]) -> T:
    """Await ``call`` and append how long it took, in milliseconds."""
    started = time.perf_counter()
    try:
        return await call
    finally:
        samples.append((time.perf_counter() - started) * 1000.0)


class Agent:
    """One simulated agent; all agents share the same `Memory` handle and `Tally`."""

    def __init__(self, index: int, agents: int, mem: Memory, tally: Tally) -> None:
        self.index, self.agents = index, agents
        self.name = f"agent-{index:02d}"
        self.rng = random.Random(SEED * 1000 + index)
        self.mem, self.tally = mem, tally
        self.last_skill: str | None = None

    async def write(self, call: Awaitable[T]) -> T:
        result = await timed(self.tally.write_ms, call)
        self.tally.writes += 1
        return result

    async def read(self, call: Awaitable[T]) -> T:
        return await timed(self.tally.read_ms, call)

    def task(self) -> tuple[str, str]:
        return self.rng.choice(VERBS), self.rng.choice(OBJECTS)

    async def run(self, deadline: float) -> None:
        loop = 0
        while time.monotonic() < deadline:
            loop += 1
            await self.work_on_task()
            if loop % 3 == 0:
                await self.learn_from_others()
            if loop % 5 == 0:
                await self.batch_of_subtasks()

    async def work_on_task(self) -> None:
        """Parallel task execution: consult memory, pick a skill, act, record the episode."""
        verb, obj = self.task()
        task = f"{verb} {obj}"
        past = await self.read(self.mem.episodes.search(task, limit=5))
        await self.read(self.mem.facts.search(task, min_confidence=0.5, limit=3))
        skill_id = await self.find_skill(f"{verb}-{obj}", task)
        wins = sum(isinstance(hit.record, Episode) and hit.record.success is True for hit in past)
        success = self.rng.random() < 0.45 + 0.08 * wins
        await self.write(self.mem.skills.record_use(skill_id, success))
        self.tally.uses[skill_id] += 1
        self.last_skill = skill_id
        outcome = "done: checks passed" if success else f"failed: {self.rng.choice(CAUSES)}"
        episode = Episode(
            task=task,
            agent_id=self.name,
            steps=tuple(self.rng.sample(STEPS, 3)),
            outcome=outcome,
            success=success,
            importance=round(self.rng.random(), 2),
            tags=(verb, obj),
        )
        self.tally.ids["episode"].append(await self.write(self.mem.episodes.add(episode)))

    async def find_skill(self, name: str, task: str) -> str:
        """Skill sharing: find the skill by name or by search; share a new one if nobody has."""
        try:
            if self.rng.random() < 0.5:
                return (await self.read(self.mem.skills.get_by_name(name))).id
            hits = await self.read(self.mem.skills.search(task, name=name, limit=1))
            if hits:
                return hits[0].record.id
        except NotFoundError:
            pass
        return await self.share_skill(name, task)

    async def share_skill(self, name: str, task: str) -> str:
        skill = Skill(
            name=name, description=f"how to {task}", steps=tuple(self.rng.sample(STEPS, 4)), agent_id=self.name
        )
        try:
            skill_id = await self.write(self.mem.skills.add(skill))
        except ConflictError:  # another agent shared this skill first: use theirs
            self.tally.conflicts += 1
            return (await self.read(self.mem.skills.get_by_name(name))).id
        self.tally.ids["skill"].append(skill_id)
        return skill_id

    async def learn_from_others(self) -> None:
        """Collaborative learning: turn another agent's episodes into a fact that cites them."""
        if self.agents < 2:
            return
        other = f"agent-{(self.index + 1 + self.rng.randrange(self.agents - 1)) % self.agents:02d}"
        verb, obj = self.task()
        hits = await self.read(self.mem.episodes.search(f"{verb} {obj}", agent_id=other, limit=3))
        episodes = [hit.record for hit in hits if isinstance(hit.record, Episode)]
        if not episodes:
            return
        wins = sum(episode.success is True for episode in episodes)
        fact = Fact(
            content=f"{verb} {obj}: {wins} of {len(episodes)} similar tries by {other} succeeded",
            confidence=(wins + 1) / (len(episodes) + 2),
            source_episode_ids=tuple(episode.id for episode in episodes),
            agent_id=self.name,
            tags=("learned",),
        )
        self.tally.ids["fact"].append(await self.write(self.mem.facts.add(fact)))

    async def batch_of_subtasks(self) -> None:
        """Batches: three sub-episodes, a fact citing them and a skill use, committed atomically."""
        verb, obj = self.task()
        steps, skill = self.rng.sample(STEPS, 3), self.last_skill
        episode_ids, fact_id = await self.write(self.commit_batch(f"{verb} {obj}", steps, skill))
        self.tally.batches += 1
        self.tally.ids["episode"].extend(episode_ids)
        self.tally.ids["fact"].append(fact_id)
        if skill is not None:
            self.tally.uses[skill] += 1

    async def commit_batch(self, task: str, steps: list[str], skill: str | None) -> tuple[list[str], str]:
        async with self.mem.batch() as b:
            ids = b.episodes.add_many(Episode(f"{task}: {step}", agent_id=self.name, success=True) for step in steps)
            fact_id = b.facts.add(Fact(f"{task} splits into {', '.join(steps)}", source_episode_ids=tuple(ids)))
            if skill is not None:
                b.skills.record_use(skill, success=True)
        return ids, fact_id


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
