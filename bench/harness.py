"""Runs every scenario on every system in interleaved rounds (A B C A B C ...) and keeps the samples.

Absolute times drift on shared machines, so systems are compared within the same run and the same round,
and each figure is the median over rounds.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from .fixtures import Fixtures
from .measure import Sample
from .scenarios import Context, Scenario
from .systems import System, UnsupportedError

__all__ = ["Progress", "Result", "run"]


@dataclass(slots=True)
class Result:
    """All rounds of one system in one scenario.

    Attributes:
        scenario: The scenario.
        system: The system's name.
        samples: One per completed round.
        note: Why there are no samples (unsupported, or the error that stopped it).
    """

    scenario: Scenario
    system: str
    samples: list[Sample] = field(default_factory=list)
    note: str | None = None

    def median(self, figure: str) -> float | None:
        """Median over rounds of ``throughput``, ``p50``, ``p99`` or an ``extra`` key; None if absent."""
        values = [v for v in (_figure(s, figure) for s in self.samples) if v is not None]
        return statistics.median(values) if values else None


def _figure(sample: Sample, figure: str) -> float | None:
    if figure == "throughput":
        return sample.throughput
    if figure in ("p50", "p99"):
        return sample.latency_ms(float(figure[1:]))
    return sample.extra.get(figure)


class Progress:
    """A one-line progress report on stderr, rewritten in place on a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        """Expect ``total`` measurements."""
        self._total, self._done, self._stream = total, 0, stream
        self._start = time.perf_counter()
        self._tty = stream.isatty()

    def step(self, what: str) -> None:
        """Report that measurement ``what`` starts."""
        self._done += 1
        elapsed = time.perf_counter() - self._start
        line = f"[{self._done:>3}/{self._total}] {elapsed:5.0f}s  {what}"
        if self._tty:
            self._stream.write(f"\r\x1b[K{line}")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self._tty:
            self._stream.write("\r\x1b[K")
        self._stream.flush()


async def _measure(system: System, scenario: Scenario, ctx: Context, fixtures: Fixtures) -> Sample:
    # A hung system must cost one measurement, not the whole run.
    limit = 30.0 + 20 * ctx.sizes.budget
    async with asyncio.timeout(limit):
        await system.open(fixtures.fresh(system.layout, scenario.rows))
    try:
        async with asyncio.timeout(limit):
            sample = await scenario.body(system, ctx, scenario.agents)
        sample.extra.update(system.stats())
        return sample
    finally:
        async with asyncio.timeout(limit):
            await system.close()


def _one(system: System, scenario: Scenario, ctx: Context, fixtures: Fixtures, result: Result) -> None:
    try:
        result.samples.append(asyncio.run(_measure(system, scenario, ctx, fixtures)))
    except UnsupportedError as exc:
        result.note = str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken system must not void the others' figures
        result.note = f"failed: {type(exc).__name__}: {exc}"
        print(f"\n{system.name} / {scenario.key}: {result.note}", file=sys.stderr)
    finally:
        fixtures.discard()
        gc.collect()  # so one system's garbage is not collected on the next one's clock


def run(systems: Sequence[System], scenarios: Sequence[Scenario], ctx: Context, fixtures: Fixtures) -> list[Result]:
    """Measure each scenario on each system, ``ctx.sizes.rounds`` interleaved rounds.

    A system that is unsupported in a scenario, or fails, is noted and not retried in later rounds.

    Returns:
        One result per (scenario, participating system), in table order.
    """
    plan = [(sc, [s for s in systems if s.supports(sc.group)]) for sc in scenarios]
    progress = Progress(sum(len(p) for _, p in plan) * ctx.sizes.rounds)
    results: list[Result] = []
    for scenario, participants in plan:
        _prepare(scenario, participants, fixtures)
        mine = {s.name: Result(scenario, s.name) for s in participants}
        for round_ in range(ctx.sizes.rounds):
            for system in participants:
                progress.step(f"{scenario.key} {scenario.title} · {system.name} · round {round_ + 1}")
                if mine[system.name].note is None:
                    _one(system, scenario, ctx, fixtures, mine[system.name])
        results += mine.values()
    progress.close()
    return results


def _prepare(scenario: Scenario, participants: Sequence[System], fixtures: Fixtures) -> None:
    # Build templates before the first round so no system's round includes another's setup, then flush
    # them to disk so the first measurement's fsyncs do not pay for writing them back.
    for layout in {s.layout for s in participants}:
        fixtures.template(layout, scenario.rows)
    os.sync()
