"""The vectors contract suite (tests/test_vectors.py), run through a server with the embedder in the client.

Each handle is a `memactor.connect` to a server started on the file for it, which has no embedder of its
own: the client makes every vector, sends it in its commands, and sends the query's vector in `Search`.
``readonly=True`` becomes a read-only token. Once over the server's read pool, once with ``local_reads``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor.embed import Embedder, HashEmbedder
from memactor.model.records import Fact
from memactor.net.scope import Token
from memactor.net.server import serving
from tests.test_vectors import *  # noqa: F403
from tests.test_vectors import Opener, vector_rows

pytestmark = pytest.mark.anyio

_WRITER = "vectors-writer-secret-0123456789"
_READER = "vectors-reader-secret-0123456789"
_TOKENS = [Token.parse(f"w:{_WRITER}"), Token.parse(f"r:{_READER}:ro")]

# Sync and about the reader's cache only: nothing remote in it.
del test_the_cache_reads_only_what_changed  # noqa: F821


@asynccontextmanager
async def _remote(
    path: Path, *, local_reads: bool, embedder: Embedder | None = None, readonly: bool = False
) -> AsyncIterator[memactor.RemoteMemory]:
    socket_dir = Path(tempfile.mkdtemp(prefix="mav-", dir="/tmp"))
    try:
        async with memactor.open(path, durability="normal") as served:
            async with serving(served, f"unix://{socket_dir}/s.sock", tokens=_TOKENS) as server:
                token = _READER if readonly else _WRITER
                async with memactor.connect(server.url, token=token, embedder=embedder, local_reads=local_reads) as mem:
                    yield mem
    except BaseExceptionGroup as group:
        # The server's task group wraps what the handle raised: the tests expect the error itself.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(params=[False, True], ids=["server-reads", "local-reads"])
def open_memory(request: pytest.FixtureRequest) -> Opener:
    def opener(path: Path, **options: Any) -> Any:
        return _remote(path, local_reads=request.param, **options)

    return opener


async def test_a_read_only_token_checks_the_embedder_and_records_none(db_path: Path, open_memory: Opener) -> None:
    async with open_memory(db_path, embedder=HashEmbedder(), readonly=True) as mem:
        assert await mem.facts.search("anything", mode="vector") == []
    async with open_memory(db_path, embedder=HashEmbedder(dim=128)) as mem:  # nothing was recorded
        fact = await mem.facts.add(Fact("the rollout failed"))
    async with open_memory(db_path, embedder=HashEmbedder(dim=128), readonly=True) as mem:
        assert [hit.record.id for hit in await mem.facts.search("rollout", mode="vector")] == [fact]
    with pytest.raises(memactor.EmbedderMismatchError, match=r"made by embedder 'hash-v1-128-0.5' \(dim 128\)"):
        async with open_memory(db_path, embedder=HashEmbedder(), readonly=True):
            pass
    assert set(vector_rows(db_path)) == {fact}


async def test_connect_sync_takes_the_embedder(db_path: Path) -> None:
    socket_dir = Path(tempfile.mkdtemp(prefix="mav-", dir="/tmp"))

    def blocking(url: str) -> list[str]:
        with memactor.connect_sync(url, token=_WRITER, embedder=HashEmbedder()) as mem:
            mem.facts.add(Fact("the deployment failed: health check timed out"))
            return [hit.record.content for hit in mem.facts.search("healthcheck timeout", mode="vector", limit=1)]

    try:
        async with memactor.open(db_path, durability="normal") as served:
            async with serving(served, f"unix://{socket_dir}/s.sock", tokens=_TOKENS) as server:
                found = await anyio.to_thread.run_sync(blocking, server.url)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    assert found == ["the deployment failed: health check timed out"]
    assert len(vector_rows(db_path)) == 1
