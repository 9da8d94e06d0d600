"""A reader's vectors of one kind as a matrix, caught up incrementally, and its nearest-vector search.

Both engines keep a memory's vectors in a table and list every insert, replacement and removal of a vector
in a log numbered in commit order (SQLite: ``vector_log``, schema version 5; PostgreSQL: the same, see
`memactor.postgres.vectors`). A reader connection keeps one `VectorCache` per kind and, inside one read
transaction, reads only the log's new entries and the current vectors they name (`VectorLog`, the engine's
part), never the whole table again. Nearest vectors are found exactly (one matrix product and a partial sort)
or, past `EXACT_MAX_FLOATS` floats of vectors and with the ``ann`` extra installed, through an approximate
index kept beside the matrix (`memactor.model.ann`), caught up by the same log. numpy is imported only here
and in `memactor.model.ann`, when a vector search runs.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .ann import AnnIndex

__all__ = ["EXACT_MAX_FLOATS", "VectorCache", "VectorLog"]

# Exact search reads every float of the matrix once per query, so its cost is vectors x dimension. The criterion:
# a search's p50 under 20 ms of CPU on a 2-core machine. Measured by ``python -m bench.vector_scale`` (the
# exact step alone): 8.8 ms at 100k x 256, 20.5 ms at 200k x 256, 12.4 ms at 100k x 384, 25.5 ms at
# 200k x 384, 90-125 ms at 1M; about 60M floats cost 20 ms. Past that, a reader keeps an approximate index
# beside its matrix (with the ``ann`` extra installed): from 234k vectors of 256 values, 156k of 384, 78k of 768.
EXACT_MAX_FLOATS = 60_000_000
_LOAD_CHUNK = 8192
_log = logging.getLogger(__name__)


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
    """The vectors of one kind as a matrix, and how far into `vector_log` it has read.

    Rows are appended (capacity doubling); a replaced vector is overwritten in place, a removed one is
    marked dead and zeroed, and dead rows are squeezed out once they are half of the matrix. From
    ``ann_threshold`` live vectors on, an approximate index (`memactor.model.ann`) is kept beside the matrix
    when the ``ann`` extra is installed; ``ann_threshold`` defaults to ``$MEMACTOR_ANN_THRESHOLD``, or else
    `EXACT_MAX_FLOATS` divided by the vectors' dimension.
    """

    kind: str
    ann_threshold: int | None = field(default_factory=lambda: _threshold_from_env())
    seq: int = -1
    count: int = 0
    dead: int = 0
    rows: dict[int, int] = field(default_factory=dict)  # record rowid -> matrix row
    matrix: Any = None  # npt.NDArray[np.float32], (capacity, dim)
    rids: Any = None  # npt.NDArray[np.int64], (capacity,)
    alive: Any = None  # npt.NDArray[np.bool_], (capacity,)
    ann: AnnIndex | None = None
    warned: bool = False  # that the ``ann`` extra is missing, once per cache
    _changed: set[int] = field(default_factory=set)  # rowids given a vector since the index was last synced
    _removed: set[int] = field(default_factory=set)  # rowids whose vector went
    _build: Future[AnnIndex] | None = None  # the index being built in the background, if one is

    def catch_up(self, log: VectorLog) -> None:
        """Catch up with the memory, inside the caller's read transaction."""
        newest = log.newest()
        if newest == self.seq:
            return
        if self.matrix is not None and log.dim() not in (None, self.matrix.shape[1]):
            # The memory was switched to an embedder of another dimension (`reindex --switch`): start over.
            self.seq, self.count, self.dead, self.rows, self.matrix, self.ann = -1, 0, 0, {}, None, None
            self._build = None  # a build of the old vectors under way is dropped when it ends
            self._changed.clear()
            self._removed.clear()
        if self.seq < 0:
            self._load(log)
        else:
            for rid, vec in log.changed(self.kind, self.seq):
                self._apply(rid, vec)
        if self.dead > max(64, self.count // 2):
            self._squeeze()
        self._adopt()
        self._sync_ann()
        self.seq = newest

    def _load(self, log: VectorLog) -> None:
        import numpy as np

        # A first load reads every vector: in chunks, one numpy copy per chunk, not one Python step per row.
        rows = iter(log.every(self.kind))
        while chunk := list(itertools.islice(rows, _LOAD_CHUNK)):
            rids, vecs = zip(*chunk, strict=True)
            size = len(vecs[0])
            if self.matrix is None or any(len(vec) != size for vec in vecs) or size != 4 * self.matrix.shape[1]:
                for rid, vec in chunk:  # the first chunk sets the dimension; a stray size is skipped by _apply
                    self._apply(rid, vec)
                continue
            while self.count + len(rids) > len(self.rids):
                self._grow()
            start, end = self.count, self.count + len(rids)
            self.matrix[start:end] = np.frombuffer(b"".join(vecs), dtype="<f4").reshape(len(rids), -1)
            self.rids[start:end] = rids
            self.alive[start:end] = True
            self.rows.update(zip(rids, range(start, end), strict=True))
            self.count = end

    def _apply(self, rid: int, vec: bytes | None) -> None:
        import numpy as np

        row = self.rows.get(rid)
        if vec is None:
            if row is not None:
                del self.rows[rid]
                self.alive[row] = False
                self.matrix[row] = 0.0
                self.dead += 1
                self._changed.discard(rid)
                self._removed.add(rid)
            return
        vector = np.frombuffer(vec, dtype="<f4")
        if self.matrix is None:
            self.matrix = np.zeros((16, len(vector)), dtype=np.float32)
            self.rids = np.zeros(16, dtype=np.int64)
            self.alive = np.zeros(16, dtype=bool)
        if len(vector) != self.matrix.shape[1]:
            return  # not this file's embedder: the writer refuses such vectors, so this is never stored
        if row is None:
            if self.count == len(self.rids):
                self._grow()
            row = self.count
            self.count += 1
            self.rows[rid] = row
            self.rids[row] = rid
            self.alive[row] = True
        self.matrix[row] = vector
        self._changed.add(rid)
        self._removed.discard(rid)

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

    def _sync_ann(self) -> None:
        """Bring the approximate index, if there is one, in step with the matrix."""
        import numpy as np

        if self.ann is None and self._build is not None:
            return  # a build is under way: what changed since its copy is replayed into it when it is done
        if self.ann is not None:
            self.ann.remove(np.fromiter(self._removed, dtype=np.int64, count=len(self._removed)))
            changed = np.fromiter(self._changed, dtype=np.int64, count=len(self._changed))
            self.ann.add(changed, self.matrix[[self.rows[int(rid)] for rid in changed]])
        self._changed.clear()  # without an index, nothing to remember: a build reads the whole matrix
        self._removed.clear()

    def build_index(self, *, background: bool = True) -> None:
        """Start building the approximate index if the threshold is passed and there is none yet.

        The build (minutes at a million vectors) runs on a thread of its own from a copy of the live vectors;
        searches meanwhile stay exact, and the first catch-up or search after it ends adopts the index and
        replays into it what changed since the copy. Called outside any read transaction. Without the ``ann``
        extra, logs once how to get it.

        Args:
            background: False waits for the build and adopts it before returning (tests, tools).
        """
        if self.ann is not None or self._build is not None or self.matrix is None:
            return
        threshold = EXACT_MAX_FLOATS // self.matrix.shape[1] if self.ann_threshold is None else self.ann_threshold
        if len(self.rows) < max(1, threshold):
            return
        from . import ann

        if not ann.available():
            if not self.warned:
                self.warned = True
                _log.warning(
                    "%d %s vectors: exact vector search is slow at this size; pip install 'memactor[ann]'"
                    " for an approximate index",
                    len(self.rows),
                    self.kind,
                )
            return
        live = self.alive[: self.count]
        # Boolean indexing copies: the build never sees the matrix change under it (rows are overwritten in
        # place, squeezed, zeroed). Changes from here on are remembered and replayed into the built index.
        self._changed.clear()
        self._removed.clear()
        self._build = ann.build_in_background(self.rids[: self.count][live], self.matrix[: self.count][live])
        if not background:
            self._build.exception()  # waits
            self._adopt()

    def _adopt(self) -> None:
        """Take the index built in the background, if its build has ended, and replay what changed since."""
        if self._build is None or not self._build.done():
            return
        build, self._build = self._build, None
        try:
            self.ann = build.result()
        except Exception:  # noqa: BLE001 - any failure of the build leaves search exact, never broken
            # Searches stay exact; the threshold is set out of reach so that no search starts the build again.
            _log.exception("building the approximate index of %d %s vectors failed", len(self.rows), self.kind)
            self.ann_threshold = 2**62
        self._sync_ann()

    def similarities(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine similarity of every row to ``query`` (a unit vector); dead rows score -inf."""
        import numpy as np

        if self.matrix is None:
            return np.zeros(0, dtype=np.float32)
        self._check(query)
        sims = self.matrix[: self.count] @ query
        sims[~self.alive[: self.count]] = -np.inf
        return sims  # type: ignore[no-any-return]

    def similarity_of(self, rids: Iterable[int], query: npt.NDArray[np.float32]) -> dict[int, float]:
        """Cosine similarity to ``query`` of the vectors of ``rids`` that have one."""
        rows = {rid: self.rows[rid] for rid in rids if rid in self.rows}
        if not rows:
            return {}
        self._check(query)
        sims = self.matrix[list(rows.values())] @ query
        return {rid: float(sim) for rid, sim in zip(rows, sims, strict=True)}

    def nearest(
        self, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64] | None, count: int
    ) -> list[tuple[int, float]]:
        """The ``count`` nearest vectors to ``query`` among the rowids ``allowed`` (None: all), best first.

        Exact below the threshold; with an approximate index, candidates come from it (see
        `memactor.model.ann.nearest`), and every similarity returned is computed exactly from the matrix.
        """
        if self.matrix is None or count <= 0:
            return []
        self._check(query)
        self._adopt()
        if self.ann is not None:
            from . import ann

            return ann.nearest(self, query, allowed, count)
        return self.exact(query, allowed, count)

    def exact(
        self, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64] | None, count: int
    ) -> list[tuple[int, float]]:
        """`nearest`, computed over every allowed vector."""
        import numpy as np

        if self.matrix is None:
            return []
        if allowed is None:
            sims = self.similarities(query)  # dead rows score -inf and, fewer than count live, rank last
            return [(int(self.rids[i]), float(sims[i])) for i in _top(sims, min(count, len(self.rows)))]
        rows = (self.alive[: self.count] & np.isin(self.rids[: self.count], allowed)).nonzero()[0]
        sims = self.matrix[rows] @ query
        return [(int(self.rids[rows[i]]), float(sims[i])) for i in _top(sims, count)]

    def _check(self, query: npt.NDArray[np.float32]) -> None:
        if len(query) != self.matrix.shape[1]:
            raise InvalidInputError(
                f"the query's vector has {len(query)} values; this file's vectors have {self.matrix.shape[1]}"
            )


def _top(sims: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.intp]:
    """Indices of the ``count`` largest values, largest first, ties in index order (as a stable full sort)."""
    import numpy as np

    if count >= len(sims):
        return np.argsort(-sims, kind="stable")
    # Partitioning finds the count-th value in linear time; everything at least as large is sorted, so ties
    # at the cut keep index order as a full stable sort would, at a fraction of its cost on a large matrix.
    cut = np.partition(sims, len(sims) - count)[len(sims) - count]
    keep = (sims >= cut).nonzero()[0]
    return keep[np.argsort(-sims[keep], kind="stable")][:count]  # type: ignore[no-any-return]


def _threshold_from_env() -> int | None:
    value = os.environ.get("MEMACTOR_ANN_THRESHOLD")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError(f"MEMACTOR_ANN_THRESHOLD must be a whole number of vectors, not {value!r}") from None
