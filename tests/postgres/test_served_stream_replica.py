"""Through `memactor serve`, one stream is still served from one replica: every page of a remote stream goes
to one read lane of the server, hence to one replica connection, while the client's other reads keep sharing
the lanes (tests/postgres/test_stream_replica.py is the same in process)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor import Fact
from memactor.model.queries import Page, Query
from memactor.net.server import serving
from memactor.postgres.replicas import ReadConnection
from tests.postgres.test_stream_replica import _Observed, replica_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.anyio


class _ObservedPages(_Observed):
    """Also notes, for each page, the namespace it reads: one stream per namespace tells them apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[tuple[str | None, str, int | None]] = []

    def run_query(self, conn: ReadConnection, query: Query) -> Any:
        if isinstance(query, Page):
            replica = conn.replica.info.backend_pid if conn.replica is not None else None
            self.pages.append((query.filters.namespace, threading.current_thread().name, replica))
        return super().run_query(conn, query)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="mas-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_every_page_of_a_remote_stream_comes_from_one_replica_while_other_reads_rotate(
    pg_url: str,
    replica_url: str,  # noqa: F811 - the fixture
    socket_dir: Path,
) -> None:
    # The replica twice: two lanes, each with its own replica connection, told apart by backend pid.
    engine = _Observed(pg_url, replicas=[replica_url, replica_url])
    async with memactor.open(engine, read_connections=2) as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as server:
            async with memactor.connect(server.url) as mem:
                ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(40)])
                engine.answered.clear()
                seen: list[str] = []
                async for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 11 reads
                    seen += [record.id for record in page]
                    assert (await mem.facts.get(ids[0])).id == ids[0]  # another read between pages
    assert seen == sorted(ids)
    pages = [(lane, replica) for kind, lane, replica in engine.answered if kind == "Page"]
    others = {lane for kind, lane, _ in engine.answered if kind == "Get"}
    assert len(pages) == 11, engine.answered
    assert len(set(pages)) == 1, f"a remote stream's pages came from several lanes/replicas: {pages}"
    assert None not in {replica for _, replica in pages}
    assert len(others) == 2, f"the other reads did not share the lanes: {others}"


async def test_streams_of_two_clients_at_once_each_keep_one_replica(
    pg_url: str,
    replica_url: str,  # noqa: F811 - the fixture
    socket_dir: Path,
) -> None:
    # Both connections number their first stream 1: the server keeps each connection's streams apart.
    engine = _ObservedPages(pg_url, replicas=[replica_url, replica_url])
    async with memactor.open(engine, read_connections=2) as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as server:
            async with memactor.connect(server.url) as first, memactor.connect(server.url) as second:
                ids = {
                    f"ns{n}": await first.facts.add_many(
                        [Fact(content=f"fact {i}", namespace=f"ns{n}") for i in range(20)]
                    )
                    for n in range(4)
                }
                results: dict[str, list[str]] = {}

                async def drain(namespace: str, mem: memactor.RemoteMemory) -> None:
                    pages = mem.facts.stream(batch_size=1, namespace=namespace)
                    results[namespace] = [record.id async for page in pages for record in page]

                async with anyio.create_task_group() as group:
                    for n, mem in enumerate((first, second, first, second)):
                        group.start_soon(drain, f"ns{n}", mem)
    assert results == {namespace: sorted(written) for namespace, written in ids.items()}
    for namespace in ids:
        served = [(lane, replica) for read, lane, replica in engine.pages if read == namespace]
        assert len(served) == 6, engine.pages
        assert len(set(served)) == 1, f"the stream of {namespace} came from several lanes/replicas: {served}"
        assert None not in {replica for _, replica in served}
