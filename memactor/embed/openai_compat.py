"""`OpenAIEmbedder`: vectors from an OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM, LM Studio).

Standard library only (``urllib.request``): no HTTP client to install. Every failure (an HTTP status, a
refused connection, a timeout, an answer that is not the expected JSON, vectors of the wrong length) is an
`EmbedderError` whose message says what to check. The API key is sent in the ``Authorization`` header and
nowhere else: it is in no message, no ``repr`` and no chained exception (server answers that quote it
have it masked).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from ..errors import EmbedderError, InvalidInputError
from .protocol import Matrix, check_embedder

__all__ = ["OpenAIEmbedder"]

# How much of an error answer's body a message quotes.
_BODY_CHARS = 300


class OpenAIEmbedder:
    """POST ``{base_url}/embeddings`` with ``{"model", "input": [...]}``; the vectors are ``data[i].embedding``.

    Args:
        base_url: The API's root, e.g. ``https://api.openai.com/v1`` or Ollama's ``http://127.0.0.1:11434/v1``.
        model: The model's name, sent as ``model`` and part of the embedder's name (``openai:MODEL``).
        api_key: Sent as ``Authorization: Bearer KEY`` when given (local servers usually need none).
        dim: The vectors' length. When None, one request embeds a probe text to learn it (so constructing
            the embedder then needs the endpoint up).
        batch_size: Texts per request at most; a longer batch is sent in several requests.
        timeout: Seconds one request may take.

    Raises:
        InvalidInputError: a base URL that is not http(s), a bad model name, dim or batch size.
        EmbedderError: (dim None) the probe request failed.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"base_url must start with http:// or https://, not {base_url!r}")
        if type(batch_size) is not int or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, not {batch_size!r}")
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        self._api_key = api_key
        self._timeout = timeout
        self.dim = dim if dim is not None else len(self._post(["dimension probe"])[0])
        check_embedder(self)

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.url!r}, {self.model!r}, dim={self.dim})"

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts``, ``batch_size`` per request.

        Raises:
            EmbedderError: a request failed, or its answer is not one vector of ``dim`` floats per text.
        """
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = self._post(list(texts[start : start + self.batch_size]))
            for offset, row in enumerate(rows):
                if len(row) != self.dim:
                    raise EmbedderError(
                        f"{self.url} returned a vector of {len(row)} values for model {self.model!r}, not {self.dim}:"
                        " check the model name, or the dim given (a file keeps the dimension it was made with)"
                    )
                out[start + offset] = row
        return out

    def _post(self, texts: list[str]) -> list[list[float]]:
        """One request: the vectors of ``texts``, in order."""
        body = json.dumps({"model": self.model, "input": texts}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = self._masked(exc.read()[:_BODY_CHARS].decode(errors="replace"))
            raise EmbedderError(
                f"{self.url} answered HTTP {exc.code} {exc.reason}: {detail!r}; {_hint(exc.code)}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timeout, reset
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, (TimeoutError, socket.timeout)):
                what = f"no answer within {self._timeout:g} s"
            else:
                what = f"cannot reach it ({self._masked(str(reason))})"
            raise EmbedderError(
                f"embedding endpoint {self.url}: {what}; check that the server runs and that base_url is right"
            ) from None
        return self._vectors(raw, len(texts))

    def _vectors(self, raw: bytes, count: int) -> list[list[float]]:
        try:
            answer: Any = json.loads(raw)
            data = answer["data"]
            if not isinstance(data, list) or len(data) != count:
                raise ValueError
            # The spec orders data by input; "index" is honoured when present, in case a server does not.
            if all(isinstance(entry, dict) and isinstance(entry.get("index"), int) for entry in data):
                data = sorted(data, key=lambda entry: entry["index"])
            rows = [entry["embedding"] for entry in data]
            if not all(isinstance(row, list) and all(isinstance(v, (int, float)) for v in row) for row in rows):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            sample = self._masked(raw[:_BODY_CHARS].decode(errors="replace"))
            raise EmbedderError(
                f"{self.url} did not answer with {count} embeddings as data[i].embedding (got {sample!r}):"
                " check that base_url points at an OpenAI-compatible API (usually ending in /v1)"
            ) from None
        return rows

    def _masked(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _hint(status: int) -> str:
    if status in (401, 403):
        return "check the API key (OPENAI_API_KEY or MEMACTOR_EMBEDDER_KEY) and its permissions"
    if status == 404:
        return "check base_url (it usually ends in /v1) and that the model is served there"
    if status == 429:
        return "the endpoint is rate limiting: try again later, or lower batch_size"
    if status >= 500:
        return "the endpoint failed: check its logs"
    return "check the model name and the request the endpoint expects"
