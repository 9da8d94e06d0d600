"""What one measurement produces, and the small tools to take it: latencies, percentiles, resident memory."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Latencies", "Sample", "percentile", "rss_bytes"]

T = TypeVar("T")


@dataclass(slots=True)
class Sample:
    """One system, one scenario, one round.

    Attributes:
        ops: Operations completed (rows for bulk and stream scenarios).
        seconds: Wall time of the timed section.
        latencies: Seconds per operation (per group, for the predecessor's scenarios).
        extra: Scenario- or system-specific figures (RSS growth, memactor's batch sizes).
    """

    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Operations per second."""
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, q: float) -> float | None:
        """The ``q``-th percentile of latency in milliseconds, or None without latencies."""
        return percentile(self.latencies, q) * 1e3 if self.latencies else None


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of ``values``, interpolating between the nearest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Latencies:
    """Collects the latency of each awaited operation, and stops new ones after a deadline.

    The deadline keeps slow peers (one fsync per write, OFFSET paging) from stretching a run: they do fewer
    operations in bounded time, and throughput is still operations over elapsed time.
    """

    def __init__(self, budget: float) -> None:
        """Start the clock; operations may start for ``budget`` seconds."""
        self.values: list[float] = []
        self.deadline = time.perf_counter() + budget

    @property
    def expired(self) -> bool:
        """Whether the time budget is spent."""
        return time.perf_counter() >= self.deadline

    async def time(self, operation: Awaitable[T]) -> T:
        """Await ``operation`` and record how long it took."""
        start = time.perf_counter()
        result = await operation
        self.values.append(time.perf_counter() - start)
        return result


def rss_bytes() -> int:
    """Return this process's resident set size now (Linux), or its peak elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        # ru_maxrss is a peak, in kilobytes on Linux-likes: growth still shows, a drop never does.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
