"""``--embedder wordllama``: loads the model shipped inside the wheel with the network blocked, and says how to
install it when it is missing."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest

import memactor
from memactor import EmbedderError, Fact
from memactor.embed.spec import WORDLLAMA_NAME, embedder_from_spec

pytestmark = pytest.mark.anyio


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"the wordllama embedder tried to reach the network: {args!r}")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No socket may connect, Hugging Face is told it is offline, and the home folder is empty."""
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


async def test_wordllama_loads_from_the_package_offline_and_searches(offline: Path) -> None:
    pytest.importorskip("wordllama")
    embedder = embedder_from_spec("wordllama")
    assert (embedder.name, embedder.dim) == (WORDLLAMA_NAME, 256)
    assert list(offline.rglob("*")) == []  # nothing was fetched into a cache
    texts = ["deployment failed: health check timed out", "lunch menu for friday", "invoice paid twice"]
    async with memactor.open(offline / "m.db", embedder=embedder) as mem:
        ids = await mem.facts.add_many([Fact(text) for text in texts])
        hits = await mem.facts.search("what went wrong with the rollout?", mode="vector", limit=3)
    assert hits[0].record.id == ids[0]


def test_missing_wordllama_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama now raises ImportError
    with pytest.raises(EmbedderError, match=r"pip install 'memactor\[wordllama\]'"):
        embedder_from_spec("wordllama")
