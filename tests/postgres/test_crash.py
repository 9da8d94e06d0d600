"""Crash test on PostgreSQL: a child process (its own writer actor on the database) writes singles and batches
from many agents and prints each id once its ``await`` returned; the parent SIGKILLs it at a random moment,
``MEMACTOR_CRASH_ROUNDS`` times (8 by default) on the same schema. After each kill: every acknowledged record is
present and intact, every batch is all-or-nothing (acknowledged ones all there), and the next process opens the
database and writes on. The server outlives the client here: this proves a client's crash loses nothing
acknowledged and leaves nothing half-written, not the server's own durability.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

import memactor
from memactor import Fact

ROUNDS = int(os.environ.get("MEMACTOR_CRASH_ROUNDS", "8"))

CHILD = r"""
import sys, anyio, memactor
from memactor import Episode, Fact

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

async def writer(mem, lane):
    n = 0
    while True:
        n += 1
        if n % 3:
            record = Episode(task=f"task {lane} {n}", outcome="x" * (n % 50), metadata={"lane": lane, "n": n})
            out(f"P S {record.id}")
            await mem.episodes.add(record)
            out(f"A S {record.id}")
        else:
            facts = [Fact(content=f"fact {lane} {n} {i}", metadata={"lane": lane, "n": n, "i": i}) for i in range(4)]
            ids = " ".join(f.id for f in facts)
            out(f"P B {ids}")
            async with mem.batch() as b:
                for fact in facts:
                    b.facts.add(fact)
            out(f"A B {ids}")

async def main():
    async with memactor.open(sys.argv[1], max_batch=64) as mem:
        out("READY")
        async with anyio.create_task_group() as tg:
            for lane in range(16):
                tg.start_soon(writer, mem, lane)

anyio.run(main)
"""


def expected_episode(record_id: str, record: Any) -> bool:
    lane, n = record.metadata["lane"], record.metadata["n"]
    return bool(record.task == f"task {lane} {n}" and record.outcome == "x" * (n % 50) and record.id == record_id)


def expected_fact(record: Any) -> bool:
    m = record.metadata
    return bool(record.content == f"fact {m['lane']} {m['n']} {m['i']}")


def run_child(script: Path, url: str, rng: random.Random) -> list[str]:
    """Start the writer, let it write for a random while, SIGKILL it; return the whole lines it printed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first == b"READY\n", f"child did not start: {first!r} {child.stderr.read() if child.stderr else b''!r}"
        time.sleep(rng.uniform(0.05, 0.8))
        child.send_signal(signal.SIGKILL)
        stdout, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == -signal.SIGKILL
    return stdout.decode().split("\n")[:-1]  # the last piece is empty or a line cut by the kill


def check_database(
    url: str, acked_singles: set[str], acked_batches: list[list[str]], all_batches: list[list[str]]
) -> int:
    """Check the database as the next process sees it, write to it, and return how many records it holds."""

    async def verify() -> int:
        # The next process (this one) opens the database and can write: the killed child left no lock behind.
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


def test_sigkill_never_loses_acknowledged_writes(pg_url: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(int(os.environ.get("MEMACTOR_CRASH_SEED", str(time.time_ns()))))
    acked_singles: set[str] = set()
    acked_batches: list[list[str]] = []
    all_batches: list[list[str]] = []
    acknowledged_total = 0
    for _ in range(ROUNDS):
        for line in run_child(script, pg_url, rng):
            state, what, *ids = line.split(" ")
            if state == "A" and what == "S":
                acked_singles.add(ids[0])
            elif state == "A" and what == "B":
                acked_batches.append(ids)
            elif state == "P" and what == "B":
                all_batches.append(ids)
            acknowledged_total += state == "A"
        stored = check_database(pg_url, acked_singles, acked_batches, all_batches)
        assert stored >= len(acked_singles) + 4 * len(acked_batches)
    assert acknowledged_total > ROUNDS, "the child barely wrote: the crash test proves little"
