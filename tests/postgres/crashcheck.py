"""What a crash must leave in the database, shared by the crash tests (a writer process's, the server's).

The writer children of those tests write episodes and 4-fact batches whose contents follow from their metadata,
so a record that survived can be checked for damage without the parent knowing what it held.
"""

from __future__ import annotations

from typing import Any

import anyio

import memactor
from memactor import Fact


def expected_episode(record_id: str, record: Any) -> bool:
    """Whether an episode the children wrote holds what its metadata says it was written with."""
    lane, n = record.metadata["lane"], record.metadata["n"]
    return bool(record.task == f"task {lane} {n}" and record.outcome == "x" * (n % 50) and record.id == record_id)


def expected_fact(record: Any) -> bool:
    """Whether a fact of the children's batches holds what its metadata says it was written with."""
    m = record.metadata
    return bool(record.content == f"fact {m['lane']} {m['n']} {m['i']}")


def check_database(
    url: str, acked_singles: set[str], acked_batches: list[list[str]], all_batches: list[list[str]]
) -> int:
    """Check the database as the next process sees it, write to it, and return how many records it holds.

    Every acknowledged episode and batch is present and intact; every batch (acknowledged or not) is all there
    or not at all.
    """

    async def verify() -> int:
        # The next process (this one) opens the database and can write: the crash left no lock behind.
        async with memactor.open(url) as mem:
            singles = sorted(acked_singles)
            for start in range(0, len(singles), 5000):
                chunk = singles[start : start + 5000]
                found = {r.id: r for r in await mem.episodes.get_many(chunk)}
                missing = [i for i in chunk if i not in found]
                assert not missing, f"{len(missing)} acknowledged episodes lost, e.g. {missing[0]}"
                assert all(expected_episode(i, found[i]) for i in chunk), "an acknowledged episode is damaged"
            for ids in all_batches:
                found_facts = await mem.facts.get_many(ids)
                half = f"half a batch: {len(found_facts)} of {len(ids)} facts present"
                assert len(found_facts) in (0, len(ids)), half
                assert all(expected_fact(f) for f in found_facts), "a batch's fact is damaged"
            for ids in acked_batches:
                assert len(await mem.facts.get_many(ids)) == len(ids), f"acknowledged batch lost: {ids[0]}"
            probe = Fact(content="fact -1 0 0", metadata={"lane": -1, "n": 0, "i": 0})
            await mem.facts.add(probe)
            await mem.facts.delete(probe.id)
            return int(await mem.episodes.count()) + int(await mem.facts.count())

    return anyio.run(verify)
