"""The `Embedder` protocol, the checks every embedder's output meets, and the text a record is embedded by.

Embedders are synchronous: the ones people have (sentence-transformers, numpy code, an HTTP call through
urllib) are, and memactor calls them in a worker thread (`memactor.embed.coalesce`), so none blocks the event
loop and none has to know about asyncio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import InvalidInputError
from ..model.records import Episode, Fact, Record

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]
else:
    Matrix = Any

__all__ = ["TEXT_FIELDS", "Embedder", "Matrix", "check_embedder", "check_matrix", "record_text", "to_blobs"]

_NAME = re.compile(r"^[\x21-\x7e]{1,200}$")


@runtime_checkable
class Embedder(Protocol):
    """Turns a batch of texts into one float32 vector each.

    Attributes:
        name: A stable name of the model and its settings, stored in the memory file: vectors of another
            name are never mixed with these.
        dim: The vectors' length.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Return an ``(len(texts), dim)`` float32 array, one row per text, in order.

        Called in a worker thread, never on the event loop; it may block.
        """
        ...


def check_embedder(embedder: object) -> Embedder:
    """Return ``embedder`` if it has a usable name, dim and embed method.

    Raises:
        InvalidInputError: it does not.
    """
    if not isinstance(embedder, Embedder):
        raise InvalidInputError(
            f"an embedder needs a name, a dim and an embed(texts) method; {type(embedder).__name__} lacks one"
        )
    if not isinstance(embedder.name, str) or not _NAME.match(embedder.name):
        raise InvalidInputError(f"an embedder's name must be 1..200 printable ASCII characters, not {embedder.name!r}")
    if type(embedder.dim) is not int or not 1 <= embedder.dim <= 65_536:
        raise InvalidInputError(f"an embedder's dim must be an int in 1..65536, not {embedder.dim!r}")
    return embedder


def check_matrix(embedder: Embedder, matrix: object, count: int) -> Matrix:
    """Return ``matrix`` as a C-contiguous float32 array of unit rows, checked against ``embedder``.

    Rows are L2-normalised here, so cosine similarity is a dot product; an all-zero row stays zero.

    Raises:
        InvalidInputError: the embedder returned the wrong shape or a value that is not finite.
    """
    import numpy as np

    array = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32))
    if array.shape != (count, embedder.dim):
        raise InvalidInputError(
            f"embedder {embedder.name!r} returned shape {array.shape} for {count} texts, not ({count}, {embedder.dim})"
        )
    if not np.isfinite(array).all():
        raise InvalidInputError(f"embedder {embedder.name!r} returned a value that is not finite")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    unit: Matrix = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return unit


def to_blobs(matrix: Matrix) -> tuple[bytes, ...]:
    """One little-endian float32 blob per row, as stored in the file and carried in commands."""
    little = matrix.astype("<f4", copy=False)
    return tuple(row.tobytes() for row in little)


# The fields `record_text` reads, per kind: an update that changes one of them needs a new vector.
TEXT_FIELDS = {
    "episode": frozenset({"task", "steps", "outcome"}),
    "fact": frozenset({"content"}),
    "skill": frozenset({"name", "description", "steps", "code"}),
}


def record_text(record: Record) -> str:
    """The text a record is embedded by: its searchable fields, one per line."""
    if isinstance(record, Episode):
        parts = [record.task, *record.steps, record.outcome]
    elif isinstance(record, Fact):
        parts = [record.content]
    else:
        parts = [record.name, record.description, *record.steps, record.code]
    return "\n".join(part for part in parts if part)
