"""Embedders memactor ships: `HashEmbedder` (deterministic, offline, for tests) and `CallableEmbedder`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InvalidInputError
from .protocol import Matrix, check_embedder

__all__ = ["CallableEmbedder", "HashEmbedder"]

_WORD = re.compile(r"[^\W_]+")
# Longest first: "ments" before "s". A crude stemmer, enough to make "deploy", "deployed" and "deployment" meet.
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, and vectors must match across processes.
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if value >> 63 else -1.0)


class HashEmbedder:
    """Feature hashing of stemmed lowercase words and their character trigrams, L2-normalised.

    Deterministic across processes and machines, offline and fast: for tests and for trying vector search
    out. It catches shared words and word pieces ("timeout" and "timed out"), not meaning.
    """

    def __init__(self, dim: int = 256, trigram_weight: float = 0.5) -> None:
        self.dim = dim
        self.trigram_weight = trigram_weight
        self.name = f"hash-v1-{dim}-{trigram_weight:g}"
        check_embedder(self)

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts``; see the class docstring."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                stem = _stem(word)
                index, sign = _bucket("w:" + stem, self.dim)
                out[row, index] += sign
                padded = f"#{stem}#"
                for start in range(len(padded) - 2):
                    index, sign = _bucket("t:" + padded[start : start + 3], self.dim)
                    out[row, index] += sign * self.trigram_weight
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: Matrix = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
        return unit


class CallableEmbedder:
    """Any function from a list of texts to an ``(n, dim)`` array (or list of lists) of floats."""

    def __init__(self, fn: Callable[[list[str]], Any], name: str, dim: int) -> None:
        if not callable(fn):
            raise InvalidInputError(f"CallableEmbedder needs a callable, not {type(fn).__name__}")
        self._fn = fn
        self.name = name
        self.dim = dim
        check_embedder(self)

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Call the function on ``texts`` (as a list) and return what it returns."""
        result: Matrix = self._fn(list(texts))
        return result
