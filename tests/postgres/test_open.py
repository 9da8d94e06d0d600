"""Opening a PostgreSQL memory: what is refused, and how, before anything is written."""

from __future__ import annotations

import pytest

import memactor
from memactor import Fact, InvalidInputError, NotAMemoryError, ReadOnlyError, StorageError

pytestmark = pytest.mark.anyio


async def test_max_size_is_refused_with_the_reason(pg_url: str) -> None:
    with pytest.raises(InvalidInputError, match="max_size is not supported on PostgreSQL"):
        async with memactor.open(pg_url, max_size=10_000_000):
            pass


async def test_read_only_needs_a_memory_and_then_reads_it(pg_url: str) -> None:
    with pytest.raises(NotAMemoryError, match="holds no memory yet"):
        async with memactor.open(pg_url, readonly=True):
            pass
    async with memactor.open(pg_url) as mem:
        fid = await mem.facts.add(Fact(content="written first"))
    async with memactor.open(pg_url, readonly=True) as ro:
        assert (await ro.facts.get(fid)).content == "written first"
        with pytest.raises(ReadOnlyError):
            await ro.facts.add(Fact(content="refused"))


async def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    url = "postgresql://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(StorageError) as caught:
        async with memactor.open(url):
            pass
    assert "hunter2" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
