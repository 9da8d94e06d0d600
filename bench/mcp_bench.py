"""MCP benchmark: N MCP client processes over stdio on one memory file, memactor against the reference server.

Run as ``python -m bench.mcp_bench [--clients 8] [--writes 50] [--recalls 50] [--rounds 3]``. Each client is
an OS process holding an MCP stdio client (the SDK's ``mcp.Client``) that launches its own server process,
as MCP hosts do, all on one file:

- ``memactor``: ``memactor mcp PATH`` (native tools: ``record_episode`` to write, ``recall`` to search);
  every such process reaches the file's one ``memactor serve`` (started on demand, durability ``full``:
  each commit is fsynced before it is acknowledged).
- ``reference``: the npm package ``@modelcontextprotocol/server-memory`` run by node with
  ``MEMORY_FILE_PATH`` (``create_entities`` with one entity per call to write, ``search_nodes`` to search).
  It rewrites its whole JSONL file on every change (without fsync), so concurrent processes overwrite each
  other's writes: its LOST writes (acknowledged, yet absent from ``read_graph`` at the end) are reported
  beside its throughput.

Every client connects first; then all start writing at one instant (writes/s = all writes over the time
from that instant to the last client's last write), wait for each other, and all recall (recalls/s the
same way). p99 is over every call of every client. Rounds interleave the systems (the order alternates),
each trial on a fresh file; the table gives medians over rounds and ratios to the reference measured in
the same run, and ``--json`` gets one JSON line per trial and one per system.

The reference server is found at ``--reference`` (default: ``$MEMACTOR_BENCH_REFERENCE``, else
``/tmp/refmem/node_modules/@modelcontextprotocol/server-memory/dist/index.js``, where
``npm install --prefix /tmp/refmem @modelcontextprotocol/server-memory`` puts it) and run with ``--node``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

CHECKOUT = Path(__file__).resolve().parents[1]
REFERENCE_ENV = "MEMACTOR_BENCH_REFERENCE"
DEFAULT_REFERENCE = "/tmp/refmem/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
SYSTEMS = ("memactor", "reference")
_POLL = 0.005


def _server_params(system: str, path: str, reference: str, node: str) -> Any:
    from mcp import StdioServerParameters

    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    if system == "memactor":
        return StdioServerParameters(command=sys.executable, args=["-m", "memactor", "mcp", path], env=env)
    return StdioServerParameters(command=node, args=[reference], env={**env, "MEMORY_FILE_PATH": path})


def _write_call(system: str, client: int, n: int) -> tuple[str, dict[str, Any]]:
    if system == "memactor":
        return "record_episode", {"task": f"bench note c{client} w{n}", "outcome": f"deploy step {n}"}
    entity = {"name": f"c{client}-w{n}", "entityType": "note", "observations": [f"deploy step {n}"]}
    return "create_entities", {"entities": [entity]}


def _recall_call(system: str, client: int, n: int) -> tuple[str, dict[str, Any]]:
    if system == "memactor":
        return "recall", {"query": f"c{client} w{n}"}
    return "search_nodes", {"query": f"c{client}-w{n}"}


def _acknowledged(system: str, result: Any, client: int, n: int) -> str | None:
    """What a successful write call wrote: memactor's record id, the reference's entity name."""
    if result.is_error:
        return None
    if system == "memactor":
        return str(result.structured_content["id"])
    return f"c{client}-w{n}"


def _wait_for_files(directory: Path, prefix: str, count: int) -> None:
    while len(list(directory.glob(f"{prefix}.*"))) < count:
        time.sleep(_POLL)


async def _worker(args: argparse.Namespace) -> None:
    from mcp import Client

    sync = Path(args.sync)
    params = _server_params(args.system, args.path, args.reference, args.node)
    writes: list[float] = []
    recalls: list[float] = []
    acked: list[str] = []
    errors: list[str] = []
    async with Client(params, read_timeout_seconds=300) as client:
        (sync / f"ready.{args.index}").touch()
        while not (sync / "go").exists():
            await anyio.sleep(_POLL)
        start_at = float((sync / "go").read_text())
        await anyio.sleep(max(0.0, start_at - time.time()))
        for n in range(args.writes):
            name, arguments = _write_call(args.system, args.index, n)
            began = time.perf_counter()
            result = await client.call_tool(name, arguments)
            writes.append(time.perf_counter() - began)
            written = _acknowledged(args.system, result, args.index, n)
            if written is None:
                errors.append(" ".join(getattr(part, "text", "") for part in result.content)[:300])
            else:
                acked.append(written)
        write_end = time.time()
        (sync / f"wrote.{args.index}").touch()
        await anyio.to_thread.run_sync(_wait_for_files, sync, "wrote", args.clients)
        recall_start = time.time()
        for n in range(args.recalls):
            name, arguments = _recall_call(args.system, (args.index + 1 + n) % args.clients, n % max(args.writes, 1))
            began = time.perf_counter()
            result = await client.call_tool(name, arguments)
            recalls.append(time.perf_counter() - began)
            if result.is_error:
                errors.append(" ".join(getattr(part, "text", "") for part in result.content)[:300])
        recall_end = time.time()
    summary = {
        "start_at": start_at,
        "write_end": write_end,
        "recall_start": recall_start,
        "recall_end": recall_end,
        "writes": writes,
        "recalls": recalls,
        "acked": acked,
        "errors": errors,
    }
    print(json.dumps(summary))


async def _reference_names(path: Path, reference: str, node: str) -> set[str]:
    from mcp import Client

    async with Client(_server_params("reference", str(path), reference, node), read_timeout_seconds=300) as client:
        graph = await client.call_tool("read_graph", {})
        assert graph.structured_content is not None, graph.content
        return {entity["name"] for entity in graph.structured_content["entities"]}


async def _memactor_present(path: Path, ids: list[str]) -> set[str]:
    from memactor.net.autostart import connect_or_start

    async with await connect_or_start(path) as memory:
        return {episode.id for episode in await memory.episodes.get_many(ids)}


def _serve_pids(path: Path) -> list[int]:
    """The ``memactor serve`` processes of ``path`` (a file of this run's own directory: ours)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"serve" in args and os.fsencode(path) in args:
            pids.append(int(entry.name))
    return pids


def _stop_servers(path: Path) -> None:
    for pid in _serve_pids(path):
        os.kill(pid, signal.SIGTERM)  # clean shutdown: drain, commit, checkpoint
    deadline = time.monotonic() + 30
    while _serve_pids(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def trial(system: str, directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One trial: ``args.clients`` client processes on a fresh file; returns the trial's figures."""
    path = directory / ("memory.db" if system == "memactor" else "memory.jsonl")
    sync = directory / "sync"
    sync.mkdir()
    options = ["--clients", str(args.clients), "--writes", str(args.writes), "--recalls", str(args.recalls)]
    options += ["--reference", args.reference, "--node", args.node]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.mcp_bench", "--worker", system, str(path), str(sync), str(index), *options],
            cwd=CHECKOUT,
            env={**os.environ, "PYTHONPATH": str(CHECKOUT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(args.clients)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(sync.glob("ready.*"))) < args.clients:
            failed = [worker for worker in workers if worker.poll() is not None]
            if failed or time.monotonic() > deadline:
                stderr = failed[0].communicate()[1] if failed else "(no client failed; they were too slow)"
                raise RuntimeError(f"{system}: a client did not connect: {stderr[-2000:]}")
            time.sleep(0.02)
        (sync / "go.tmp").write_text(repr(time.time() + 0.2))
        (sync / "go.tmp").rename(sync / "go")
        outputs = [worker.communicate(timeout=900) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            raise RuntimeError(f"{system}: a client failed: {stderr[-2000:]}")
    results = [json.loads(stdout) for stdout, _ in outputs]
    start = results[0]["start_at"]
    acked = [written for result in results for written in result["acked"]]
    if system == "memactor":
        kept = anyio.run(_memactor_present, path, acked, backend="asyncio")
        _stop_servers(path)
    else:
        kept = anyio.run(_reference_names, path, args.reference, args.node, backend="asyncio")
    writes = [latency for result in results for latency in result["writes"]]
    recalls = [latency for result in results for latency in result["recalls"]]
    recall_start = min(result["recall_start"] for result in results)
    write_time = max(result["write_end"] for result in results) - start
    return {
        "system": system,
        "clients": args.clients,
        "writes": len(writes),
        "acknowledged": len(acked),
        "lost": len(set(acked) - kept),
        "tool_errors": sum(len(result["errors"]) for result in results),
        "first_error": next((error for result in results for error in result["errors"]), None),
        "writes_per_s": len(writes) / write_time,
        "kept_writes_per_s": (len(acked) - len(set(acked) - kept)) / write_time,
        "write_p50_ms": 1000 * _percentile(writes, 0.50),
        "write_p99_ms": 1000 * _percentile(writes, 0.99),
        "recalls_per_s": len(recalls) / max(1e-9, max(result["recall_end"] for result in results) - recall_start),
        "recall_p50_ms": 1000 * _percentile(recalls, 0.50),
        "recall_p99_ms": 1000 * _percentile(recalls, 0.99),
    }


def _missing_reference(args: argparse.Namespace) -> str | None:
    if shutil.which(args.node) is None:
        return f"node ({args.node}) was not found: install Node.js, or pass --node PATH"
    if not os.path.isfile(args.reference):
        return (
            f"the reference server is not at {args.reference}: install it with `npm install --prefix /tmp/refmem "
            f"@modelcontextprotocol/server-memory`, or point --reference (or ${REFERENCE_ENV}) at its dist/index.js"
        )
    return None


def _table(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    base = summary.get("reference")

    def ratio(system: str, key: str) -> str:
        return f"{summary[system][key] / base[key]:.2f}x" if base and base[key] else "-"

    lines = [
        f"{args.clients} MCP client processes over stdio, {args.writes} writes then {args.recalls} recalls each, "
        f"medians of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs",
        "| system | writes/s | vs reference | kept writes/s | vs reference | write p99 ms | recalls/s | vs reference "
        "| recall p99 ms | acknowledged | LOST | tool errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system, row in summary.items():
        lines.append(
            f"| {system} | {row['writes_per_s']:,.0f} | {ratio(system, 'writes_per_s')} "
            f"| {row['kept_writes_per_s']:,.0f} | {ratio(system, 'kept_writes_per_s')} | {row['write_p99_ms']:.1f} "
            f"| {row['recalls_per_s']:,.0f} | {ratio(system, 'recalls_per_s')} | {row['recall_p99_ms']:.1f} "
            f"| {row['acknowledged']:.0f} | {row['lost']:.0f} | {row['tool_errors']:.0f} |"
        )
    lines.append(
        "memactor: durability full (fsync per commit); reference: whole-file rewrite per change, no fsync. "
        "kept writes/s counts only the acknowledged writes still present at the end; "
        "LOST = acknowledged writes absent at the end (median per round)."
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="MCP client processes at once")
    parser.add_argument("--writes", type=int, default=50, help="write calls per client")
    parser.add_argument("--recalls", type=int, default=50, help="search calls per client, after all wrote")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table gives medians")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="memactor, reference, or both")
    parser.add_argument(
        "--reference",
        default=os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE,
        help=f"the reference server's dist/index.js (env {REFERENCE_ENV})",
    )
    parser.add_argument("--node", default="node", help="the node executable")
    parser.add_argument("--json", default=None, help="append JSON lines here")
    parser.add_argument("--dir", default=None, help="where the trial files go (default: a temporary directory)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one client of it); prints the table, returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if argv[:1] == ["--worker"]:
        for positional in ("system", "path", "sync", "index"):
            parser.add_argument(positional)
        worker_args = parser.parse_args(argv[1:])
        worker_args.index = int(worker_args.index)
        anyio.run(_worker, worker_args, backend="asyncio")
        return 0
    args = parser.parse_args(argv)
    systems = [system for system in args.systems.split(",") if system]
    if unknown := set(systems) - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if "reference" in systems and (missing := _missing_reference(args)):
        print(f"mcp_bench: {missing} (or run with --systems memactor)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="mcpb-", dir=args.dir or "/tmp"))  # short: Unix socket paths are limited
    (root / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(root / "run")  # the servers this run starts are found only by it
    trials: list[dict[str, Any]] = []
    try:
        for round_number in range(args.rounds):
            order = systems if round_number % 2 == 0 else systems[::-1]
            for system in order:
                directory = root / f"{round_number}-{system}"
                directory.mkdir()
                figures = trial(system, directory, args) | {"round": round_number}
                trials.append(figures)
                print(
                    f"  round {round_number} {system:9} {figures['writes_per_s']:8,.0f} writes/s "
                    f"{figures['recalls_per_s']:8,.0f} recalls/s  lost {figures['lost']}/{figures['acknowledged']}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for system_dir in root.glob("*-memactor"):
            _stop_servers(system_dir / "memory.db")
        shutil.rmtree(root, ignore_errors=True)
    keys = (
        "writes_per_s",
        "kept_writes_per_s",
        "write_p99_ms",
        "recalls_per_s",
        "recall_p99_ms",
        "acknowledged",
        "lost",
        "tool_errors",
    )
    summary = {
        system: {key: statistics.median(t[key] for t in trials if t["system"] == system) for key in keys}
        for system in systems
    }
    print(_table(summary, args))
    if args.json:
        with open(args.json, "a") as out:
            for figures in trials:
                out.write(json.dumps({"type": "trial", **figures}) + "\n")
            for system, row in summary.items():
                out.write(json.dumps({"type": "summary", "system": system, "rounds": args.rounds, **row}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
