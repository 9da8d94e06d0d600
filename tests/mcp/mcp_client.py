"""One MCP client process for the many-clients tests: it launches its own ``memactor mcp PATH`` over stdio.

Run as ``python mcp_client.py PATH FIFO [--writes N] [--hostile] [--progress FILE] ...``. The client
touches ``FIFO.<pid>.ready`` once imported, then opens FIFO for reading, which blocks until the test
opens it for writing: that releases every waiting client at the same instant, and each then launches
its ``memactor mcp`` (which reaches or starts the file's one server) and calls tools, as an MCP host
such as Claude Desktop does. It prints a JSON summary on stdout.

Writer (default): ``--writes N`` calls of ``record_episode`` (with ``--tools reference``: of ``create_entities``,
one new entity each, and ``add_observations`` to the entity ``shared``, which must exist; the ids are then the
new entities' names). Each acknowledged id is appended to
``--progress`` at once (so the test can watch progress and act in the middle). A tool error is
recorded and the client goes on with the next write; after ``--give-up`` errors in a row it stops.

Hostile (``--hostile``): calls tools with garbage (wrong types, huge strings, NaN, unknown fields and
tools, and the other clients' ids read from ``--steal`` files, under another namespace) in a loop
until the file ``--stop`` exists. Every call must be refused; anything accepted is reported.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

CHECKOUT = Path(__file__).resolve().parents[2]


def _server(path: str, namespace: str, tools: str = "native") -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "MEMACTOR_NAMESPACE": namespace}
    args = ["-m", "memactor", "mcp", path, "--tools", tools]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def _write_one(client: Client, tools: str, n: int) -> tuple[str | None, str]:
    """One write; its id (None on a tool error) and the error text."""
    if tools == "native":
        result = await client.call_tool("record_episode", {"task": f"client {os.getpid()} write {n}"})
        if result.is_error:
            return None, _error_text(result)
        assert result.structured_content is not None
        return result.structured_content["id"], ""
    name = f"c{os.getpid()}-{n}"
    entity = {"name": name, "entityType": "note", "observations": [f"write {n}"]}
    created = await client.call_tool("create_entities", {"entities": [entity]})
    if created.is_error:
        return None, _error_text(created)
    observed = await client.call_tool(
        "add_observations", {"observations": [{"entityName": "shared", "contents": [name]}]}
    )
    if observed.is_error:
        return None, _error_text(observed)
    return name, ""


def _error_text(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


async def write(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    ids: list[str] = []
    errors: list[str] = []
    in_a_row = 0
    progress = open(args.progress, "a") if args.progress else None
    try:
        for n in range(args.writes):
            written, error = await _write_one(client, args.tools, n)
            if written is None:
                errors.append(error)
                in_a_row += 1
                if in_a_row >= args.give_up:
                    return {"ids": ids, "errors": errors, "gave_up": True}
                continue
            in_a_row = 0
            ids.append(written)
            if progress is not None:
                progress.write(ids[-1] + "\n")
                progress.flush()
    finally:
        if progress is not None:
            progress.close()
    return {"ids": ids, "errors": errors, "gave_up": False}


def _garbage(stolen: list[str]) -> list[tuple[str, dict[str, Any]]]:
    huge = "x" * 2_000_000
    calls: list[tuple[str, dict[str, Any]]] = [
        ("record_episode", {"task": 42}),
        ("record_episode", {"task": huge}),
        ("record_episode", {"task": "t", "importance": math.nan}),
        ("record_episode", {"task": "t", "importance": math.inf}),
        ("record_episode", {"task": "t", "agent_id": "someone-else"}),
        ("record_episode", {"task": "t", "tags": ["t"] * 10_000}),
        ("record_episode", {"task": "t", "steps": {"not": "a list"}}),
        ("record_episode", {}),
        ("add_fact", {"content": "", "confidence": -1}),
        ("add_fact", {"content": "c", "source_episode_ids": ["no-such-episode"]}),
        ("recall", {"query": huge}),
        ("recall", {"query": "q", "limit": 10**12}),
        ("get_memory", {"id": "\x00" * 64}),
        ("no_such_tool", {"x": 1}),
    ]
    # Another client's ids, from another namespace: each must answer as if it did not exist.
    for record_id in stolen[-3:]:
        calls += [
            ("forget", {"id": record_id}),
            ("update_fact", {"id": record_id, "content": "overwritten"}),
            ("get_memory", {"id": record_id}),
        ]
    return calls


def _stolen(pattern: str | None) -> list[str]:
    ids: list[str] = []
    for name in sorted(glob.glob(pattern)) if pattern else ():
        ids += [line for line in Path(name).read_text().split("\n") if len(line) > 10]
    return ids


async def hostile(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    refused = 0
    accepted: list[str] = []
    rounds = 0
    stolen_calls = 0
    while not os.path.exists(args.stop) and rounds < 500:
        rounds += 1
        stolen = _stolen(args.steal)
        stolen_calls += 3 * len(stolen[-3:])
        for name, arguments in _garbage(stolen):
            try:
                result = await client.call_tool(name, arguments)
            except Exception as exc:  # noqa: BLE001 - a protocol-level refusal (an unknown tool) also counts
                refused += 1
                if name != "no_such_tool":
                    accepted.append(f"{name} raised {type(exc).__name__}: {exc}")
                continue
            if result.is_error:
                refused += 1
            else:
                accepted.append(f"{name} accepted: {str(result.content)[:200]}")
    # The session still works after all that.
    alive = await client.call_tool("recall", {"query": "anything"})
    return {
        "refused": refused,
        "accepted": accepted,
        "rounds": rounds,
        "stolen_calls": stolen_calls,
        "alive": not alive.is_error,
    }


async def main(args: argparse.Namespace) -> None:
    async with Client(_server(args.path, args.namespace, args.tools), read_timeout_seconds=120) as client:
        summary = await (hostile(client, args) if args.hostile else write(client, args))
    print(json.dumps(summary))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("fifo")
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--progress", default=None)
    parser.add_argument("--give-up", type=int, default=5)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--tools", choices=("native", "reference"), default="native")
    parser.add_argument("--steal", default=None, help="glob of progress files whose ids to attack")
    parser.add_argument("--stop", default="", help="hostile: stop once this file exists")
    arguments = parser.parse_args()
    open(f"{arguments.fifo}.{os.getpid()}.ready", "w").close()
    with open(arguments.fifo, "rb"):
        pass
    anyio.run(main, arguments, backend="asyncio")
