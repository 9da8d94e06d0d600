"""Crash test on PostgreSQL: a child process (its own writer actor on the database) writes singles and batches
from many agents and prints each id once its ``await`` returned; the parent SIGKILLs it at a random moment,
``MEMACTOR_CRASH_ROUNDS`` times (8 by default) on the same schema. After each kill: every acknowledged record is
present and intact, every batch is all-or-nothing (acknowledged ones all there), and the next process opens the
database and writes on. The server outlives the client here: this proves a client's crash loses nothing
acknowledged and leaves nothing half-written; `tests.postgres.test_server_crash` crashes the server itself.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.postgres.crashcheck import check_database

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
