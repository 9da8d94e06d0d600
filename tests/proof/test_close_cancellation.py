"""Never two writers, however `close()` is cancelled: 1,000 random cancellations of a closing handle with
writes queued, each followed at once by a second `open()` of the same file, in this process and in another.

The lock is checked against what really writes: while a handle's lock is free, no writer thread of its may
be alive (its connection is closed before its thread ends), and a second writer, here or in another
process, is admitted only once the first one's thread (and so its connection) is gone.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import memactor
from memactor import Fact

ROUNDS = int(os.environ.get("MEMACTOR_CLOSE_ROUNDS", "1000"))
CROSS_ROUNDS = int(os.environ.get("MEMACTOR_CLOSE_CROSS_ROUNDS", "150"))
HANG = 30  # seconds: only to turn a hang into a failure


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "memactor-writer" and t.is_alive()]


async def queue_writes(mem: Any, rng: random.Random, most: int = 40) -> list[asyncio.Task[Any]]:
    writes = [asyncio.ensure_future(mem.facts.add(Fact(content=f"w{i}"))) for i in range(rng.randint(1, most))]
    await asyncio.sleep(0)  # into the mailbox
    return writes


async def cancel_close(mem: Any, rng: random.Random) -> None:
    """Cancel ``mem.close()`` after a random 0-3 ms, one of two ways."""
    delay = rng.uniform(0, 0.003)
    if rng.random() < 0.5:
        try:
            await asyncio.wait_for(mem.close(), delay)
        except TimeoutError:
            pass
    else:
        closing = asyncio.ensure_future(mem.close())
        await asyncio.sleep(delay)
        closing.cancel()
        try:
            await closing
        except asyncio.CancelledError:
            pass


async def settle(mem: Any, writes: list[asyncio.Task[Any]]) -> None:
    """Finish the first handle's close and check every write that was acknowledged or refused."""
    await asyncio.wait_for(mem.close(), HANG)
    assert not writer_threads(), "a writer thread outlived close()"
    for write in writes:
        try:
            await write
        except memactor.ClosedError:
            pass  # it never entered the mailbox


def lock_is_free(path: Path) -> bool:
    """Whether the writer lock of ``path`` could be taken now (taken and dropped again at once)."""
    fd = os.open(f"{os.path.realpath(path)}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def check_one_writer(path: Path) -> None:
    """The lock may be free only once the first writer's thread (and connection) is gone."""
    alive = writer_threads()
    assert not (alive and lock_is_free(path)), f"the lock is free while {alive} still writes"


async def rounds_in_this_process(path: Path, rounds: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    seen = {"refused": 0, "admitted": 0}
    for _ in range(rounds):
        first = memactor.open(path, durability="normal")
        await first.__aenter__()
        writes = await queue_writes(first, rng)
        await cancel_close(first, rng)
        check_one_writer(path)
        second = memactor.open(path, durability="normal")
        try:
            await asyncio.wait_for(second.__aenter__(), HANG)
        except memactor.AlreadyOpenError:
            seen["refused"] += 1
        else:
            seen["admitted"] += 1
            assert len(writer_threads()) == 1, "two writer threads on one file"
            await second.close()
        await settle(first, writes)
    return seen


def test_a_cancelled_close_never_admits_a_second_writer_in_this_process(tmp_path: Path) -> None:
    seen = asyncio.run(rounds_in_this_process(tmp_path / "m.db", ROUNDS, seed=8))
    # Both outcomes happened, so the race was really run both ways.
    assert seen["refused"] > 0 and seen["admitted"] > 0, seen


PROBE = textwrap.dedent(
    """
    import asyncio, sys
    import memactor

    async def main(path):
        for line in sys.stdin:
            if line.strip() != "try":
                break
            mem = memactor.open(path, durability="normal")
            try:
                await mem.__aenter__()
            except memactor.AlreadyOpenError:
                print("refused", flush=True)
                continue
            # SQLite's own view: while this process holds the file for writing, nobody else commits to it.
            before = await mem.facts.count()
            await asyncio.sleep(0.02)
            after = await mem.facts.count()
            # Hold the file until told: the parent checks its own writer while this one is open.
            print("opened", before, after, flush=True)
            sys.stdin.readline()
            await mem.close()
            print("closed", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def rounds_against_another_process(path: Path, rounds: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    seen = {"refused": 0, "admitted": 0}
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert probe.stdin is not None and probe.stdout is not None

    def ask(line: str) -> str:
        probe.stdin.write(line + "\n")  # type: ignore[union-attr]
        probe.stdin.flush()  # type: ignore[union-attr]
        return probe.stdout.readline().strip()  # type: ignore[union-attr]

    try:
        for _ in range(rounds):
            # One command per commit, each synced: the queued writes take a while to drain after the cancel.
            first = memactor.open(path, max_batch=1)
            await first.__aenter__()
            writes = await queue_writes(first, rng, most=60)
            await cancel_close(first, rng)
            # From a thread, so the first handle's close goes on meanwhile: the race is run both ways.
            answer = await asyncio.to_thread(ask, "try")
            if answer.startswith("opened"):
                seen["admitted"] += 1
                _, before, after = answer.split()
                assert before == after, f"another writer committed while the probe held the file: {answer}"
                # The other process writes now: this one must have no writer left.
                assert not writer_threads(), "another process opened the file while this one's writer lived"
                assert ask("close") == "closed"
            else:
                assert answer == "refused", answer
                seen["refused"] += 1
            await settle(first, writes)
    finally:
        probe.stdin.close()
        probe.wait(timeout=HANG)
        probe.stdout.close()
    return seen


def test_a_cancelled_close_never_admits_a_writer_in_another_process(tmp_path: Path) -> None:
    seen = asyncio.run(rounds_against_another_process(tmp_path / "m.db", CROSS_ROUNDS, seed=9))
    assert seen["refused"] > 0 and seen["admitted"] > 0, seen
