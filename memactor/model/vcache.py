"""A cached matrix of one record kind's vectors, caught up from an engine's commit-ordered vector log.

Both engines keep the vectors of a memory in a table and list every insert, replacement and removal of a
vector in a log numbered in commit order (SQLite: ``vector_log``; PostgreSQL: the same, see
`memactor.postgres.vectors`). A reader connection keeps one `VectorCache` per kind and, inside one read
transaction, reads only the log's new entries and the current vectors they name (`VectorLog`), never the
whole table again. The engine says how to read its log; the matrix and its upkeep are here, once.
numpy is imported only when a vector arrives or a search runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["VectorCache", "VectorLog"]


class VectorLog(Protocol):
    """The reads a cache catches up with, all in the caller's one read transaction (one snapshot)."""

    def newest(self) -> int:
        """The log's last sequence number (0 when empty)."""
        ...

    def dim(self) -> int | None:
        """The dimension of the memory's embedder, or None if it records none."""
        ...

    def every(self, kind: str) -> Iterable[tuple[int, bytes | None]]:
        """Every vector of ``kind``, as (record key, float32 bytes)."""
        ...

    def changed(self, kind: str, since: int) -> Iterable[tuple[int, bytes | None]]:
        """Each record key of ``kind`` the log names after ``since``, with its current vector (None: removed)."""
        ...


@dataclass
class VectorCache:
    """The vectors of one kind as a matrix, and how far into the vector log it has read.

    Rows are appended (capacity doubling); a replaced vector is overwritten in place, a removed one is
    marked dead and zeroed, and dead rows are squeezed out once they are half of the matrix. Record keys
    are integers (SQLite's rowid, PostgreSQL's ``rid`` column).
    """

    kind: str
    seq: int = -1
    count: int = 0
    dead: int = 0
    rows: dict[int, int] = field(default_factory=dict)  # record key -> matrix row
    matrix: Any = None  # npt.NDArray[np.float32], (capacity, dim)
    rids: Any = None  # npt.NDArray[np.int64], (capacity,)
    alive: Any = None  # npt.NDArray[np.bool_], (capacity,)

    def catch_up(self, log: VectorLog) -> None:
        """Catch up with the memory, inside the caller's read transaction."""
        newest = log.newest()
        if newest == self.seq:
            return
        if self.matrix is not None and log.dim() not in (None, self.matrix.shape[1]):
            # The memory was switched to an embedder of another dimension: start over.
            self.seq, self.count, self.dead, self.rows, self.matrix = -1, 0, 0, {}, None
        changes = log.every(self.kind) if self.seq < 0 else log.changed(self.kind, self.seq)
        for rid, vec in changes:
            self._apply(rid, vec)
        if self.dead > max(64, self.count // 2):
            self._squeeze()
        self.seq = newest

    def _apply(self, rid: int, vec: bytes | None) -> None:
        import numpy as np

        row = self.rows.get(rid)
        if vec is None:
            if row is not None:
                del self.rows[rid]
                self.alive[row] = False
                self.matrix[row] = 0.0
                self.dead += 1
            return
        vector = np.frombuffer(vec, dtype="<f4")
        if self.matrix is None:
            self.matrix = np.zeros((16, len(vector)), dtype=np.float32)
            self.rids = np.zeros(16, dtype=np.int64)
            self.alive = np.zeros(16, dtype=bool)
        if len(vector) != self.matrix.shape[1]:
            return  # not this memory's embedder: the writer refuses such vectors, so this is never stored
        if row is None:
            if self.count == len(self.rids):
                self._grow()
            row = self.count
            self.count += 1
            self.rows[rid] = row
            self.rids[row] = rid
            self.alive[row] = True
        self.matrix[row] = vector

    def _grow(self) -> None:
        import numpy as np

        size = 2 * len(self.rids)
        self.matrix = np.resize(self.matrix, (size, self.matrix.shape[1]))
        self.matrix[self.count :] = 0.0
        self.rids = np.resize(self.rids, size)
        self.alive = np.concatenate([self.alive[: self.count], np.zeros(size - self.count, dtype=bool)])

    def _squeeze(self) -> None:
        keep = self.alive[: self.count].nonzero()[0]
        self.matrix = self.matrix[keep].copy()
        self.rids = self.rids[keep].copy()
        self.alive = self.alive[keep].copy()
        self.count, self.dead = len(keep), 0
        self.rows = {int(rid): row for row, rid in enumerate(self.rids)}

    def similarities(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine similarity of every row to ``query`` (a unit vector); dead rows score -inf."""
        import numpy as np

        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        if len(query) != self.matrix.shape[1]:
            raise InvalidInputError(
                f"the query's vector has {len(query)} values; this file's vectors have {self.matrix.shape[1]}"
            )
        sims = self.matrix[: self.count] @ query
        sims[~self.alive[: self.count]] = -np.inf
        return sims  # type: ignore[no-any-return]
