"""Many MCP clients on one memory file, each its own OS process launching its own ``memactor mcp`` over stdio.

This is how MCP hosts run memory servers: every Claude Desktop, Claude Code or Cursor session spawns a
stdio server process of its own, so one file is written by as many processes as there are sessions.
Each client here is a separate process (`mcp_client.py`), not a task of the test: its ``memactor mcp``
is then an independent process with its own connect-or-start, its crash or hang is its own, and the
FIFO releases all of them at one instant, so their servers race to start the file's ``memactor serve``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from memactor.net.autostart import connect_or_start, socket_path
from tests.spawned import serve_pids

CLIENT = Path(__file__).with_name("mcp_client.py")
CHECKOUT = Path(__file__).resolve().parents[2]
# What a client must never see, from its tools or its `memactor mcp` process.
FORBIDDEN = ("AlreadyOpenError", "already open for writing", "database is locked")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def launch(place: Path, arguments: Sequence[Sequence[str]]) -> list[subprocess.Popen[str]]:
    """Start one client process per argument list; return once every one waits at the FIFO."""
    fifo = place / "go"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    clients = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), str(place / "memory.db"), str(fifo), *extra],
            cwd=place,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in arguments
    ]
    wait_for(lambda: len(list(place.glob("go.*.ready"))) == len(clients), "the clients to be ready")
    return clients


def finish(clients: Sequence[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Each client's summary, once it exited 0 without a forbidden error on its stderr."""
    summaries = []
    for client in clients:
        stdout, stderr = client.communicate(timeout=180)  # a hang detector, not a bound
        for forbidden in FORBIDDEN:
            seen = [line for line in stderr.splitlines() if forbidden in line]
            assert not seen, f"a client saw {forbidden!r}: {seen[0][:500]}"
        assert client.returncode == 0, stderr[-3000:]
        summaries.append(json.loads(stdout))
    return summaries


