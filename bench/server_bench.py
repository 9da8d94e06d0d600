"""Server mode benchmark: 8 processes x 8 agents through ``memactor serve`` vs 64 agents in one process.

Run as ``python -m bench.server_bench [--procs 8] [--agents 8] [--ops 300] [--rounds 1]``. For each scenario
(writes, reads, mixed: 3 writes to 6 reads) it measures, interleaved in the same run:

- ``open``: all agents as tasks of one process on ``memactor.open()`` (the single-process figure);
- ``server``: ``procs`` client processes of ``agents`` tasks each, through one ``memactor serve`` process;
- ``server+local_reads``: the same with ``connect(..., local_reads=True)``.

Throughput is total operations over the wall time from a common start to the last agent's end. The table
gives each figure and its ratio to ``open``; the design target is server writes >= 0.5x ``open``.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import anyio

import memactor
from memactor import Episode

SCENARIOS = ("writes", "reads", "mixed")


async def agent(mem: Any, scenario: str, ops: int, ids: list[str], seed: int) -> None:
    for n in range(ops):
        write = scenario == "writes" or (scenario == "mixed" and n % 3 == 0)
        if write:
            await mem.episodes.add(Episode(task=f"agent {seed} task {n}", agent_id=f"a{seed}"))
        else:
            await mem.episodes.get(ids[(seed * 7919 + n) % len(ids)])


async def run_agents(mem: Any, scenario: str, agents: int, ops: int, ids: list[str], offset: int) -> None:
    async with anyio.create_task_group() as group:
        for n in range(agents):
            group.start_soon(agent, mem, scenario, ops, ids, offset + n)


async def seed(path: Path, count: int = 2000) -> list[str]:
    async with memactor.open(path, durability="normal") as mem:
        return await mem.episodes.add_many(Episode(task=f"seed {n}") for n in range(count))


async def single(
    path: Path, scenario: str, agents: int, ops: int, ids: list[str], durability: Literal["full", "normal"]
) -> float:
    async with memactor.open(path, durability=durability) as mem:
        started = time.perf_counter()
        await run_agents(mem, scenario, agents, ops, ids, 0)
        return agents * ops / (time.perf_counter() - started)


async def worker(
    url: str, scenario: str, agents: int, ops: int, ids_file: str, start_at: float, offset: int, local_reads: bool
) -> None:
    ids = Path(ids_file).read_text().split()
    async with memactor.connect(url, local_reads=local_reads) as mem:
        await anyio.sleep(max(0.0, start_at - time.time()))
        await run_agents(mem, scenario, agents, ops, ids, offset)
    print(json.dumps({"end": time.time()}))


def served(path: Path, scenario: str, args: argparse.Namespace, ids_file: Path, local_reads: bool) -> float:
    socket_dir = tempfile.mkdtemp(prefix="msb-", dir="/tmp")
    url = f"unix://{socket_dir}/s.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "memactor", "serve", str(path), "--listen", url, "--durability", args.durability],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        ready, _, _ = select.select([server.stderr], [], [], 30)
        if not ready or "serving" not in server.stderr.readline():
            raise RuntimeError("the server did not start")
        start_at = time.time() + 2.0 + 0.1 * args.procs  # every worker connected and waiting by then
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.server_bench",
                    "--worker",
                    url,
                    scenario,
                    str(args.agents),
                    str(args.ops),
                    str(ids_file),
                    str(start_at),
                    str(n * args.agents),
                    "1" if local_reads else "0",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(args.procs)
        ]
        ends = [json.loads(w.communicate(timeout=600)[0])["end"] for w in workers]
        return float(args.procs * args.agents * args.ops / (max(ends) - start_at))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        if server.stderr is not None:
            server.stderr.close()
        shutil.rmtree(socket_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; prints a table and returns 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        url, scenario, agents, ops, ids_file, start_at, offset, local = argv[1:9]
        anyio.run(
            worker,
            url,
            scenario,
            int(agents),
            int(ops),
            ids_file,
            float(start_at),
            int(offset),
            local == "1",
            backend="asyncio",
        )
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.server_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--agents", type=int, default=8, help="agents (tasks) per process")
    parser.add_argument("--ops", type=int, default=300, help="operations per agent")
    parser.add_argument("--rounds", type=int, default=1, help="repeat and report medians")
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", default=None, help="append JSON lines here")
    args = parser.parse_args(argv)
    total = args.procs * args.agents
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for scenario in args.scenarios.split(","):
                for system in ("open", "server", "server+local_reads"):
                    db = Path(tmp) / f"{scenario}-{system}-{len(results)}.db"
                    ids = anyio.run(seed, db, backend="asyncio")
                    ids_path = Path(tmp) / "ids.txt"
                    ids_path.write_text("\n".join(ids))
                    if system == "open":
                        rate = anyio.run(single, db, scenario, total, args.ops, ids, args.durability, backend="asyncio")
                    else:
                        rate = served(db, scenario, args, ids_path, system.endswith("local_reads"))
                    results.setdefault((scenario, system), []).append(rate)
                    print(f"  {scenario:7} {system:19} {rate:10,.0f} ops/s", file=sys.stderr, flush=True)
    print(
        f"\n{total} agents ({args.procs} processes x {args.agents} through the server), {args.ops} ops each, "
        f"durability={args.durability}, {os.cpu_count()} CPUs"
    )
    print("| scenario | open (1 process) ops/s | server ops/s | ratio | server+local_reads ops/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for scenario in args.scenarios.split(","):
        base = statistics.median(results[(scenario, "open")])
        remote = statistics.median(results[(scenario, "server")])
        local_reads = statistics.median(results[(scenario, "server+local_reads")])
        print(
            f"| {scenario} | {base:,.0f} | {remote:,.0f} | {remote / base:.2f}x"
            f" | {local_reads:,.0f} | {local_reads / base:.2f}x |"
        )
        if args.json:
            with open(args.json, "a") as out:
                figures = {"scenario": scenario, "open": base, "server": remote, "local_reads": local_reads}
                out.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
