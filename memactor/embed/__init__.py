"""Embeddings: the `Embedder` protocol, its adapters, and the coalescer that batches concurrent callers.

An embedder turns texts into vectors for vector and hybrid search. numpy is imported only when a vector is
made or read, so a memory opened without an embedder never imports it (install the ``embed`` extra).
May import `memactor.errors` and `memactor.model`; nothing here knows the actor, SQLite or the network.
"""

from .adapters import CallableEmbedder, HashEmbedder
from .openai_compat import OpenAIEmbedder
from .protocol import Embedder, check_embedder, record_text

__all__ = ["CallableEmbedder", "Embedder", "HashEmbedder", "OpenAIEmbedder", "check_embedder", "record_text"]
