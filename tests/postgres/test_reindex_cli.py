"""``memactor reindex postgresql://...``: the command opens the database itself (every process may write to
PostgreSQL), gives records written without an embedder their vectors, and ``--switch`` moves the database to
another embedder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import memactor
from memactor import Fact
from memactor.embed.spec import embedder_from_spec
from memactor.net.autostart import socket_path


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-m", "memactor", "reindex", *argv], capture_output=True, text=True, env=env, timeout=120
    )


async def _vector_hits(url: str, spec: str, query: str) -> list[str]:
    async with memactor.open(url, embedder=embedder_from_spec(spec)) as mem:
        hits = await mem.facts.search(query, mode="vector", limit=3)
        return [hit.record.content for hit in hits if isinstance(hit.record, Fact)]


async def test_reindex_and_switch_on_a_postgresql_url(pg_url: str) -> None:
    async with memactor.open(pg_url) as mem:
        for i in range(25):
            await mem.facts.add(Fact(content=f"fact number {i} about topic {i % 5}"))
    first = _cli(pg_url, "--embedder", "hash", "--batch", "10")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "memactor reindex: 25 vectors stored\n"
    assert "25 records to embed" in first.stderr and "25/25" in first.stderr
    assert "fact number 7 about topic 2" in await _vector_hits(pg_url, "hash", "fact number 7 about topic 2")
    again = _cli(pg_url, "--embedder", "hash")
    assert (again.returncode, again.stdout) == (0, "memactor reindex: 0 vectors stored\n")
    other = _cli(pg_url, "--embedder", "hash:64")
    assert other.returncode == 1 and "made by embedder 'hash-v1-256-0.5' (dim 256)" in other.stderr
    switched = _cli(pg_url, "--embedder", "hash:64", "--switch")
    assert switched.returncode == 0, switched.stderr
    old = "embedder 'hash-v1-256-0.5' (dim 256)"
    assert switched.stdout.startswith(f"memactor reindex: switched from {old} to hash:64: 25 vectors made")
    assert "fact number 3 about topic 3" in await _vector_hits(pg_url, "hash:64", "fact number 3 about topic 3")
    assert not socket_path(pg_url).exists(), "a server was started: the command should open the database itself"
    assert "password" not in first.stderr + switched.stderr
