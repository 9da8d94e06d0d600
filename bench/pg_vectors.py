"""Vectors on PostgreSQL, ranked by the server (pgvector) or by each reader: `python -m bench.pg_vectors`.

The same work on two databases of one server, in interleaved rounds: one where memactor created pgvector
(``--url``, the server ranks) and one where it never can (``--plain-url``, each read connection keeps the
vectors as a matrix). Each round makes a fresh schema, adds ``--size`` facts with ``--dim``-value unit vectors
(``add_many`` in batches of 1,000), then runs ``--queries`` vector searches (limit 10). It reports writes per
second, the first search of the fresh handle (the reader's matrix loads then) and the search p50, with the
pgvector path as a ratio to the reader path measured in the same run; results are appended as JSON lines.
``.ci/postgres start`` makes both databases (``MEMACTOR_PG_URL``, ``MEMACTOR_PG_PLAIN_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import memactor
from memactor import Fact
from memactor.embed import CallableEmbedder

from .pg import PgSchema
from .report import machine

__all__ = ["main"]

PATHS = ("pgvector", "reader")


def _embedder(vectors: np.ndarray[Any, np.dtype[np.float32]], dim: int) -> CallableEmbedder:
    # Fact "v<i>" gets row i: the benchmark controls every vector, with no model in the way.
    def embed(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return vectors[[int(text[1:]) for text in texts]]

    return CallableEmbedder(embed, f"bench-{dim}", dim)


async def _measure(url: str, size: int, dim: int, queries: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((size, dim)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    schema = PgSchema(url)
    schema.create()
    try:
        async with memactor.open(schema.url, embedder=_embedder(vectors, dim), durability="normal") as mem:
            started = time.perf_counter()
            for start in range(0, size, 1000):
                await mem.facts.add_many(Fact(f"v{i}") for i in range(start, min(size, start + 1000)))
            written = time.perf_counter() - started
            ranked_by_server = (await mem.storage_statistics()).get("pgvector", 0)
            started = time.perf_counter()
            await mem.facts.search("v1", mode="vector", limit=10)
            first = time.perf_counter() - started
            latencies = []
            for query in range(queries):
                started = time.perf_counter()
                await mem.facts.search(f"v{(query * 37) % size}", mode="vector", limit=10)
                latencies.append(time.perf_counter() - started)
    finally:
        schema.drop()
    return {
        "ranked_by_server": float(ranked_by_server),
        "writes_per_s": size / written,
        "first_search_ms": first * 1000,
        "search_p50_ms": statistics.median(latencies) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurement; print a table and append JSON lines to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.pg_vectors", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("MEMACTOR_PG_URL"), help="a database with pgvector")
    parser.add_argument("--plain-url", default=os.environ.get("MEMACTOR_PG_PLAIN_URL"), help="one without")
    parser.add_argument("--size", type=int, default=20_000, help="facts, each with a vector")
    parser.add_argument("--dim", type=int, default=384, help="values per vector")
    parser.add_argument("--queries", type=int, default=50, help="vector searches per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per path")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-pg-vectors.jsonl"))
    args = parser.parse_args(argv)
    if not args.url or not args.plain_url:
        parser.error("give --url and --plain-url (or start a server with .ci/postgres and source its ENV file)")
    urls = {"pgvector": args.url, "reader": args.plain_url}
    results: dict[str, list[dict[str, float]]] = {path: [] for path in PATHS}
    for round_ in range(args.rounds):
        for path in PATHS:
            print(f"round {round_ + 1}: {path}", file=sys.stderr)
            results[path].append(asyncio.run(_measure(urls[path], args.size, args.dim, args.queries, args.seed)))
    if not all(r["ranked_by_server"] == 1.0 for r in results["pgvector"]):
        parser.error(f"{args.url} does not rank with pgvector: create the extension there (see docs/postgres.md)")
    medians = {
        path: {key: statistics.median(r[key] for r in results[path]) for key in results[path][0]} for path in PATHS
    }
    print(f"\n{args.size:,} vectors of {args.dim}, {args.queries} searches, rounds={args.rounds} (medians)")
    print(f"  {'path':10s} {'writes/s':>10s} {'first search ms':>16s} {'search p50 ms':>14s}")
    for path in PATHS:
        m = medians[path]
        print(f"  {path:10s} {m['writes_per_s']:>10,.0f} {m['first_search_ms']:>16.1f} {m['search_p50_ms']:>14.2f}")
    ratio = {
        key: medians["pgvector"][key] / medians["reader"][key] for key in medians["reader"] if key != "ranked_by_server"
    }
    print(
        f"  pgvector vs reader: writes {ratio['writes_per_s']:.2f}x, first search {ratio['first_search_ms']:.2f}x,"
        f" search p50 {ratio['search_p50_ms']:.2f}x"
    )
    with args.out.open("a") as out:
        run = {"type": "run", **machine("pg_vectors", ("memactor", "psycopg")), "args": vars(args)}
        out.write(json.dumps(run, default=str) + "\n")
        for path in PATHS:
            row = {"type": "result", "path": path, "size": args.size, "dim": args.dim, **medians[path]}
            out.write(json.dumps(row) + "\n")
    print(f"results appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
