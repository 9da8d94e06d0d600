"""What a thread hop costs on the write path: asyncio's own primitives (what memactor's lanes use) against
anyio's portable ones (what running on trio as well would take). ``python -m bench.primitives``.

Each round answers callers from one dedicated thread, as a lane does, in the same run and interleaved:
- ``asyncio``: an ``asyncio.Future`` per caller, settled by one ``loop.call_soon_threadsafe`` per hop;
- ``anyio``: an ``anyio.Event`` per caller, set by one ``anyio.from_thread.run_sync`` per hop (the only
  portable way back to the loop from a foreign thread, and a blocking one);
- ``to_thread``: ``anyio.to_thread.run_sync`` per call (anyio's worker pool, no dedicated thread).
Two shapes: one caller at a time (latency of a lone write), and 64 callers answered in one hop (a group
commit). Prints microseconds per call and the ratio to ``asyncio``.
"""

from __future__ import annotations

import asyncio
import queue
import statistics
import threading
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

CALLS = 4000
ROUNDS = 5


def _work() -> int:
    return 1


async def asyncio_hops(calls: int, group: int) -> None:
    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[list[asyncio.Future[int]] | None] = queue.SimpleQueue()

    def serve() -> None:
        while (futures := jobs.get()) is not None:
            results = [_work() for _ in futures]
            loop.call_soon_threadsafe(_settle, futures, results)

    thread = threading.Thread(target=serve)
    thread.start()
    for _ in range(calls // group):
        futures = [loop.create_future() for _ in range(group)]
        jobs.put(futures)
        await asyncio.gather(*futures)
    jobs.put(None)
    thread.join()


def _settle(futures: list[asyncio.Future[int]], results: list[int]) -> None:
    for future, result in zip(futures, results, strict=True):
        future.set_result(result)


async def anyio_hops(calls: int, group: int) -> None:
    token = anyio.lowlevel.current_token()
    jobs: queue.SimpleQueue[list[anyio.Event] | None] = queue.SimpleQueue()

    def serve() -> None:
        while (events := jobs.get()) is not None:
            [_work() for _ in events]
            anyio.from_thread.run_sync(_set_all, events, token=token)

    thread = threading.Thread(target=serve)
    thread.start()
    for _ in range(calls // group):
        events = [anyio.Event() for _ in range(group)]
        jobs.put(events)
        for event in events:
            await event.wait()
    jobs.put(None)
    await anyio.to_thread.run_sync(thread.join)


def _set_all(events: list[anyio.Event]) -> None:
    for event in events:
        event.set()


async def to_thread_hops(calls: int, group: int) -> None:
    for _ in range(calls // group):
        async with anyio.create_task_group() as tg:
            for _ in range(group):
                tg.start_soon(anyio.to_thread.run_sync, _work)


SYSTEMS: dict[str, Callable[[int, int], Awaitable[None]]] = {
    "asyncio": asyncio_hops,
    "anyio": anyio_hops,
    "to_thread": to_thread_hops,
}


async def measure() -> dict[tuple[str, int], float]:
    samples: dict[tuple[str, int], list[float]] = {}
    for _ in range(ROUNDS):
        for group in (1, 64):
            for name, system in SYSTEMS.items():  # interleaved: drift on a shared machine hits all alike
                started = time.perf_counter()
                await system(CALLS, group)
                samples.setdefault((name, group), []).append((time.perf_counter() - started) / CALLS * 1e6)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    results = anyio.run(measure, backend="asyncio")
    print(f"{'shape':<22}{'system':<12}{'us/call':>10}{'x asyncio':>12}")
    for group in (1, 64):
        base = results[("asyncio", group)]
        for name in SYSTEMS:
            value = results[(name, group)]
            shape = "one caller" if group == 1 else "64 callers, one hop"
            print(f"{shape:<22}{name:<12}{value:>10.2f}{value / base:>12.2f}")


if __name__ == "__main__":
    main()
