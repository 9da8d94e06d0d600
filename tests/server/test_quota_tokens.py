"""Who may change the quota (only an unrestricted token, or ``memactor serve --max-size``), and what a
scoped token's welcome and statistics show of the rest of the server (load figures, no running counts).
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import memactor
from memactor import Episode
from memactor.net.scope import Token
from memactor.net.server import Server, serving

ADMIN = "admin-secret-0123456789"
TEAM_A = "team-a-secret-0123456789"
READER = "reader-secret-0123456789"
READER_A = "reader-a-secret-0123456789"
TOKENS = [
    Token.parse(f"admin:{ADMIN}"),
    Token.parse(f"a:{TEAM_A}:team-a"),
    Token.parse(f"reader:{READER}:ro"),
    Token.parse(f"reader-a:{READER_A}:ro:team-a"),
]


@pytest.fixture
async def tcp_server(db_path: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, "tcp://127.0.0.1:0", tokens=TOKENS) as running:
            yield running


@pytest.mark.anyio
@pytest.mark.parametrize("secret", [TEAM_A, READER, READER_A], ids=["scoped", "read-only", "read-only-scoped"])
async def test_a_restricted_token_cannot_change_the_quota(tcp_server: Server, secret: str) -> None:
    async with memactor.connect(tcp_server.url, token=secret) as restricted:
        for max_size in (None, 10**6, 10**12):
            with pytest.raises(memactor.AccessDeniedError, match="--max-size"):
                await restricted.set_max_size(max_size)
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        await admin.set_max_size(10**9)
        await admin.set_max_size(None)


@pytest.mark.anyio
async def test_a_scoped_token_sees_load_figures_but_no_counts(tcp_server: Server) -> None:
    async with memactor.connect(tcp_server.url, token=ADMIN) as admin:
        await admin.episodes.add_many([Episode(task=f"b{i}", namespace="team-b") for i in range(5)])
        for i in range(5):
            await admin.episodes.add(Episode(task=f"b{i}", namespace="team-b"))
        await admin.episodes.count()
        assert (await admin.refresh_statistics()).commands >= 6
    async with memactor.connect(tcp_server.url, token=TEAM_A) as scoped:
        for stats in (scoped.statistics(), await scoped.refresh_statistics()):  # the welcome's, then STATS
            assert (stats.batches, stats.commands, stats.reads, stats.max_batch_size) == (0, 0, 0, 0)
            assert stats.batch_size_histogram == {} and stats.mean_batch_size == 0.0
            assert stats.queue_capacity > 0  # a load figure a client may pace itself by
        await scoped.episodes.add(Episode(task="a", namespace="team-a"))
        assert (await scoped.refresh_statistics()).commands == 0


def test_serve_max_size_sets_the_quota(db_path: Path, socket_dir: Path) -> None:
    url = f"unix://{socket_dir}/q.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "memactor", "serve", str(db_path), "--listen", url, "--max-size", "1000000"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 20)
        assert ready, "the server did not start within 20 s"
        line = process.stderr.readline()
        assert "serving" in line, line + process.stderr.read()
        with memactor.connect_sync(url) as mem:
            with pytest.raises(memactor.StorageFullError):
                for i in range(1000):  # ~10 MB: far past a 1 MB quota
                    mem.episodes.add(Episode(task=f"t{i}", outcome="x" * 10_000))
            assert i > 10  # the quota let the first writes in
            mem.set_max_size(None)  # a connection without tokens is unrestricted
            mem.episodes.add(Episode(task="after"))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        process.stderr.close()
