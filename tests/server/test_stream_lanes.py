"""Through a server, every page of one stream is read on one of the server's read lanes, as in process
(tests/test_stream_lane.py): the client sends its stream's key with each page and the connection keeps the
key's lane, in a map bounded per connection. A bad key is refused with a typed error and the connection
goes on; a client that meets a server without stream keys sends none."""

from __future__ import annotations

import struct
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
from memactor import Fact, codec
from memactor.model.filters import Filters
from memactor.model.queries import Page, Query
from memactor.net import connection
from memactor.net.payloads import decode_query, encode_query
from memactor.net.server import Server, serving
from memactor.net.streams import StreamLanes
from memactor.net.wire import MessageType
from memactor.sqlite.engine import SqliteEngine
from tests.server.test_protocol import probe, read_message, welcomed

pytestmark = pytest.mark.anyio


class _Observed(SqliteEngine):
    """The real engine, noting which lane answered each query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[str, str]] = []
        self.pages: list[tuple[str | None, str]] = []  # the namespace each page read, and its lane

    def run_query(self, conn: Any, query: Query) -> Any:
        self.answered.append((type(query).__name__, threading.current_thread().name))
        if isinstance(query, Page):
            self.pages.append((query.filters.namespace, threading.current_thread().name))
        return super().run_query(conn, query)


@pytest.fixture
async def observed(db_path: Path, socket_dir: Path) -> AsyncIterator[tuple[_Observed, Server]]:
    engine = _Observed(str(db_path))
    async with memactor.open(engine, read_connections=3, durability="normal") as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as running:
            yield engine, running


async def test_a_remote_streams_pages_keep_to_one_server_lane(observed: tuple[_Observed, Server]) -> None:
    engine, server = observed
    async with memactor.connect(server.url) as mem:
        ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(30)])
        engine.answered.clear()
        seen: list[str] = []
        async for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 8 reads
            seen += [record.id for record in page]
            assert await mem.facts.count() == 30  # another read between pages
    assert seen == sorted(ids)
    pages = [lane for kind, lane in engine.answered if kind == "Page"]
    others = {lane for kind, lane in engine.answered if kind == "Count"}
    assert len(pages) == 8, engine.answered
    assert len(set(pages)) == 1, f"a remote stream's pages went to several server lanes: {pages}"
    assert len(others) == 3, f"the other reads did not share the lanes: {others}"


async def test_concurrent_remote_streams_each_keep_their_lane(observed: tuple[_Observed, Server]) -> None:
    engine, server = observed
    async with memactor.connect(server.url) as mem:
        ids = {
            f"ns{n}": await mem.facts.add_many([Fact(content=f"fact {i}", namespace=f"ns{n}") for i in range(20)])
            for n in range(4)
        }
        engine.answered.clear()
        results: dict[str, list[str]] = {}

        async def drain(namespace: str) -> None:
            pages = mem.facts.stream(batch_size=1, namespace=namespace)
            results[namespace] = [record.id async for page in pages for record in page]

        async with anyio.create_task_group() as group:
            for namespace in ids:
                group.start_soon(drain, namespace)
    assert results == {namespace: sorted(written) for namespace, written in ids.items()}
    for namespace in ids:
        lanes = [lane for read, lane in engine.pages if read == namespace]
        assert len(lanes) == 6 and len(set(lanes)) == 1, f"the stream of {namespace} used several lanes: {lanes}"


def test_a_blocking_remote_streams_pages_keep_to_one_server_lane(db_path: Path, socket_dir: Path) -> None:
    # The blocking facade runs each page's step as its own call on its portal's loop.
    engine = _Observed(str(db_path))
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(memactor.open(engine, read_connections=2)) as memory:
            with portal.wrap_async_context_manager(serving(memory, f"unix://{socket_dir}/s.sock")) as server:
                with memactor.connect_sync(server.url) as mem:
                    ids = mem.facts.add_many([Fact(content=f"fact {i}") for i in range(20)])
                    engine.answered.clear()
                    seen = []
                    for page in mem.facts.stream(batch_size=1):  # 4 pages a read: 6 reads
                        seen += [record.id for record in page]
                        assert mem.facts.count() == 20
    assert seen == sorted(ids)
    pages = [lane for kind, lane in engine.answered if kind == "Page"]
    assert len(pages) == 6 and len(set(pages)) == 1, engine.answered


def _page(key: object) -> list[Any]:
    return [*encode_query(Page("fact", Filters(), None, 10)), key]


@pytest.mark.parametrize("key", [0, -1, 2**63, "stream", 1.5, True, None, (1,)])
async def test_a_bad_stream_key_gets_a_typed_error_and_the_connection_goes_on(server: Server, key: object) -> None:
    stream = await welcomed(server)
    body = codec.pack([5, int(MessageType.QUERY), _page(key)])
    await stream.send(struct.pack(">I", len(body)) + body)
    reply = await read_message(stream)
    assert reply is not None and reply.request_id == 5 and reply.type is MessageType.ERROR, reply
    assert reply.payload[0] == "CodecError" and "stream key" in reply.payload[1], reply.payload
    body = codec.pack([6, int(MessageType.QUERY), _page(1)])
    await stream.send(struct.pack(">I", len(body)) + body)
    reply = await read_message(stream)
    assert reply is not None and (reply.request_id, reply.type, reply.payload) == (6, MessageType.RESULT, [])
    await stream.aclose()
    await probe(server)


async def test_a_client_sending_endless_stream_keys_is_answered_from_a_bounded_map(server: Server) -> None:
    stream = await welcomed(server)
    for key in range(1, 1001):
        body = codec.pack([key, int(MessageType.QUERY), _page(key)])
        await stream.send(struct.pack(">I", len(body)) + body)
        reply = await read_message(stream)
        assert reply is not None and reply.type is MessageType.RESULT, reply
    await stream.aclose()
    await probe(server)


def test_the_map_keeps_the_most_recently_read_streams() -> None:
    lanes = StreamLanes(size=3)
    first = lanes.affinity(1)
    lanes.affinity(2)
    lanes.affinity(3)
    assert lanes.affinity(1) is first  # read again: now the most recent
    lanes.affinity(4)  # forgets 2, the least recently read
    assert len(lanes) == 3
    assert lanes.affinity(1) is first
    for key in range(5, 1000):
        lanes.affinity(key)
    assert len(lanes) == 3


async def test_a_server_without_stream_keys_gets_pages_without_them(
    db_path: Path, socket_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server of before stream keys: it announces none and decodes queries strictly.
    welcome = connection.ServerConnection._welcome

    def old_welcome(self: connection.ServerConnection, message: Any) -> dict[str, Any]:
        return {name: value for name, value in welcome(self, message).items() if name != "stream_lanes"}

    monkeypatch.setattr(connection.ServerConnection, "_welcome", old_welcome)
    monkeypatch.setattr(connection, "decode_query_request", lambda wire: (decode_query(wire), None))
    async with memactor.open(db_path, durability="normal") as memory:
        async with serving(memory, f"unix://{socket_dir}/s.sock") as server:
            async with memactor.connect(server.url) as mem:
                ids = await mem.facts.add_many([Fact(content=f"fact {i}") for i in range(10)])
                seen = [record.id async for page in mem.facts.stream(batch_size=1) for record in page]
    assert seen == sorted(ids)
