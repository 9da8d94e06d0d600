"""The embedders memactor ships and the coalescer that batches concurrent callers into few calls."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import numpy as np
import pytest

from memactor.embed import CallableEmbedder, HashEmbedder, check_embedder
from memactor.embed.coalesce import Coalescer
from memactor.errors import InvalidInputError

pytestmark = pytest.mark.anyio


def test_hash_embedder_is_deterministic_across_processes() -> None:
    here = HashEmbedder().embed(["deployment failed: health check timed out"])
    code = (
        "from memactor.embed import HashEmbedder;"
        "print(HashEmbedder().embed(['deployment failed: health check timed out']).tobytes().hex())"
    )
    # A fresh interpreter has another str hash salt: the vector must not depend on it.
    there = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert here.tobytes().hex() == there


def test_hash_embedder_rows_are_unit_float32_and_related_words_meet() -> None:
    vectors = HashEmbedder(dim=128).embed(["deploy the service", "the deployment of services", "bake a cake", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 128)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0)
    assert not vectors[3].any()
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_embedders_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="dim"):
        CallableEmbedder(lambda texts: [], "x", 0)
    with pytest.raises(InvalidInputError, match="name"):
        CallableEmbedder(lambda texts: [], "has space", 3)
    with pytest.raises(InvalidInputError, match="embed"):
        check_embedder(object())


async def test_a_wrong_shape_is_a_clear_error() -> None:
    coalescer = Coalescer(CallableEmbedder(lambda texts: [[1.0, 0.0]] * len(texts), "two", 3))
    with pytest.raises(InvalidInputError, match=r"returned shape \(1, 2\)"):
        await coalescer.embed(["a"])


async def test_concurrent_callers_share_embedding_calls() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        gate.wait(5)  # the first call is slow, so later callers pile up behind it
        return HashEmbedder(dim=16).embed(texts)

    coalescer = Coalescer(CallableEmbedder(embed, "slow", 16))
    first = asyncio.ensure_future(coalescer.embed(["t0"]))
    await asyncio.sleep(0.05)
    rest = [asyncio.ensure_future(coalescer.embed([f"t{i}"])) for i in range(1, 64)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(first, *rest)
    assert calls == [1, 63]
    expected = HashEmbedder(dim=16).embed([f"t{i}" for i in range(64)])
    assert all(np.allclose(row[0], want) for row, want in zip(results, expected, strict=True))
