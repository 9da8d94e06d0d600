"""S1 from several processes at once on one PostgreSQL database: `python -m bench.pg_processes`.

Each process stands for one machine of agents: it opens its own system (memactor runs one writer actor per
process), waits at a barrier with the others, then writes its share of new episodes (``--agents`` asyncio
agents each awaiting one add at a time, or psycopg alone). The figure is every process's writes over the wall
time from the barrier's release until the last process has had its last write acknowledged. Systems run in
interleaved rounds, each in a fresh schema, and are reported as ratios to ``pg-raw`` (512 rows per
transaction, the limit) like the main suite; results are appended as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import multiprocessing
import os
import statistics
import sys
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg

from memactor.postgres.schema import migrate

from .data import Generator
from .pg import PgSchema
from .systems.postgres import MemactorPgSystem, PgRawSystem

__all__ = ["main"]

SYSTEMS = ("pg-raw", "pg-raw-commit", "memactor-pg")


def _system(name: str, url: str) -> PgRawSystem | MemactorPgSystem:
    if name == "memactor-pg":
        return MemactorPgSystem(name, url)
    return PgRawSystem(name, url, commit_each=name == "pg-raw-commit")


async def _child_run(name: str, schema_url: str, index: int, writes: int, agents: int, barrier: Barrier) -> int:
    episodes = Generator().episodes(0, writes, prefix=f"p{index}-")
    system = _system(name, schema_url)
    await system.open_in(schema_url)
    try:
        await asyncio.to_thread(barrier.wait)
        if system.bulk_writes:
            await system.bulk(episodes)
        else:

            async def agent(i: int) -> None:
                for episode in episodes[i::agents]:
                    await system.write(episode)

            await asyncio.gather(*(agent(i) for i in range(agents)))
        await system.flush()
        return len(episodes)
    finally:
        await system.close_kept()


def _child(name: str, schema_url: str, index: int, writes: int, agents: int, barrier: Barrier, done: Any) -> None:
    try:
        count = asyncio.run(_child_run(name, schema_url, index, writes, agents, barrier))
        done.put((index, count, time.time(), None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the measurement
        barrier.abort()
        done.put((index, 0, time.time(), f"{type(exc).__name__}: {exc}"))


def _measure(name: str, url: str, processes: int, writes: int, agents: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    schema = PgSchema(url)
    schema.create()
    try:
        with psycopg.connect(schema.url, autocommit=True) as conn:
            migrate(conn)
        barrier = ctx.Barrier(processes + 1)
        done = ctx.Queue()
        children = [
            ctx.Process(target=_child, args=(name, schema.url, i, writes, agents, barrier, done))
            for i in range(processes)
        ]
        for child in children:
            child.start()
        barrier.wait(timeout=120)
        start = time.time()
        reports = [done.get(timeout=600) for _ in children]
        for child in children:
            child.join(timeout=120)
        errors = [r[3] for r in reports if r[3]]
        if errors:
            raise RuntimeError(f"{name}: {errors[0]}")
        with psycopg.connect(schema.url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM episodes").fetchone()
        stored = int(row[0]) if row else 0
        if stored != sum(r[1] for r in reports):
            raise RuntimeError(f"{name}: {sum(r[1] for r in reports)} writes acknowledged but {stored} stored")
        seconds = max(r[2] for r in reports) - start
        return {"ops": sum(r[1] for r in reports), "stored": stored, "seconds": seconds}
    finally:
        schema.drop()


def main(argv: list[str] | None = None) -> int:
    """Run the several-processes S1 and print a table; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.pg_processes", description=__doc__)
    parser.add_argument("--pg-url", default=os.environ.get("MEMACTOR_PG_URL"), help="default: $MEMACTOR_PG_URL")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--agents", type=int, default=64, help="agents per process (memactor-pg)")
    parser.add_argument("--writes", type=int, default=2_000, help="writes per process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--out", type=Path, default=Path("bench-results.jsonl"), help="JSON lines file (appended)")
    args = parser.parse_args(argv)
    if not args.pg_url:
        print("python -m bench.pg_processes: needs a PostgreSQL server: pass --pg-url or set MEMACTOR_PG_URL")
        return 2
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SYSTEMS]:
        print(f"python -m bench.pg_processes: unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
        return 2
    key = f"S1-{args.processes}x{args.agents}"
    rounds: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for round_ in range(args.rounds):
        for name in names:
            print(f"{key} {name} round {round_ + 1}", file=sys.stderr)
            rounds[name].append(_measure(name, args.pg_url, args.processes, args.writes, args.agents))
    value = {n: statistics.median(r["ops"] / r["seconds"] for r in rounds[n]) for n in names}
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    title = f"writes, {args.processes} processes x {args.agents} agents"
    print(f"\n{key}: {title}, {args.writes} writes per process, rounds={args.rounds}")
    with args.out.open("a", encoding="utf-8") as out:
        for name in names:
            ratio = value[name] / value["pg-raw"] if "pg-raw" in value else None
            print(f"  {name:<16} {value[name]:>10,.0f} ops/s  x pg-raw {'-' if ratio is None else f'{ratio:.2f}'}")
            line: dict[str, Any] = {"type": "result", "scenario": key, "group": "S1", "title": title, "unit": "ops/s"}
            line |= {"system": name, "value": value[name], "ratio_to_raw": ratio, "rounds": rounds[name]}
            out.write(json.dumps(line | {"note": None, "date": date, "cpus": os.cpu_count()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
