"""`Statistics`: a frozen snapshot of what the writer and the read pool have done."""

from __future__ import annotations

import statistics
from collections import Counter, deque
from dataclasses import dataclass, field

__all__ = ["Statistics", "WriterCounters"]


@dataclass(frozen=True, slots=True)
class Statistics:
    """What the handle has done since it was opened.

    Attributes:
        queue_depth: Commands waiting in the mailbox now.
        queue_capacity: The mailbox's bound (``max_pending``).
        batches: Group commits made.
        commands: Commands applied (including rejected ones).
        mean_batch_size: Commands per group commit, on average.
        max_batch_size: The largest group commit.
        batch_size_histogram: Group commits by size bucket: ``{1: n, 2: n, 4: n, ...}``, each bucket counting
            sizes from that power of two up to the next.
        commit_p50_ms: Median time of one group commit's thread hop (apply + COMMIT), recent batches.
        commit_p99_ms: Its 99th percentile.
        reads: Queries answered by the read pool.
    """

    queue_depth: int
    queue_capacity: int
    batches: int
    commands: int
    mean_batch_size: float
    max_batch_size: int
    batch_size_histogram: dict[int, int]
    commit_p50_ms: float
    commit_p99_ms: float
    reads: int


@dataclass(slots=True)
class WriterCounters:
    """The writer's running counts; only the writer task updates them."""

    batches: int = 0
    commands: int = 0
    max_batch_size: int = 0
    sizes: Counter[int] = field(default_factory=Counter)
    commit_ms: deque[float] = field(default_factory=lambda: deque(maxlen=4096))

    def record(self, size: int, seconds: float) -> None:
        """Count one group commit of ``size`` commands that took ``seconds``."""
        self.batches += 1
        self.commands += size
        self.max_batch_size = max(self.max_batch_size, size)
        self.sizes[1 << (size.bit_length() - 1)] += 1
        self.commit_ms.append(seconds * 1000.0)

    def snapshot(self, *, queue_depth: int, queue_capacity: int, reads: int) -> Statistics:
        """Freeze the counts together with the mailbox's and the pool's."""
        times = sorted(self.commit_ms)
        return Statistics(
            queue_depth=queue_depth,
            queue_capacity=queue_capacity,
            batches=self.batches,
            commands=self.commands,
            mean_batch_size=self.commands / self.batches if self.batches else 0.0,
            max_batch_size=self.max_batch_size,
            batch_size_histogram=dict(sorted(self.sizes.items())),
            commit_p50_ms=statistics.median(times) if times else 0.0,
            commit_p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0,
            reads=reads,
        )
