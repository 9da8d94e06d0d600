"""Embedders named on a command line: ``hash``, ``hash:DIM``, ``wordllama`` or ``openai:BASE_URL:MODEL``.

Used by ``memactor mcp --embedder`` and ``memactor reindex --embedder``. The API key of an ``openai``
endpoint comes from the environment (``MEMACTOR_EMBEDDER_KEY``, else ``OPENAI_API_KEY``), never from the
command line, where other users could read it in the process list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import EmbedderError, InvalidInputError
from .adapters import CallableEmbedder, HashEmbedder
from .openai_compat import OpenAIEmbedder
from .protocol import Embedder

__all__ = ["KEY_ENVS", "SPEC_HELP", "WORDLLAMA_NAME", "embedder_from_spec", "wordllama_embedder"]

# Where the key of an ``openai:`` endpoint is looked up, in order.
KEY_ENVS = ("MEMACTOR_EMBEDDER_KEY", "OPENAI_API_KEY")

# The name files made with the ``wordllama`` spec record: the model and its dimension.
WORDLLAMA_NAME = "wordllama-l2_supercat-256"

SPEC_HELP = (
    "hash (HashEmbedder, offline, for trying it out), hash:DIM, wordllama (offline static word vectors, "
    "pip install 'memactor[wordllama]'), or openai:BASE_URL:MODEL, e.g. "
    "openai:http://127.0.0.1:11434/v1:nomic-embed-text (key from MEMACTOR_EMBEDDER_KEY or OPENAI_API_KEY)"
)


def embedder_from_spec(spec: str, environ: Mapping[str, str] | None = None) -> Embedder:
    """Build the embedder ``spec`` names.

    For ``openai:`` the model is what follows the first ``:`` after the URL's path begins, so ports in the
    URL and colons or slashes in the model (``nomic-embed-text:latest``, ``BAAI/bge-small-en``) both work.
    Building one asks the endpoint once for its vectors' dimension.

    Raises:
        InvalidInputError: a spec of no known form.
        EmbedderError: the endpoint could not be reached to learn the dimension, or wordllama is not installed.
    """
    environ = os.environ if environ is None else environ
    kind, _, rest = spec.partition(":")
    if kind == "hash":
        if not rest:
            return HashEmbedder()
        if rest.isdigit():
            return HashEmbedder(int(rest))
    elif kind == "wordllama" and not rest:
        return wordllama_embedder()
    elif kind == "openai":
        scheme, separator, tail = rest.partition("://")
        slash = tail.find("/")
        colon = tail.find(":", slash) if slash >= 0 else -1
        if separator and colon > slash and tail[colon + 1 :]:
            key = next((environ[name] for name in KEY_ENVS if environ.get(name)), None)
            return OpenAIEmbedder(f"{scheme}://{tail[:colon]}", tail[colon + 1 :], api_key=key)
    raise InvalidInputError(f"--embedder {spec!r}: expected {SPEC_HELP}")


def wordllama_embedder() -> CallableEmbedder:
    """wordllama's 256-dimension static word vectors, loaded from the installed package alone.

    The wheel ships its weights and tokenizer, but wordllama's loader looks for the tokenizer in a folder
    named ``tokenizer`` (it ships in ``tokenizers``) and would then download it. Its cache lookup uses the
    shipped folder names, so the package's own folder is passed as the cache with downloads disabled:
    nothing is ever fetched.

    Raises:
        EmbedderError: wordllama is not installed, or its files are missing from the installed package.
    """
    try:
        import wordllama  # type: ignore[import-untyped]  # it ships no type information
    except ImportError:
        raise EmbedderError(
            "the wordllama embedder needs the wordllama package: pip install 'memactor[wordllama]'"
        ) from None
    try:
        model = wordllama.WordLlama.load(dim=256, cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except FileNotFoundError as exc:
        raise EmbedderError(
            f"the installed wordllama package lacks its bundled model files ({exc}); reinstall it with"
            " pip install --force-reinstall 'memactor[wordllama]'"
        ) from None
    return CallableEmbedder(model.embed, name=WORDLLAMA_NAME, dim=256)