def run_all(place: Path, arguments: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    clients = launch(place, arguments)
    with open(place / "go", "wb"):  # releases every client at once; open until all are done, so none can miss it
        return finish(clients)


def stored(database: Path, ids: Sequence[str]) -> tuple[set[str], int]:
    """Which of ``ids`` the file's server has, and how many episodes it holds (through that same server)."""

    async def read() -> tuple[set[str], int]:
        async with await connect_or_start(database) as memory:
            present = {episode.id for episode in await memory.episodes.get_many(sorted(ids))}
            return present, await memory.episodes.count()

    return anyio.run(read, backend="asyncio")


def assert_one_server_started(database: Path) -> None:
    assert len(serve_pids(database)) == 1, serve_pids(database)
    log = socket_path(database).with_suffix(".log").read_text()
    # One server was started: no `memactor mcp` spawned one that lost at the writer lock.
    assert log.count("memactor: serving") == 1, log
    assert "already open" not in log, log


def test_eight_mcp_clients_at_once_keep_every_write_through_one_server(place: Path) -> None:
    database = place / "memory.db"
    summaries = run_all(place, [["--writes", "100"]] * 8)
    for summary in summaries:
        assert summary["errors"] == [], summary["errors"][:3]
    acked = {record_id for summary in summaries for record_id in summary["ids"]}
    assert len(acked) == 800
    assert_one_server_started(database)
    present, count = stored(database, sorted(acked))
    assert present == acked
    assert count == 800


async def _graph(database: Path, calls: Sequence[tuple[str, dict[str, Any]]]) -> Any:
    """Call the reference profile's tools in order through one more MCP client; the last call's structured content."""
    from mcp import Client

    from tests.mcp.mcp_client import _server

    async with Client(_server(str(database), "default", "reference"), read_timeout_seconds=120) as client:
        result = None
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            assert not result.is_error, result.content
        assert result is not None
        return result.structured_content


def test_eight_graph_clients_at_once_lose_no_entity_and_no_observation(place: Path) -> None:
    # The reference server rewrites its whole file per call, so clients at once lose each other's changes;
    # through memactor every call is atomic and the file has one writer.
    database = place / "memory.db"
    shared = {"name": "shared", "entityType": "note", "observations": []}
    anyio.run(_graph, database, [("create_entities", {"entities": [shared]})], backend="asyncio")
    summaries = run_all(place, [["--writes", "100", "--tools", "reference"]] * 8)
    for summary in summaries:
        assert summary["errors"] == [], summary["errors"][:3]
    names = {name for summary in summaries for name in summary["ids"]}
    assert len(names) == 800
    assert_one_server_started(database)
    graph = anyio.run(_graph, database, [("read_graph", {})], backend="asyncio")
    entities = {entity["name"]: entity for entity in graph["entities"]}
    assert set(entities) == names | {"shared"}
    assert sorted(entities["shared"]["observations"]) == sorted(names)


def test_two_mcp_clients_starting_at_once_get_one_server(place: Path) -> None:
    database = place / "memory.db"
    summaries = run_all(place, [["--writes", "5"]] * 2)
    acked = {record_id for summary in summaries for record_id in summary["ids"]}
    assert len(acked) == 10
    assert_one_server_started(database)
    assert stored(database, sorted(acked)) == (acked, 10)


def test_clients_recover_from_a_killed_server_and_keep_every_acknowledged_write(place: Path) -> None:
    database = place / "memory.db"
    progress = [place / f"progress.{n}" for n in range(4)]
    clients = launch(place, [["--writes", "60", "--progress", str(path)] for path in progress])

    def acknowledged() -> int:
        return sum(path.read_text().count("\n") for path in progress if path.exists())

    with open(place / "go", "wb"):
        wait_for(lambda: acknowledged() >= 40, "40 acknowledged writes")
        (killed,) = serve_pids(database)
        os.kill(killed, signal.SIGKILL)
        at_kill = acknowledged()
        summaries = finish(clients)
    errors = [error for summary in summaries for error in summary["errors"]]
    # A call in flight at the kill may fail, but only saying to retry; the clients went on and wrote.
    for error in errors:
        assert "try again" in error, error
    gave_up = [summary for summary in summaries if summary["gave_up"]]
    assert not gave_up, f"{len(gave_up)} of 4 clients gave up after errors in a row, such as: {errors[-1]}"
    acked = {record_id for summary in summaries for record_id in summary["ids"]}
    assert len(acked) + len(errors) == 240
    assert len(acked) > at_kill
    (restarted,) = serve_pids(database)
    assert restarted != killed
    present, count = stored(database, sorted(acked))
    assert present == acked
    # A write that failed at the kill may or may not have been committed; none was applied twice.
    assert len(acked) <= count <= len(acked) + len(errors)
    print(f"tool errors at the kill: {len(errors)} of 240 calls (acknowledged before the kill: {at_kill})")


def test_hostile_arguments_from_one_client_leave_the_others_writes_alone(place: Path) -> None:
    database = place / "memory.db"
    progress = [place / f"progress.{n}" for n in range(4)]
    hostile = [
        "--hostile",
        "--namespace",
        "intruder",
        "--steal",
        str(place / "progress.*"),
        "--stop",
        str(place / "stop"),
    ]
    clients = launch(place, [hostile] + [["--writes", "50", "--progress", str(path)] for path in progress])
    with open(place / "go", "wb"):
        writers = finish(clients[1:])
        (place / "stop").touch()
        (attack,) = finish(clients[:1])
    for summary in writers:
        assert summary["errors"] == [], summary["errors"][:3]
    acked = {record_id for summary in writers for record_id in summary["ids"]}
    assert len(acked) == 200
    present, count = stored(database, sorted(acked))
    assert len(acked - present) == 0, f"{len(acked - present)} acknowledged writes are gone"
    assert count == 200
    assert attack["stolen_calls"] > 0  # it did go after the others' ids while they wrote
    assert attack["accepted"] == []
    assert attack["alive"]
    assert len(serve_pids(database)) == 1
