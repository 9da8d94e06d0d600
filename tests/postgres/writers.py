"""What each writer process does in the many-writers tests: its own connection, its own group commits.

Run in processes started with ``spawn``, so each is a separate client of the server, as separate machines
would be. Each returns what it saw, as plain values, for the test to check.
"""

from __future__ import annotations

import random
import time

import anyio

import memactor
from memactor import Episode, Skill
from memactor.codec import encode
from memactor.errors import ConflictError
from memactor.model.commands import AddRecords, RecordUse, UpdateRecord
from memactor.model.queries import Get
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_reader, connect_writer
from memactor.postgres.read import run_query


def use_skills(url: str, skill_ids: list[str], batches: int, per_batch: int, seed: int) -> int:
    """Record ``batches * per_batch`` uses spread over the skills, the order shuffled per batch; return the
    number of successes recorded."""
    rng = random.Random(seed)
    successes = 0
    with connect_writer(url, "normal") as conn:
        for _ in range(batches):
            commands = []
            for _ in range(per_batch):
                success = rng.random() < 0.5
                successes += success
                commands.append(encode(RecordUse(rng.choice(skill_ids), success, time.time())))
            outcomes = apply_batch(conn, commands)
            assert all(isinstance(o, Skill) for o in outcomes), outcomes
    return successes


def add_named_skills(url: str, names: list[str], per_batch: int) -> list[str]:
    """Try to add a skill (a new id) of each name; return the names this process won."""
    won = []
    with connect_writer(url, "normal") as conn:
        for start in range(0, len(names), per_batch):
            chunk = names[start : start + per_batch]
            outcomes = apply_batch(conn, [encode(AddRecords((Skill(name=name),))) for name in chunk])
            for name, outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, ConflictError):
                    continue
                assert isinstance(outcome, list), outcome
                won.append(name)
    return won


def add_same_records(url: str, frames: list[bytes], per_batch: int) -> list[object]:
    """Add the same encoded records every other process adds; return every outcome."""
    outcomes: list[object] = []
    with connect_writer(url, "normal") as conn:
        for start in range(0, len(frames), per_batch):
            outcomes.extend(apply_batch(conn, frames[start : start + per_batch]))
    return outcomes


def bump_counter(url: str, skill_id: str, times: int) -> int:
    """Read-modify-write a counter in the skill's metadata ``times`` times with ``expect_version``, retrying
    on `ConflictError`; return how many conflicts it met."""
    conflicts = 0
    with connect_writer(url, "normal") as writer, connect_reader(url) as reader:
        done = 0
        while done < times:
            (skill,) = run_query(reader, Get("skill", (skill_id,)))
            change = {"metadata": {"n": skill.metadata["n"] + 1}}
            (outcome,) = apply_batch(writer, [encode(UpdateRecord("skill", skill_id, change, skill.version, 0.0))])
            if isinstance(outcome, ConflictError):
                conflicts += 1
                continue
            assert isinstance(outcome, Skill), outcome
            done += 1
    return conflicts


def agents_through_handles(url: str, skill_ids: list[str], agents: int, uses: int) -> list[str]:
    """Open a handle (its own writer actor) and let ``agents`` concurrent tasks record ``uses`` uses each of
    every skill and add one episode per use; return the ids of the episodes added."""
    added: list[str] = []

    async def agent(mem: memactor.Memory, number: int) -> None:
        for use in range(uses):
            for skill_id in skill_ids:
                await mem.skills.record_use(skill_id, success=use % 2 == 0)
            added.append(await mem.episodes.add(Episode(task=f"agent {number} use {use}")))

    async def main() -> None:
        async with memactor.open(url, durability="normal") as mem, anyio.create_task_group() as tg:
            for number in range(agents):
                tg.start_soon(agent, mem, number)

    anyio.run(main)
    return added
