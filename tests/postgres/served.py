"""Fixtures that run a contract suite through `memactor serve`'s server on a PostgreSQL memory.

A test module star-imports a suite, then these: its ``mem`` becomes a `memactor.connect` handle to an
in-process server whose memory is on PostgreSQL, so the same calls cross the socket and land in PostgreSQL's
engine.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import memactor
from memactor.net.server import Server, serving


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="mas-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def server(pg_url: str, socket_dir: Path) -> AsyncIterator[Server]:
    async with memactor.open(pg_url, durability="normal") as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as running:
            yield running


@pytest.fixture
async def mem(server: Server) -> AsyncIterator[memactor.RemoteMemory]:
    async with memactor.connect(server.url) as handle:
        yield handle
