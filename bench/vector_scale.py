"""How vector search scales: exact search at 10k, 100k and 1M vectors, and the approximate index above that.

For each dimension and size, on one seeded synthetic set:

- ``raw exact``: the exact step alone (`VectorCache.exact`: one matrix product and a partial sort for the
  50 candidates a 10-result search ranks), on a matrix in memory, no SQLite;
- ``api exact``: ``mem.facts.search(..., mode="vector", limit=10)`` on a memory file holding that many facts
  with vectors, with the approximate index switched off (``MEMACTOR_ANN_THRESHOLD`` set past the size);
- ``api ann``: the same searches with the index forced on (threshold 0), from ``--ann-min`` vectors on and
  only with the ``ann`` extra installed. Recall@10 is the share of the exact search's 10 results that it
  returns too, and its latency is also given as a ratio to exact's in the same run.

"first" is the first search on a fresh handle: the reader loading every vector (and building the index).
The file is built once per (dim, size) through the public API: ``add_many`` in batches of 5,000, with a
`CallableEmbedder` that returns the precomputed vectors (fact ``v17`` -> row 17), and kept in ``--dir``.

The synthetic set: ``size / 250`` random unit centres, each vector a centre plus Gaussian noise of about
the centre's length (cosine to its centre ~0.7), and each query a stored vector plus noise of half its length:
clustered like real embeddings, but of a higher intrinsic dimension, so approximate recall here is a
pessimistic estimate.

    python -m bench.vector_scale [--sizes 10000,100000,1000000] [--dims 256,384] [--queries 200]
                                 [--dir /tmp/vector-scale] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

import memactor
from memactor import Fact
from memactor.embed import CallableEmbedder
from memactor.model import ann
from memactor.sqlite.vsearch import VectorCache

from .report import machine

LIMIT = 10
CANDIDATES = 5 * LIMIT  # what a search of LIMIT results ranks (memactor.sqlite.read.CANDIDATES_PER_RESULT)
BATCH = 5_000
Matrix = npt.NDArray[np.float32]


def dataset(size: int, dim: int, queries: int, seed: int) -> tuple[Matrix, Matrix]:
    """The stored vectors and the query vectors, unit rows, the same for the same arguments."""
    rng = np.random.default_rng([seed, size, dim])
    centres = _unit(rng.standard_normal((max(16, size // 250), dim), dtype=np.float32))
    data = np.empty((size, dim), dtype=np.float32)
    for start in range(0, size, 100_000):  # in slices: the noise of a million rows at once would double memory
        end = min(size, start + 100_000)
        noise = rng.standard_normal((end - start, dim), dtype=np.float32) / np.sqrt(dim)
        data[start:end] = _unit(centres[rng.integers(0, len(centres), end - start)] + noise)
    picked = data[rng.integers(0, size, queries)]
    asked = _unit(picked + 0.5 * rng.standard_normal(picked.shape, dtype=np.float32) / np.sqrt(dim))
    return data, asked


def _unit(matrix: Matrix) -> Matrix:
    # float32 on the way out: numpy's float64 scalars (np.sqrt(dim)) promote, and a float64 query would make
    # every matrix product convert the whole float32 matrix first.
    unit: Matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _percentiles(seconds: list[float], cpu: list[float]) -> dict[str, float]:
    # The CPU time beside the wall time: on a machine shared with other work, waiting for a core inflates
    # the wall time of every method alike, and the ratios between methods stay comparable.
    ms = np.array(seconds) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "cpu_p50_ms": float(np.percentile(np.array(cpu) * 1e3, 50)),
        "load": os.getloadavg()[0],
    }


def raw_exact(data: Matrix, asked: Matrix) -> dict[str, Any]:
    """Latency of the exact step alone, on a cache filled directly from ``data``."""
    cache = VectorCache("fact", ann_threshold=len(data) + 1)
    cache.matrix, cache.count = data, len(data)
    cache.rids, cache.alive = np.arange(len(data), dtype=np.int64), np.ones(len(data), dtype=bool)
    cache.rows = dict.fromkeys(range(len(data)), 0)  # only its length is read by the unfiltered exact step
    seconds, cpu = [], []
    for query in asked:
        start, start_cpu = time.perf_counter(), time.process_time()
        cache.exact(query, None, CANDIDATES)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return _percentiles(seconds, cpu)


def _embedder(data: Matrix, asked: Matrix) -> CallableEmbedder:
    def vectors(texts: list[str]) -> Matrix:
        rows = [int(text[1:]) for text in texts]
        return (data if texts[0][0] == "v" else asked)[rows]

    return CallableEmbedder(vectors, f"scale-{data.shape[1]}", data.shape[1])


async def build_file(path: Path, data: Matrix, asked: Matrix, progress: bool) -> float | None:
    """Fill ``path`` with one fact per vector unless it holds them already; the seconds it took, or None."""
    async with memactor.open(path, embedder=_embedder(data, asked), durability="normal") as mem:
        have = await mem.facts.count()
        if have == len(data):
            return None
        if have:
            raise SystemExit(f"{path} holds {have} facts, not {len(data)}: remove it")
        start = time.perf_counter()
        with tqdm(total=len(data), desc=f"build {path.name}", unit="fact", disable=not progress) as bar:
            for first in range(0, len(data), BATCH):
                last = min(len(data), first + BATCH)
                await mem.facts.add_many([Fact(f"v{i}") for i in range(first, last)])
                bar.update(last - first)
        return time.perf_counter() - start


async def api_search(path: Path, data: Matrix, asked: Matrix, threshold: int, progress: bool) -> dict[str, Any]:
    """Run every query through ``search(mode="vector")`` on a fresh handle; latencies and the ids found."""
    os.environ["MEMACTOR_ANN_THRESHOLD"] = str(threshold)  # read when the reader's cache is made
    async with memactor.open(path, embedder=_embedder(data, asked), readonly=True) as mem:
        found, seconds, cpu = [], [], []
        for j in tqdm(range(len(asked)), desc="search " + ("ann" if threshold == 0 else "exact"), disable=not progress):
            start, start_cpu = time.perf_counter(), time.process_time()
            hits = await mem.facts.search(f"q{j}", mode="vector", limit=LIMIT)
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            found.append([hit.record.id for hit in hits])
    return {"first_ms": seconds[0] * 1e3, **_percentiles(seconds[1:], cpu[1:]), "found": found}


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    """The share of the exact results that ``found`` holds too, over all queries."""
    shared = sum(len(set(mine) & set(exact)) for mine, exact in zip(found, truth, strict=True))
    return shared / max(1, sum(len(exact) for exact in truth))


async def measure(
    size: int, dim: int, args: argparse.Namespace, progress: bool, emit: Callable[[dict[str, Any]], None]
) -> None:
    """Measure one (dim, size); ``emit`` each line as soon as it is measured (a 1M index takes a while)."""
    data, asked = dataset(size, dim, args.queries, args.seed)
    base = {"type": "result", "size": size, "dim": dim, "queries": args.queries}
    emit({**base, "path": "raw", "method": "exact", **raw_exact(data, asked)})
    if size > args.api_max:
        return
    path = Path(args.dir) / f"scale-{dim}-{size}-{args.seed}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    built = await build_file(path, data, asked, progress)
    exact = await api_search(path, data, asked, size + 1, progress)
    truth = exact.pop("found")
    emit({**base, "path": "api", "method": "exact", "build_s": built, **exact})
    if size >= args.ann_min and ann.available():
        approx = await api_search(path, data, asked, 0, progress)
        approx["recall_at_10"] = recall(approx.pop("found"), truth)
        approx["p50_ratio_to_exact"] = approx["p50_ms"] / exact["p50_ms"]
        emit({**base, "path": "api", "method": "ann", **approx})


def _row(line: dict[str, Any]) -> str:
    def num(key: str, spec: str) -> str:
        value = line.get(key)
        return "-" if value is None else format(value, spec)

    return (
        f"{line['dim']:>4} {line['size']:>9,} {line['path']:>4} {line['method']:>6} {num('first_ms', '>10.0f')}"
        f" {num('p50_ms', '>8.2f')} {num('p99_ms', '>8.2f')} {num('cpu_p50_ms', '>8.2f')}"
        f" {num('recall_at_10', '>6.3f')} {num('p50_ratio_to_exact', '>6.3f')} {num('build_s', '>8.0f')}"
        f" {num('load', '>5.1f')}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the measurements; the table on stdout, JSON lines to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.vector_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="vector counts, comma-separated")
    parser.add_argument("--dims", default="256,384", help="dimensions, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="queries per measurement")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api-max", type=int, default=1_000_000, help="above this size, the raw step only")
    parser.add_argument("--ann-min", type=int, default=100_000, help="measure the index from this size on")
    parser.add_argument("--dir", default="/tmp/vector-scale", help="where the memory files are built and kept")
    parser.add_argument("--out", help="append JSON lines here")
    args = parser.parse_args(argv)
    progress = sys.stderr.isatty()
    env = machine("vector_scale")
    env["packages"]["usearch"] = _usearch_version()
    env["openblas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")  # 1 steadies gemv on a busy machine
    if args.out:
        with open(args.out, "a", encoding="utf-8") as out:
            out.write(json.dumps({"type": "run", **env, "args": vars(args)}) + "\n")
    print(
        f"{'dim':>4} {'vectors':>9} {'path':>4} {'method':>6} {'first_ms':>10} {'p50_ms':>8} {'p99_ms':>8}"
        f" {'cpu_p50':>8} {'recall':>6} {'ratio':>6} {'build_s':>8} {'load':>5}"
    )

    def emit(line: dict[str, Any]) -> None:
        print(_row(line), flush=True)
        if args.out:
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")

    for dim in (int(d) for d in args.dims.split(",")):
        for size in (int(s) for s in args.sizes.split(",")):
            asyncio.run(measure(size, dim, args, progress, emit))
    return 0


def _usearch_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("usearch")
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
