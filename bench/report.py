"""What a run leaves behind: the table on stdout, JSON lines in a file, and the machine it ran on."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from typing import Any, TextIO

from .harness import Result
from .scenarios import Sizes
from .targets import Check, speed_ratio, value

__all__ = ["environment", "print_table", "write_jsonl"]

_PEER_FAMILIES = ("raw", "locked", "langgraph")
_PACKAGES = (
    "memactor", "aiosqlite", "anyio", "langgraph-checkpoint-sqlite", "psycopg", "langgraph-checkpoint-postgres",
)  # fmt: skip
_PG_SYSTEMS = frozenset({"pg-raw", "pg-raw-commit", "memactor-pg", "memactor-pg-replica", "langgraph-pg"})
# What the predecessor's write-up reports for it, shown beside what this run measures.
_CLAIMED_MS = {"P1": 15.0, "P2": 45.0, "P3": 500.0, "P4": 300.0}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine(mode: str, packages: Sequence[str] = _PACKAGES) -> dict[str, Any]:
    """Describe a run of any benchmark: when, on what machine, with which Python, SQLite and ``packages``."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {p: _version(p) for p in packages},
    }


def environment(mode: str, sizes: Sizes) -> dict[str, Any]:
    """Describe a run of the main suite: `machine`, and the sizes of its scenarios."""
    return {**machine(mode), "sizes": asdict(sizes)}


def _reference(system: str) -> str:
    # PostgreSQL systems are measured against the driver on the same server, not against SQLite.
    return "pg-raw" if system in _PG_SYSTEMS else "raw"


def _ratios(results: Sequence[Result]) -> dict[tuple[str, str], float | None]:
    by_key = {(r.scenario.key, r.system): r for r in results}
    ratios: dict[tuple[str, str], float | None] = {}
    for r in results:
        ref = by_key.get((r.scenario.key, _reference(r.system)))
        ratios[(r.scenario.key, r.system)] = speed_ratio(r, ref) if ref else None
    return ratios


def write_jsonl(out: TextIO, env: dict[str, Any], results: Sequence[Result], checks: Sequence[Check]) -> None:
    """Write one ``run`` line, one ``result`` line per (scenario, system), one ``target`` line per check."""
    out.write(json.dumps({"type": "run", **env}) + "\n")
    ratios = _ratios(results)
    short_env = {k: env[k] for k in ("date", "machine", "cpus", "python", "sqlite")}
    for r in results:
        out.write(json.dumps(_result_line(r, ratios[(r.scenario.key, r.system)], short_env)) + "\n")
    for c in checks:
        line = {"type": "target", "label": c.target.label, "measured": c.measured, "met": c.met}
        out.write(json.dumps({**line, "goal": c.target.goal, **short_env}) + "\n")


def _result_line(r: Result, ratio: float | None, env: dict[str, Any]) -> dict[str, Any]:
    sc = r.scenario
    extras = sorted({k for s in r.samples for k in s.extra})
    return {
        "type": "result",
        "scenario": sc.key,
        "group": sc.group,
        "title": sc.title,
        "agents": sc.agents,
        "unit": sc.unit,
        "system": r.system,
        "value": value(r),
        "throughput": r.median("throughput"),
        "p50_ms": r.median("p50"),
        "p99_ms": r.median("p99"),
        "ratio_to_raw": ratio,
        "extra": {k: r.median(k) for k in extras},
        "rounds": [
            {"ops": s.ops, "seconds": s.seconds, "p50_ms": s.latency_ms(50), "p99_ms": s.latency_ms(99), **s.extra}
            for s in r.samples
        ],
        "note": r.note,
        **env,
    }


def _num(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def print_table(out: TextIO, env: dict[str, Any], results: Sequence[Result], checks: Sequence[Check]) -> None:
    """Print each scenario's systems with their ratio to ``raw``, memactor's ratios to each peer, and targets."""
    out.write(f"memactor bench ({env['mode']}) {env['date']}  {env['cpu']} x{env['cpus']}  ")
    out.write(f"Python {env['python']}  SQLite {env['sqlite']}  rounds={env['sizes']['rounds']}\n")
    ratios = _ratios(results)
    for key in dict.fromkeys(r.scenario.key for r in results):
        rows = [r for r in results if r.scenario.key == key]
        _print_scenario(out, rows, ratios)
    _print_targets(out, checks)


def _print_scenario(out: TextIO, rows: Sequence[Result], ratios: dict[tuple[str, str], float | None]) -> None:
    sc = rows[0].scenario
    head = "ms p50" if sc.unit == "ms" else sc.unit
    claimed = f"  (the predecessor's write-up reports {_CLAIMED_MS[sc.key]:.0f} ms)" if sc.key in _CLAIMED_MS else ""
    out.write(f"\n{sc.key}: {sc.title}{claimed}\n")
    out.write(f"  {'system':<20} {head:>10} {'p50 ms':>9} {'p99 ms':>9} {'x raw':>7}  notes\n")
    for r in rows:
        main = _num(value(r), 1 if sc.unit == "ms" else 0)
        notes = r.note or _notes(r)
        ratio = _num(ratios[(sc.key, r.system)], 2)
        line = f"  {r.system:<20} {main:>10} {_num(r.median('p50'), 2):>9} {_num(r.median('p99'), 2):>9} {ratio:>7}"
        out.write(f"{line}  {notes}\n")
    for mine in (r for r in rows if r.system.startswith("memactor") and r.samples):
        pg = mine.system in _PG_SYSTEMS
        peers = [p for p in rows if p.samples and p is not mine and _is_peer(p.system, pg)]
        vs = ", ".join(f"{p.system} {_num(speed_ratio(mine, p), 2)}x" for p in peers)
        if vs:
            out.write(f"  {mine.system} vs peers: {vs}\n")


def _is_peer(system: str, pg: bool) -> bool:
    # Each memactor variant is compared with the peers on its own engine, and a replica with its primary.
    if pg:
        return system in _PG_SYSTEMS and system != "pg-raw"
    return system not in _PG_SYSTEMS and system.split("-")[0] in _PEER_FAMILIES[1:]


def _notes(r: Result) -> str:
    parts = []
    if (batch := r.median("mean_batch")) is not None:
        parts.append(f"mean batch {batch:.1f}")
    if (rss := r.median("rss_growth_mb")) is not None:
        parts.append(f"RSS +{rss:.1f} MB")
    return ", ".join(parts)


def _print_targets(out: TextIO, checks: Sequence[Check]) -> None:
    if not checks:
        return
    out.write("\ndesign targets\n")
    for c in checks:
        verdict = {True: "met", False: "missed", None: "n/a"}[c.met]
        out.write(f"  {verdict:<8} {c.target.label:<56} measured {_num(c.measured, 2)}\n")
