"""Tune the hybrid's rank fusion on the labelled recall set: ``python -m bench.recall_tune``.

For each embedder, the text and vector candidate lists of every query are computed once (as
`memactor.sqlite.vsearch` computes them: FTS5 rank order, and cosine order, 50 each for a top 10), then
fused offline for a grid of ``RRF_K`` and ``TEXT_WEIGHT`` values. Prints recall@10 and MRR of each pair,
beside text and vector alone, so the constants in `memactor.sqlite.vsearch` can be checked against it;
`memactor bench recall` then measures the chosen pair through the real search.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import memactor
from memactor.sqlite.fts import fts_match
from memactor.sqlite.schema import TABLES

from .recall_embedders import available
from .recall_files import build, load_set
from .recall_metrics import summarise

__all__ = ["fuse", "main"]

KS = (1, 2, 5, 10, 20, 30, 60)
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CANDIDATES = 50


def fuse(text: list[str], vector: list[str], k: float, text_weight: float, limit: int = 10) -> list[str]:
    """Reciprocal rank fusion as `memactor.sqlite.vsearch` does it (ties: vector order, then text order)."""
    fused: dict[str, float] = {}
    for weight, ranked in ((text_weight, text), (1.0, vector)):
        for rank, rid in enumerate(ranked, start=1):
            fused[rid] = fused.get(rid, 0.0) + weight / (k + rank)
    return sorted(fused, key=lambda rid: -fused[rid])[:limit]


async def _lists(path: Path, embedder: Any, queries: list[dict[str, Any]]) -> list[tuple[list[str], list[str]]]:
    out = []
    conn = sqlite3.connect(path)
    async with memactor.open(path, embedder=embedder, durability="normal") as mem:
        stores: dict[str, Any] = {"fact": mem.facts, "episode": mem.episodes, "skill": mem.skills}
        for query in queries:
            table = TABLES[query["kind"]].name
            match = fts_match(query["text"])
            text = [rid for (rid,) in conn.execute(
                f"SELECT t.id FROM {table}_fts AS f JOIN {table} AS t ON t.rowid = f.rowid"
                f" WHERE {table}_fts MATCH ? ORDER BY f.rank LIMIT ?", (match, CANDIDATES))]  # fmt: skip
            hits = await stores[query["kind"]].search(query["text"], mode="vector", limit=CANDIDATES)
            out.append((text, [hit.record.id for hit in hits]))
    conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the grid for each embedder available."""
    parser = argparse.ArgumentParser(prog="python -m bench.recall_tune", description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", action="append", default=[], metavar="SPEC")
    args = parser.parse_args(argv)
    labelled = load_set()
    relevant = [q["relevant"] for q in labelled.queries]
    with tempfile.TemporaryDirectory(prefix="memactor-tune-") as workdir:
        for number, (label, factory) in enumerate(available(args.embedder)):
            embedder = factory()
            path = Path(workdir) / f"tune-{number}.db"
            asyncio.run(build(path, labelled.records, embedder))
            lists = asyncio.run(_lists(path, embedder, labelled.queries))
            text = summarise([(t[:10], rel) for (t, _), rel in zip(lists, relevant, strict=True)])
            vector = summarise([(v[:10], rel) for (_, v), rel in zip(lists, relevant, strict=True)])
            print(f"\n{label}: text (bm25 order) R@10 {text['recall_at_10']:.3f} MRR {text['mrr']:.3f};"
                  f" vector R@10 {vector['recall_at_10']:.3f} MRR {vector['mrr']:.3f}")  # fmt: skip
            print("hybrid R@10 / MRR   " + "".join(f"{f'w={w:g}':>14}" for w in WEIGHTS))
            for k in KS:
                cells = []
                for w in WEIGHTS:
                    fig = summarise([(fuse(t, v, k, w), rel) for (t, v), rel in zip(lists, relevant, strict=True)])
                    cells.append(f"{fig['recall_at_10']:.3f}/{fig['mrr']:.3f}")
                print(f"k={k:<17}" + "".join(f"{c:>14}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
