"""An approximate nearest-neighbour index (HNSW, from `usearch`) beside a reader's exact vector matrix.

Exact search costs one pass over every vector per query: fast to about 100k vectors on a small machine,
too slow at a million (measured by ``python -m bench.vector_scale``). Above a threshold the reader's
`VectorCache` keeps one of these as well, keyed by record rowid and kept in step with the same `vector_log`
catch-up as the matrix (adds, replacements and removals), never rebuilt per query. The matrix stays the
truth: the index only proposes candidates, whose similarities are then computed exactly from the matrix.

`usearch` is an optional dependency (``pip install 'memactor[ann]'``); `load` says whether it is installed,
and nothing here imports it otherwise.
"""

from __future__ import annotations

import importlib.util
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["AnnIndex", "available", "build_in_background", "nearest"]

# HNSW settings. connectivity 16 and expansion_add 64 build a million 256-dim vectors in 7 CPU-minutes on
# 2 cores. The search's beam: measured at 1M x 256 (50 candidates re-scored, top 10 against exact), 128 gave
# recall@10 0.86 at 0.9 ms of CPU, 256 0.93 at 1.3 ms, 512 0.95 at 3.0 ms, 1024 0.96 at 6.0 ms (exact: 87 ms);
# it widens with the number of candidates asked (see `AnnIndex.search`).
CONNECTIVITY = 16
EXPANSION_ADD = 64
MIN_EXPANSION_SEARCH = 512
# Stored as half floats: half the memory of float32, and the candidates are re-scored exactly anyway.
DTYPE = "f16"
# A filter that keeps at most 1 vector in this many is answered by exact search over those vectors alone.
FILTERED_EXACT_SHARE = 8
# The widest candidate list asked of the index before exact search answers instead: past it, the beam
# search (twice as wide) costs about what one exact pass over a million vectors does.
MAX_FETCH = 20_000


def available() -> bool:
    """Whether `usearch` is installed (the ``ann`` extra)."""
    return importlib.util.find_spec("usearch") is not None


def build_in_background(rids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> Future[AnnIndex]:
    """Start building an index of ``vectors`` (keyed by ``rids``) on a thread of its own, and return at once.

    A build takes minutes at a million vectors; the search that found the threshold passed must not wait for
    it (nor any search after it: they stay exact until the build is done). The thread is a daemon, so a
    build under way never holds up the interpreter's exit. ``rids`` and ``vectors`` must be copies that
    nothing changes meanwhile.
    """
    future: Future[AnnIndex] = Future()

    def build() -> None:
        try:
            index = AnnIndex(vectors.shape[1])
            index.add(rids, vectors)
        except BaseException as exc:  # noqa: BLE001 - whatever failed reaches the cache that waits for it
            future.set_exception(exc)
        else:
            future.set_result(index)

    threading.Thread(target=build, name="memactor-ann-build", daemon=True).start()
    return future


class AnnIndex:
    """An HNSW index of unit vectors under inner product, keyed by record rowid."""

    def __init__(self, dim: int) -> None:
        from usearch.index import Index

        self._index: Any = Index(
            ndim=dim, metric="ip", dtype=DTYPE, connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD
        )

    def __len__(self) -> int:
        return len(self._index)

    def add(self, rids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Insert vectors, or replace those of rowids already in the index.

        Args:
            rids: Record rowids, distinct.
            vectors: One unit vector per rowid, ``(len(rids), dim)``.
        """
        if not len(rids):
            return
        keys = rids.astype("uint64")
        self.remove(rids)  # the index refuses a key twice: a replacement is a removal and an insert
        self._index.add(keys, vectors, threads=0)

    def remove(self, rids: npt.NDArray[np.int64]) -> None:
        """Remove the vectors of these rowids; rowids not in the index are ignored."""
        if len(rids):
            keys = rids.astype("uint64")
            present = keys[self._index.contains(keys)]
            if len(present):
                self._index.remove(present)

    def search(self, query: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
        """The rowids of up to ``count`` vectors nearest to ``query``, about best first (approximate)."""
        import numpy as np

        if not len(self._index) or count <= 0:
            return np.zeros(0, dtype=np.int64)
        self._index.expansion_search = max(MIN_EXPANSION_SEARCH, 2 * count)
        found = self._index.search(query, min(count, len(self._index)))
        keys: npt.NDArray[np.int64] = np.asarray(found.keys, dtype=np.int64)
        return keys


class Cache(Protocol):
    """What `nearest` reads of a reader's `memactor.model.vcache.VectorCache`."""

    rows: dict[int, int]
    matrix: Any
    ann: AnnIndex | None

    def exact(
        self, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64] | None, count: int
    ) -> list[tuple[int, float]]:
        """The exact answer (see `memactor.model.vcache.VectorCache.exact`)."""
        ...


def nearest(
    cache: Cache, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64] | None, count: int
) -> list[tuple[int, float]]:
    """`VectorCache.nearest` with the cache's approximate index: filters still apply before ranking.

    A filter that keeps few vectors (at most 1 in `FILTERED_EXACT_SHARE`) is answered exactly over those
    vectors alone, which costs at most that share of a full pass. Otherwise the index is asked for more
    candidates than wanted, in proportion to how many the filter drops, and asked again four times wider
    until ``count`` pass the filter; past `MAX_FETCH` candidates (as costly as a full pass), exact search
    answers instead. The candidates' similarities are computed from the matrix, so an index that lags or
    errs can cost recall but never report a vector that is not the record's current one.
    """
    import numpy as np

    assert cache.ann is not None
    live = len(cache.rows)
    total = live if allowed is None else len(allowed)
    if allowed is not None and total * FILTERED_EXACT_SHARE <= live:
        return cache.exact(query, allowed, count)
    want = min(count, total)
    fetch = want if allowed is None else want * 2 * -(-live // max(1, total))
    while fetch <= max(want, MAX_FETCH):
        found = cache.ann.search(query, fetch)
        if allowed is not None:
            found = found[np.isin(found, allowed)]
        picked = [int(rid) for rid in found if int(rid) in cache.rows]
        if len(picked) >= want:
            sims = cache.matrix[[cache.rows[rid] for rid in picked]] @ query
            order = np.argsort(-sims, kind="stable")[:count]
            return [(picked[i], float(sims[i])) for i in order]
        if fetch >= len(cache.ann):
            break
        fetch *= 4
    return cache.exact(query, allowed, count)
