"""The concurrency-history checker (tests/proof/test_histories.py), unchanged, against PostgreSQL.

Besides the SQLite run's 200 agents on one handle, a second run has two handles (two writer actors, each
with its own connection and group commits) share the agents, as two processes on two machines would.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio
import pytest

import memactor
from memactor import Fact, Skill
from tests.proof.test_histories import (
    AGENTS,
    MAX_PENDING,
    SECONDS,
    SKILLS,
    History,
    agent_loop,
    check,
    final_checks,
    sample_depth,
)


@pytest.mark.parametrize("writers", [1, 2])
def test_two_hundred_agents_history(pg_url: str, writers: int) -> None:
    history = History()
    shared: dict[str, Any] = {}

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            handles = [
                await stack.enter_async_context(memactor.open(pg_url, max_pending=MAX_PENDING, max_batch=256))
                for _ in range(writers)
            ]
            first = handles[0]
            shared["skills"] = [await first.skills.add(Skill(name=f"skill-{i}")) for i in range(SKILLS)]
            shared["counter"] = await first.facts.add(Fact(content="counter", metadata={"n": 0}))
            deadline = time.monotonic() + SECONDS
            async with anyio.create_task_group() as tg:
                tg.start_soon(sample_depth, first, history, deadline)
                for agent in range(AGENTS):
                    tg.start_soon(agent_loop, handles[agent % writers], agent, history, deadline, shared)
        await final_checks(pg_url, history, shared)

    anyio.run(main)
    check(history, shared)
    assert not history.problems, f"{len(history.problems)} problems, first: " + "; ".join(history.problems[:5])
    writes = sum(1 for c in history.calls if c.op in ("add", "batch", "use", "increment"))
    assert writes > AGENTS, f"only {writes} writes in {SECONDS} s: the history proves little"
    assert max(history.depth_samples) > 0, "the mailbox never filled: backpressure was not exercised"
