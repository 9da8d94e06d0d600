"""Cancellation storm: hundreds of callers cancelled at random points. Callers not cancelled see no errors;
every cancelled write is applied entirely or not at all, and never twice; the documented rule holds (a
caller cancelled before its command entered the mailbox changes nothing; one whose ``await`` returned
before the cancel arrived was applied).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

import memactor
from memactor import Fact, Skill
from memactor.model.commands import Ping

CALLERS = int(os.environ.get("MEMACTOR_CANCEL_CALLERS", "300"))
ROUNDS = int(os.environ.get("MEMACTOR_CANCEL_ROUNDS", "6"))


@dataclass
class Outcome:
    skill: str
    facts: list[str]
    mode: str  # "pre-cancelled", "random", "never"
    finished: bool = False  # the write's await returned
    error: BaseException | None = None


async def caller(mem: Any, outcome: Outcome, delay: float | None) -> None:
    """One atomic write: a batch of three facts and one use of the caller's own skill, maybe cancelled."""
    with anyio.CancelScope() as scope:
        if outcome.mode == "pre-cancelled":
            scope.cancel()
        elif delay is not None:
            scope.deadline = anyio.current_time() + delay
        try:
            async with mem.batch() as b:
                for fact_id in outcome.facts:
                    b.facts.add(Fact(id=fact_id, content=f"cancel probe {fact_id}"))
                b.skills.record_use(outcome.skill, True)
            outcome.finished = True
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:  # noqa: BLE001 - recorded and asserted on: callers must see no errors
            outcome.error = exc


async def storm(mem: Any, rng: random.Random) -> list[Outcome]:
    skills = await mem.skills.add_many([Skill(name=f"s-{rng.random()}") for _ in range(CALLERS)])
    outcomes = []
    for skill in skills:
        mode = rng.choices(["pre-cancelled", "random", "never"], [1, 6, 3])[0]
        facts = [memactor.new_id() for _ in range(3)]
        outcomes.append(Outcome(skill, facts, mode))
    async with anyio.create_task_group() as tg:
        for outcome in outcomes:
            delay = rng.uniform(0, 0.15) if outcome.mode == "random" else None
            tg.start_soon(caller, mem, outcome, delay)
        # Cancel a random subset of the whole group, from outside, at a random moment too.
        await anyio.sleep(rng.uniform(0, 0.01))
    return outcomes


async def check(mem: Any, outcomes: list[Outcome]) -> list[str]:
    problems = []
    for outcome in outcomes:
        if outcome.error is not None:
            problems.append(f"caller ({outcome.mode}) got an error: {outcome.error!r}")
        skill = await mem.skills.get(outcome.skill)
        facts = await mem.facts.get_many(outcome.facts)
        applied = skill.uses == 1
        if skill.uses not in (0, 1):
            problems.append(f"skill {outcome.skill} used {skill.uses} times by one write: applied twice")
        if len(facts) != (3 if applied else 0):
            problems.append(f"half a write: {len(facts)} facts with {skill.uses} uses")
        if outcome.mode == "pre-cancelled" and applied:
            problems.append("a caller cancelled before its command entered the mailbox changed the store")
        if outcome.finished and not applied:
            problems.append("an acknowledged write is missing")
        if outcome.mode == "never" and not outcome.finished:
            problems.append("a caller that was not cancelled did not finish")
    return problems


def test_cancellation_storm(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("MEMACTOR_CANCEL_SEED", "7")))
    path = str(tmp_path / "cancel.db")
    rounds: list[list[Outcome]] = []

    async def main() -> None:
        # A small mailbox, so many callers are cancelled while waiting for room, others while in flight.
        async with memactor.open(path, max_pending=16, max_batch=32) as mem:
            for _ in range(ROUNDS):
                outcomes = await storm(mem, rng)
                with anyio.fail_after(5):
                    await mem.execute(Ping())  # the writer survived the storm and is caught up
                problems = await check(mem, outcomes)
                assert not problems, f"{len(problems)} problems, first: {problems[:5]}"
                rounds.append(outcomes)
        async with memactor.open(path) as mem:  # and all of it survives a reopen
            for outcomes in rounds:
                problems = await check(mem, [o for o in outcomes if o.error is None])
                assert not problems, problems[:5]

    anyio.run(main)
    modes = [(o.mode, o.finished) for outcomes in rounds for o in outcomes]
    cancelled_random = sum(1 for mode, finished in modes if mode == "random" and not finished)
    finished_random = sum(1 for mode, finished in modes if mode == "random" and finished)
    assert cancelled_random > 20 and finished_random > 20, (
        f"random cancels hit {cancelled_random} callers and missed {finished_random}: timing too one-sided"
    )
