"""The design targets memactor aims for, as ratios to its baselines, checked against one run's medians."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .harness import Result

__all__ = ["Check", "TARGETS", "Target", "check", "value"]


def value(result: Result) -> float | None:
    """The headline figure of a result: median throughput, or median p50 latency for ``ms`` scenarios."""
    return result.median("p50" if result.scenario.unit == "ms" else "throughput")


def speed_ratio(mine: Result, other: Result) -> float | None:
    """How many times faster ``mine`` is than ``other`` (> 1 is faster), whatever the unit."""
    a, b = value(mine), value(other)
    if a is None or b is None or a == 0 or b == 0:
        return None
    return b / a if mine.scenario.unit == "ms" else a / b


@dataclass(frozen=True, slots=True)
class Target:
    """One goal: ``system``'s figure in ``scenario`` against ``reference`` (a system, or a bound).

    Attributes:
        label: The target, as the report prints it.
        scenario: Scenario key.
        system: The memactor variant measured.
        reference: The system compared against; empty for an absolute bound on ``figure``.
        figure: ``ratio`` for a speed ratio, else a figure name (``p99``, ``rss_growth_mb``).
        goal: The bound.
        at_least: Whether the figure must be at least (True) or at most (False) the goal.
    """

    label: str
    scenario: str
    system: str
    reference: str
    goal: float
    figure: str = "ratio"
    at_least: bool = True


_N = "memactor-normal"
_PG = "memactor-pg"
TARGETS = (
    Target("S1 64 agents, normal: >= 0.7x raw executemany", "S1-64", _N, "raw", 0.7),
    Target("S1 64 agents, normal: >= 3x locked (WAL+NORMAL)", "S1-64", _N, "locked-wal", 3.0),
    Target("S1 64 agents, normal: >= 1.5x langgraph (WAL+NORMAL)", "S1-64", _N, "langgraph-wal", 1.5),
    Target("S1 64 agents, normal: p99 <= 5 ms", "S1-64", _N, "", 5.0, "p99", at_least=False),
    Target("S1 1 agent, normal: >= 0.25x raw commit-per-row", "S1-1", _N, "raw-commit", 0.25),
    Target("S2 64 agents: >= 0.6x raw", "S2-64", _N, "raw", 0.6),
    Target("S3: >= 0.75x raw", "S3", _N, "raw", 0.75),
    Target("S4: >= 0.8x raw executemany", "S4", _N, "raw", 0.8),
    Target("S5: >= 0.8x raw scan", "S5", _N, "raw", 0.8),
    Target("S5: RSS growth < 16 MB", "S5", _N, "", 16.0, "rss_growth_mb", at_least=False),
    Target("S1 64 agents, full: >= 5x raw commit-per-row FULL", "S1-64", "memactor", "raw-commit-full", 5.0),
    Target("S1 64 agents, full: >= 0.85x memactor normal", "S1-64", "memactor", _N, 0.85),
    # PostgreSQL: against psycopg alone on the same server (512 rows per transaction; one commit per row).
    Target("PG S1 64 agents: >= 0.8x pg-raw (512 rows per transaction)", "S1-64", _PG, "pg-raw", 0.8),
    Target("PG S1 256 agents: >= 0.8x pg-raw (512 rows per transaction)", "S1-256", _PG, "pg-raw", 0.8),
    Target("PG S1 64 agents: >= 5x pg-raw-commit (one commit per row)", "S1-64", _PG, "pg-raw-commit", 5.0),
    Target("PG S1 256 agents: >= 5x pg-raw-commit (one commit per row)", "S1-256", _PG, "pg-raw-commit", 5.0),
    Target("PG S2 64 agents: reads through 1 replica >= 1x primary only", "S2-64", f"{_PG}-replica", _PG, 1.0),
)


@dataclass(frozen=True, slots=True)
class Check:
    """A target and what this run measured for it (None when a side was not measured)."""

    target: Target
    measured: float | None

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None when not measured."""
        if self.measured is None:
            return None
        goal = self.target.goal
        return self.measured >= goal if self.target.at_least else self.measured <= goal


def check(results: Sequence[Result]) -> list[Check]:
    """Evaluate every target whose scenario ran."""
    by_key = {(r.scenario.key, r.system): r for r in results}
    checks = []
    for target in TARGETS:
        mine = by_key.get((target.scenario, target.system))
        if mine is None:
            continue
        if target.figure == "ratio":
            other = by_key.get((target.scenario, target.reference))
            measured = speed_ratio(mine, other) if other else None
        else:
            measured = mine.median(target.figure)
        checks.append(Check(target, measured))
    return checks
