"""Server-mode fixtures: an in-process server on a short Unix socket path, and ``mem`` as a remote handle.

Overriding ``mem`` here runs the store, batch and search contract suites (re-imported by the
``test_*_remote.py`` modules) against `memactor.connect`, once over the server's read pool and once
with ``local_reads=True``.
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
async def server(db_path: Path, socket_dir: Path) -> AsyncIterator[Server]:
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as running:
            yield running


@pytest.fixture(params=[False, True], ids=["server-reads", "local-reads"])
async def mem(request: pytest.FixtureRequest, server: Server) -> AsyncIterator[memactor.RemoteMemory]:
    async with memactor.connect(server.url, local_reads=request.param) as handle:
        yield handle
