"""Embedders named on a command line: ``hash``, ``hash:DIM`` or ``openai:BASE_URL:MODEL``.

Used by ``memactor mcp --embedder`` and ``memactor reindex --embedder``. The API key of an ``openai``
endpoint comes from the environment (``MEMACTOR_EMBEDDER_KEY``, else ``OPENAI_API_KEY``), never from the
command line, where other users could read it in the process list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import InvalidInputError
from .adapters import HashEmbedder
from .openai_compat import OpenAIEmbedder
from .protocol import Embedder

__all__ = ["KEY_ENVS", "SPEC_HELP", "embedder_from_spec"]

# Where the key of an ``openai:`` endpoint is looked up, in order.
KEY_ENVS = ("MEMACTOR_EMBEDDER_KEY", "OPENAI_API_KEY")

SPEC_HELP = (
    "hash (HashEmbedder, offline, for trying it out), hash:DIM, or openai:BASE_URL:MODEL, e.g. "
    "openai:http://127.0.0.1:11434/v1:nomic-embed-text (key from MEMACTOR_EMBEDDER_KEY or OPENAI_API_KEY)"
)


def embedder_from_spec(spec: str, environ: Mapping[str, str] | None = None) -> Embedder:
    """Build the embedder ``spec`` names.

    For ``openai:`` the model is what follows the first ``:`` after the URL's path begins, so ports in the
    URL and colons or slashes in the model (``nomic-embed-text:latest``, ``BAAI/bge-small-en``) both work.
    Building one asks the endpoint once for its vectors' dimension.

    Raises:
        InvalidInputError: a spec of no known form.
        EmbedderError: the endpoint could not be reached to learn the dimension.
    """
    environ = os.environ if environ is None else environ
    kind, _, rest = spec.partition(":")
    if kind == "hash":
        if not rest:
            return HashEmbedder()
        if rest.isdigit():
            return HashEmbedder(int(rest))
    elif kind == "openai":
        scheme, separator, tail = rest.partition("://")
        slash = tail.find("/")
        colon = tail.find(":", slash) if slash >= 0 else -1
        if separator and colon > slash and tail[colon + 1 :]:
            key = next((environ[name] for name in KEY_ENVS if environ.get(name)), None)
            return OpenAIEmbedder(f"{scheme}://{tail[:colon]}", tail[colon + 1 :], api_key=key)
    raise InvalidInputError(f"--embedder {spec!r}: expected {SPEC_HELP}")
