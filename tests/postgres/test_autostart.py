"""`connect_or_start` (what `memactor mcp` and multi-process apps use) on a PostgreSQL URL: the server it
starts opens the database the URL names, one server per URL, and no file is made from the URL's text."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

import memactor
from memactor import Fact
from memactor.net.autostart import connect_or_start, socket_path
from tests.serveprocs import started_server_pids

pytestmark = pytest.mark.anyio


async def test_connect_or_start_serves_the_database_the_url_names(
    pg_url: str, place: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(place)  # a URL taken for a path would become a file under here
    try:
        async with await connect_or_start(pg_url) as first, await connect_or_start(pg_url) as second:
            fid = await first.facts.add(Fact("written through the started server"))
            assert (await second.facts.get(fid)).content == "written through the started server"
        async with memactor.open(pg_url) as direct:  # in the database itself, not in a file beside us
            assert (await direct.facts.get(fid)).content == "written through the started server"
        assert len(started_server_pids(pg_url)) == 1  # both clients found one server
    finally:
        for pid in started_server_pids(pg_url):
            os.kill(pid, signal.SIGKILL)
    assert sorted(path.name for path in place.iterdir()) == ["run"]  # nothing made from the URL's text
    assert socket_path(pg_url) == socket_path(pg_url) != socket_path(pg_url + "x")


@pytest.mark.parametrize("named_in", ["argument", "environment"])
async def test_memactor_mcp_on_a_url_records_and_recalls_in_the_database(
    pg_url: str, place: Path, monkeypatch: pytest.MonkeyPatch, named_in: str
) -> None:
    pytest.importorskip("mcp")  # the `mcp` extra, which CI installs
    from mcp import Client, StdioServerParameters

    checkout = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    args = ["-m", "memactor", "mcp"]
    if named_in == "argument":
        args.append(pg_url)
    else:
        env["MEMACTOR_DATABASE"] = pg_url  # an MCP client's "env": the URL's password stays out of ps
    server = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(place))
    try:
        async with Client(server, read_timeout_seconds=60) as client:
            written = await client.call_tool("record_episode", {"task": "over MCP on PostgreSQL", "outcome": "ok"})
            assert not written.is_error, written.content
            hits = await client.call_tool("recall", {"query": "PostgreSQL"})
            assert hits.structured_content is not None
            assert [hit["text"] for hit in hits.structured_content["results"]] == ["over MCP on PostgreSQL -> ok"]
        async with memactor.open(pg_url) as direct:
            assert [hit.record.task for hit in await direct.episodes.search("PostgreSQL")] == ["over MCP on PostgreSQL"]
    finally:
        for pid in started_server_pids(pg_url):
            os.kill(pid, signal.SIGKILL)
    assert sorted(path.name for path in place.iterdir()) == ["run"]
