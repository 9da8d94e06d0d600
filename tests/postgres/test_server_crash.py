"""Crash test of the PostgreSQL server itself: a child process (one memactor handle, its own writer actor) writes
singles and 4-fact batches from 16 agents and reads back what it wrote, printing each write or read before its
``await`` and how it ended after; the parent crashes the primary (``pg_ctl stop -m immediate``: no shutdown
checkpoint, the WAL replayed at restart) at a random moment, lets the child go on against the dead server for a
random while, and starts the primary again, ``MEMACTOR_SERVER_CRASH_ROUNDS`` times (3 by default).

The child lives through each crash and restart: its handle must write and read again once the server is back,
without being reopened. Then the parent closes the child's stdin and it closes its handle. After each round:
every write and read the child started was answered (nothing hung), each one that failed failed with
`StorageError`, every acknowledged record is present and intact, and every batch is all there or not at all.
A second test restarts the server under an idle handle, whose first read must succeed at once.

The cluster is the module's own, fsync on, its replica left running (`tests.postgres.cluster`); never the shared
server of ``MEMACTOR_PG_URL``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import anyio
import pytest

import memactor
from memactor import Fact
from tests.postgres.cluster import Cluster, own_cluster
from tests.postgres.crashcheck import check_database

ROUNDS = int(os.environ.get("MEMACTOR_SERVER_CRASH_ROUNDS", "3"))
# Far past the writer's longest reconnect backoff (5 s): only a hang waits this long.
HANG_S = 60.0
# Writes acknowledged (and reads answered) after the restart for the handle to count as recovered.
RECOVERED_WRITES = 32
RECOVERED_READS = 4

CHILD = r"""
import sys, anyio, memactor
from memactor import Episode, Fact

HANG_S = 60.0

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

async def attempt(what, call):
    out(f"P {what}")
    try:
        with anyio.fail_after(HANG_S):
            await call()
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else ""
        out(f"F {what} | {type(exc).__name__} | {message}")
        return False
    out(f"A {what}")
    return True

async def writer(mem, lane, stop, acked):
    n = 0
    while not stop.is_set():
        n += 1
        if n % 3:
            record = Episode(task=f"task {lane} {n}", outcome="x" * (n % 50), metadata={"lane": lane, "n": n})
            if await attempt(f"S {record.id}", lambda: mem.episodes.add(record)):
                acked.append(record.id)
        else:
            facts = [Fact(content=f"fact {lane} {n} {i}", metadata={"lane": lane, "n": n, "i": i}) for i in range(4)]

            async def batch():
                async with mem.batch() as b:
                    for fact in facts:
                        b.facts.add(fact)

            await attempt("B " + " ".join(f.id for f in facts), batch)

async def reader(mem, lane, stop, acked):
    n = 0
    while not stop.is_set():
        await anyio.sleep(0.01)
        if acked:
            n += 1
            record_id = acked[-1]
            await attempt(f"R {lane}.{n} {record_id}", lambda: mem.episodes.get(record_id))

async def main():
    async with memactor.open(sys.argv[1], max_batch=64) as mem:
        stop = anyio.Event()
        acked = []
        async with anyio.create_task_group() as tg:
            for lane in range(16):
                tg.start_soon(writer, mem, lane, stop, acked)
            for lane in range(2):
                tg.start_soon(reader, mem, lane, stop, acked)
            out("READY")
            await anyio.to_thread.run_sync(sys.stdin.read)  # the parent closed it: finish, close the handle
            stop.set()
    out("DONE")

anyio.run(main)
"""


class Ledger:
    """What the child said so far: writes and reads started, acknowledged or failed, and which came after the
    server was found down."""

    def __init__(self) -> None:
        self.ready = self.done = False
        self.crashed = False  # set by the parent just before it crashes the server
        self.pending: set[str] = set()
        self.acked_singles: set[str] = set()
        self.acked_batches: list[list[str]] = []
        self.all_batches: list[list[str]] = []
        self.failures: list[tuple[str, str]] = []  # (what, "ErrorType | message")
        self.unexpected: list[str] = []
        self.down_failures = 0  # failures since the crash
        self.started_after_failure: set[str] = set()
        self.writes_after = self.reads_after = 0  # started after the first failure since the crash, answered

    def summary(self) -> str:
        """How far the child got, for a failure's message."""
        last = self.failures[-1][1] if self.failures else "none"
        return (
            f"{self.writes_after} writes and {self.reads_after} reads answered since it was found down,"
            f" {len(self.failures)} failures, the last: {last}"
        )

    def feed(self, line: str) -> None:
        """Take in one line of the child's."""
        state, _, rest = line.partition(" ")
        what, _, why = rest.partition(" | ")
        if line in ("READY", "DONE"):
            self.ready, self.done = True, line == "DONE"
        elif state == "P" and what not in self.pending:
            self.pending.add(what)
            if self.down_failures:
                self.started_after_failure.add(what)
            if what.startswith("B "):
                self.all_batches.append(what.split()[1:])
        elif state == "A" and what in self.pending:
            self.pending.remove(what)
            if what.startswith("S "):
                self.acked_singles.add(what.split()[1])
            elif what.startswith("B "):
                self.acked_batches.append(what.split()[1:])
            if what in self.started_after_failure:
                self.reads_after += what.startswith("R ")
                self.writes_after += not what.startswith("R ")
        elif state == "F" and what in self.pending:
            self.pending.remove(what)
            self.failures.append((what, why))
            self.down_failures += self.crashed
        else:
            self.unexpected.append(line)


