"""The embedders `memactor bench recall` measures: HashEmbedder always, wordllama when installed, and specs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from memactor.embed import Embedder, HashEmbedder
from memactor.embed.spec import embedder_from_spec

__all__ = ["available"]


def _from_spec(spec: str) -> Callable[[], Embedder]:
    return lambda: embedder_from_spec(spec)


def available(specs: list[str]) -> list[tuple[str, Callable[[], Embedder]]]:
    """Each embedder to measure, as (label, factory): hash, wordllama if installed, then ``specs``."""
    found: list[tuple[str, Callable[[], Embedder]]] = [("hash", HashEmbedder)]
    if importlib.util.find_spec("wordllama") is not None:
        found.append(("wordllama", _from_spec("wordllama")))
    for spec in specs:
        if spec not in {label for label, _ in found}:
            found.append((spec, _from_spec(spec)))
    return found
