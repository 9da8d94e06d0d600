"""The demo's simulated agents: what one agent does each loop, and the tally of what they all did.

Each loop reads memory before it acts, then records an episode (parallel task execution); an agent turns
others' episodes into facts (collaborative learning), finds or shares a skill and counts its use (skill
sharing), and writes some work as one atomic `batch()`. Seeded per agent, so runs are comparable.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from ..actor.memory import Memory
from ..errors import ConflictError, NotFoundError
from ..model.records import Episode, Fact, Skill

__all__ = ["Agent", "Tally"]

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
