"""`OpenAIEmbedder` against a real HTTP server on 127.0.0.1 that speaks the OpenAI embeddings API.

The server (http.server in a thread) answers ``POST /v1/embeddings`` with HashEmbedder's vectors, in
reverse order with their ``index`` (as a server may), and can be told to fail in each way an endpoint does.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import memactor
from memactor import EmbedderError, Fact
from memactor.embed import HashEmbedder, OpenAIEmbedder

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdefSECRET"
DIM = 64


@dataclass
class Endpoint:
    """What the server saw, and how it should answer next."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    fail: str | None = None  # "status", "garbage", "short", "dim", "hang"


def _handler(endpoint: Endpoint, release: threading.Event) -> type[BaseHTTPRequestHandler]:
    hashing = HashEmbedder(DIM)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            endpoint.requests.append(body)
            endpoint.authorization.append(self.headers.get("Authorization"))
            if self.path != "/v1/embeddings":
                return self._send(404, b'{"error": "not found"}')
            texts = body["input"]
            match endpoint.fail:
                case "status":  # as OpenAI does, quoting the key it refuses
                    return self._send(401, json.dumps({"error": f"Incorrect API key provided: {KEY}"}).encode())
                case "garbage":
                    return self._send(200, b"<html>proxy login</html>")
                case "hang":
                    release.wait(10)
                    return
            vectors = hashing.embed(texts)
            if endpoint.fail == "dim":
                vectors = vectors[:, : DIM // 2]
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
            if endpoint.fail == "short":
                data = data[:-1]
            self._send(200, json.dumps({"object": "list", "data": data[::-1], "model": body["model"]}).encode())

        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Endpoint(""), release))
    state = Endpoint(f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = _handler(state, release)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_vectors_come_from_the_endpoint_in_order_and_in_batches(endpoint: Endpoint) -> None:
    embedder = OpenAIEmbedder(endpoint.url, "nomic-embed-text", api_key=KEY, batch_size=3)
    assert (embedder.name, embedder.dim) == ("openai:nomic-embed-text", DIM)  # learnt by a probe request
    texts = [f"text number {i}" for i in range(7)]
    endpoint.requests.clear()
    got = embedder.embed(texts)
    assert np.allclose(got, HashEmbedder(DIM).embed(texts), atol=1e-6)
    assert [len(r["input"]) for r in endpoint.requests] == [3, 3, 1]
    assert {r["model"] for r in endpoint.requests} == {"nomic-embed-text"}
    assert set(endpoint.authorization) == {f"Bearer {KEY}"}
    OpenAIEmbedder(endpoint.url, "m", dim=DIM).embed(["no key"])
    assert endpoint.authorization[-1] is None  # no key: no header


async def test_a_memory_searches_with_the_endpoints_vectors(endpoint: Endpoint, db_path: Path) -> None:
    embedder = OpenAIEmbedder(endpoint.url, "nomic-embed-text", dim=DIM)
    async with memactor.open(db_path, embedder=embedder) as mem:
        wanted = await mem.facts.add(Fact("the deployment failed: health check timed out"))
        await mem.facts.add(Fact("lunch is at noon"))
        hits = await mem.facts.search("deployment health check", mode="vector", limit=1)
        assert [hit.record.id for hit in hits] == [wanted]
        endpoint.fail = "status"
        with pytest.raises(EmbedderError, match="HTTP 401"):
            await mem.facts.add(Fact("never stored"))
        assert await mem.facts.count() == 2  # the failed embedding stored nothing


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        ("status", r"answered HTTP 401 Unauthorized: .*check the API key"),
        ("garbage", r"did not answer with 2 embeddings as data\[i\]\.embedding .*OpenAI-compatible"),
        ("short", r"did not answer with 2 embeddings"),
        ("dim", r"returned a vector of 32 values for model 'm', not 64: check the model name"),
    ],
)
def test_a_failing_endpoint_raises_a_typed_error_without_the_key(endpoint: Endpoint, fail: str, message: str) -> None:
    embedder = OpenAIEmbedder(endpoint.url, "m", api_key=KEY, dim=DIM)
    endpoint.fail = fail
    with pytest.raises(EmbedderError, match=message) as raised:
        embedder.embed(["one", "two"])
    assert KEY not in str(raised.value) and KEY not in repr(raised.value) and KEY not in repr(embedder)
    # No chained exception either (a traceback would print it, and an HTTP error's may quote the key).
    error = raised.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_wrong_path_says_to_check_the_base_url(endpoint: Endpoint) -> None:
    with pytest.raises(EmbedderError, match=r"HTTP 404 .*check base_url"):
        OpenAIEmbedder(endpoint.url.removesuffix("/v1"), "m", api_key=KEY)


def test_no_server_and_no_answer_say_what_to_check(endpoint: Endpoint) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EmbedderError, match=r"cannot reach it .*check that the server runs") as raised:
        OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "m", api_key=KEY)
    assert KEY not in str(raised.value)
    endpoint.fail = "hang"
    with pytest.raises(EmbedderError, match=r"no answer within 0.5 s"):
        OpenAIEmbedder(endpoint.url, "m", api_key=KEY, dim=DIM, timeout=0.5).embed(["x"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(memactor.InvalidInputError, match="must start with http"):
        OpenAIEmbedder("file:///etc/passwd", "m", dim=8)
    with pytest.raises(memactor.InvalidInputError, match="batch_size"):
        OpenAIEmbedder("http://127.0.0.1:1/v1", "m", dim=8, batch_size=0)
