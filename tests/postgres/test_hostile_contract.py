"""The hostile-input suite (tests/proof/test_hostile.py), its inputs and checks unchanged, against PostgreSQL."""

from __future__ import annotations

import random

import anyio

import memactor
from memactor import Episode, Fact, Skill
from tests.proof.test_hostile import VICTIM_NS, Harness, poisoned, raw, records_and_arguments


def test_hostile_inputs(pg_url: str) -> None:
    rng = random.Random(1234)

    async def main() -> None:
        async with memactor.open(pg_url) as mem:
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
