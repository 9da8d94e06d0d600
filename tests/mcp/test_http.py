"""``memactor mcp PATH --http HOST:PORT`` as a subprocess, reached with bearer tokens over streamable HTTP.

The tokens reach the process through ``MEMACTOR_TOKENS`` (never its command line). The SDK's streamable
HTTP client carries the token in an ``Authorization`` header of its own HTTP client; the refusals that
happen before any MCP exchange (no token, a wrong one, one for another namespace) are checked with plain
HTTP requests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

pytest.importorskip("mcp")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from memactor.net.autostart import connect_or_start
from tests.spawned import serve_pids

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]
NAMESPACE = "team-a"
WRITER = "writer-secret-0123456789"
READER = "reader-secret-0123456789"
STRANGER = "stranger-secret-0123456789"
TOKENS = f"writer:{WRITER}:{NAMESPACE}\nreader:{READER}:ro:{NAMESPACE}\nstranger:{STRANGER}:team-b"
# Generous: the process imports the SDK and starts the file's own server on demand.
_START_TIMEOUT = 60.0
# An MCP POST must accept both JSON and an event stream.
_MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(db: Path, listen: str, *flags: str, tokens: str | None = TOKENS) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    env.pop("MEMACTOR_TOKENS", None)
    if tokens is not None:
        env["MEMACTOR_TOKENS"] = tokens
    command = [sys.executable, "-m", "memactor", "mcp", str(db), "--http", listen, *flags]
    return subprocess.Popen(command, env=env, cwd=str(CHECKOUT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"memactor mcp --http exited with {process.returncode}: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"memactor mcp --http did not listen on port {port} within {_START_TIMEOUT:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def running(place: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``memactor mcp --http`` process on loopback serving ``NAMESPACE`` with ``TOKENS``, and its URL."""
    port = _free_port()
    process = _launch(place / "memory.db", f"127.0.0.1:{port}", "--namespace", NAMESPACE, "--agent-id", "http-agent")
    try:
        _wait_listening(process, port)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        _stop(process)


@pytest.fixture
def server(running: tuple[str, subprocess.Popen[bytes]]) -> str:
    """The URL of `running`."""
    return running[0]


@asynccontextmanager
async def _client(url: str, secret: str) -> AsyncIterator[Client]:
    """The SDK's client over streamable HTTP, every request carrying ``secret`` as its bearer token."""
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client:
            yield client


async def _initialize(url: str, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(60.0)) as http:
        return await http.post(url, json=_INITIALIZE, headers={**_MCP_HEADERS, **headers})


async def test_a_request_without_a_token_or_with_a_wrong_one_is_refused(server: str) -> None:
    assert (await _initialize(server, {})).status_code == 401
    assert (await _initialize(server, {"Authorization": "Bearer not-a-token"})).status_code == 401
    assert (await _initialize(server, {"Authorization": f"Basic {WRITER}"})).status_code == 401
    # The same request with a good token is answered: the refusals above were about the token alone.
    assert (await _initialize(server, {"Authorization": f"Bearer {WRITER}"})).status_code == 200


async def test_a_token_for_another_namespace_is_refused(server: str) -> None:
    assert (await _initialize(server, {"Authorization": f"Bearer {STRANGER}"})).status_code == 401


async def test_a_read_write_token_writes_and_a_read_only_token_only_reads(server: str, place: Path) -> None:
    async with _client(server, WRITER) as writer:
        written = await writer.call_tool("record_episode", {"task": "over http", "outcome": "worked"})
        assert not written.is_error, written.content
        assert written.structured_content is not None
        episode_id = written.structured_content["id"]
    async with _client(server, READER) as reader:
        hits = await reader.call_tool("recall", {"query": "http"})
        assert not hits.is_error, hits.content
        assert hits.structured_content is not None
        assert [hit["text"] for hit in hits.structured_content["results"]] == ["over http -> worked"]
        refused = await reader.call_tool("record_episode", {"task": "from a reader"})
        assert refused.is_error
        assert "read-only" in " ".join(getattr(part, "text", "") for part in refused.content)
        forgotten = await reader.call_tool("forget", {"id": episode_id})
        assert forgotten.is_error
    # In the file: the writer's episode, in the server's namespace under its agent id, and nothing of the reader's.
    async with await connect_or_start(place / "memory.db") as memory:
        episodes = [hit.record for hit in await memory.episodes.search("http", namespace=NAMESPACE)]
        assert [(e.id, e.agent_id, e.namespace) for e in episodes] == [(episode_id, "http-agent", NAMESPACE)]
        assert await memory.episodes.search("reader", namespace=NAMESPACE) == []


def test_an_address_off_loopback_is_refused_without_allow_remote(place: Path) -> None:
    process = _launch(place / "memory.db", f"0.0.0.0:{_free_port()}")
    try:
        _, stderr = process.communicate(timeout=_START_TIMEOUT)
    finally:
        _stop(process)
    assert process.returncode == 1
    assert b"not a loopback address; add --allow-remote" in stderr


def test_an_address_off_loopback_is_refused_without_a_token_even_when_allowed(place: Path) -> None:
    process = _launch(place / "memory.db", f"0.0.0.0:{_free_port()}", "--allow-remote", tokens=None)
    try:
        _, stderr = process.communicate(timeout=_START_TIMEOUT)
    finally:
        _stop(process)
    assert process.returncode == 1
    assert b"off loopback needs a token" in stderr
    # Refused before anything was opened: no file, and no server started for it.
    assert not (place / "memory.db").exists()


async def test_sigterm_ends_the_process_and_keeps_every_acknowledged_write(
    running: tuple[str, subprocess.Popen[bytes]], place: Path
) -> None:
    url, process = running
    async with _client(url, WRITER) as writer:
        written = await writer.call_tool("record_episode", {"task": "before the signal"})
        assert not written.is_error, written.content
        assert written.structured_content is not None
        (server,) = serve_pids(place / "memory.db")
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down, so the process ends by it.
        assert process.wait(timeout=_START_TIMEOUT) == -signal.SIGTERM
    # The write was committed by the file's server before it was acknowledged; that server lives on.
    assert serve_pids(place / "memory.db") == [server]
    async with await connect_or_start(place / "memory.db") as memory:
        hits = await memory.episodes.search("signal", namespace=NAMESPACE)
        assert [hit.record.id for hit in hits] == [written.structured_content["id"]]