class Child:
    """The child process, its stdout read line by line on a thread into a `Ledger` the parent can wait on."""

    def __init__(self, script: Path, url: str, stderr: IO[bytes]) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.process = subprocess.Popen(
            [sys.executable, str(script), url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        self.ledger = Ledger()
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._pump, name="crash-child-stdout")
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._changed:
                self.ledger.feed(raw.decode().rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait(self, done: Callable[[Ledger], bool], what: str) -> None:
        """Wait until ``done(ledger)``; fail saying ``what`` went wrong if the child ended or hung first."""
        deadline = time.monotonic() + HANG_S
        with self._changed:
            while not done(self.ledger):
                left = deadline - time.monotonic()
                why = "the child ended" if self.ended else "hung"
                assert not self.ended and left > 0, f"{what} ({why}; {self.ledger.summary()})"
                self._changed.wait(left)

    def mark_crashed(self) -> None:
        """From now on, a failure is one met with the server down."""
        with self._changed:
            self.ledger.crashed = True

    def finish(self) -> int:
        """Close the child's stdin (it stops writing and closes its handle), wait for it; its exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            return self.process.wait(timeout=HANG_S)
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill the child if it still runs, and collect its output thread."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def crash_round(script: Path, cluster: Cluster, rng: random.Random, stderr_path: Path) -> Ledger:
    """One child through one crash and restart of the server; what it said."""
    with stderr_path.open("wb") as stderr:
        child = Child(script, cluster.url, stderr)
        try:
            child.wait(lambda ledger: ledger.ready, "the child did not start")
            time.sleep(rng.uniform(0.05, 0.8))
            child.mark_crashed()
            cluster.crash()
            child.wait(lambda ledger: ledger.down_failures > 0, "no write or read failed with the server down")
            time.sleep(rng.uniform(0.0, 1.0))  # the child goes on failing meanwhile
            cluster.restart()
            child.wait(
                lambda ledger: ledger.writes_after >= RECOVERED_WRITES and ledger.reads_after >= RECOVERED_READS,
                "the handle did not write and read again once the server was back",
            )
            status = child.finish()
        finally:
            child.kill()
    assert status == 0 and child.ledger.done, f"the child failed ({status}): {stderr_path.read_text()[-2000:]}"
    return child.ledger


def check_answers(ledger: Ledger) -> None:
    """Every write and read the child started was answered; each failure a `StorageError`, the type the handle
    raises for a server it lost (a subclass, StorageFullError say, would misreport the crash)."""
    assert not ledger.unexpected, f"the child printed unexpected lines: {ledger.unexpected[:3]}"
    assert not ledger.pending, f"{len(ledger.pending)} calls never answered, e.g. {sorted(ledger.pending)[0]}"
    for what, why in ledger.failures:
        lost = what.startswith("R ") and why.startswith("NotFoundError")
        assert not lost, f"an acknowledged episode read back as missing after the crash: {why}"
        assert why.startswith("StorageError |"), f"{what.split()[0]} failed with {why}: expected a StorageError"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with own_cluster() as running:
        yield running


def test_server_crash_loses_nothing_acknowledged_and_the_handle_recovers(cluster: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(int(os.environ.get("MEMACTOR_CRASH_SEED", str(time.time_ns()))))
    acked_singles: set[str] = set()
    acked_batches: list[list[str]] = []
    all_batches: list[list[str]] = []
    down_failures = 0
    for round_number in range(ROUNDS):
        ledger = crash_round(script, cluster, rng, tmp_path / f"child-{round_number}.err")
        acked_singles |= ledger.acked_singles
        acked_batches += ledger.acked_batches
        all_batches += ledger.all_batches
        down_failures += ledger.down_failures
        stored = check_database(cluster.url, acked_singles, acked_batches, all_batches)
        assert stored >= len(acked_singles) + 4 * len(acked_batches)
        check_answers(ledger)
    assert down_failures >= ROUNDS


@pytest.mark.anyio
async def test_an_idle_handle_reads_and_writes_at_once_after_a_server_restart(cluster: Cluster) -> None:
    # The server crashes and comes back while the handle is idle: its connections are dead, unbeknown to it.
    async with memactor.open(cluster.url) as mem:
        before = Fact(content="before the crash")
        await mem.facts.add(before)
        await anyio.to_thread.run_sync(cluster.crash)
        await anyio.to_thread.run_sync(cluster.restart)
        # A read changed nothing: one that finds its connection dropped runs again on a new one.
        assert (await mem.facts.get(before.id)).content == "before the crash"
        # Nothing of the first group reached the dropped connection: it runs again on a new one, and the
        # caller never hears of the restart. Several at once, from several agents, and a batch among them.
        singles = [Fact(content=f"after the restart {i}") for i in range(8)]
        pair = [Fact(content="batched after the restart"), Fact(content="its neighbour")]

        async def batch() -> None:
            async with mem.batch() as b:
                for fact in pair:
                    b.facts.add(fact)

        async with anyio.create_task_group() as tg:
            for fact in singles:
                tg.start_soon(mem.facts.add, fact)
            tg.start_soon(batch)
        for fact in singles + pair:
            assert (await mem.facts.get(fact.id)).content == fact.content
