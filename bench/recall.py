"""`memactor bench recall`: recall@5, recall@10, MRR and query latency of each search mode and embedder.

Modes: ``text-unstemmed`` (memactor's text search on a copy of the file whose text indexes were rebuilt with
SQLite's tokenizer without stemming: the "before"), ``text`` (stemmed, as shipped), ``vector`` and ``hybrid``
(``search(mode=...)`` through ``memactor.open(path, embedder=...)``). Text modes do not depend on the embedder
and are measured once per size. Each mode is warmed with one query first (so the vector cache is loaded),
then every query is timed around the ``search`` call, the query's embedding included.

Sizes: the labelled set itself (``set``), and the set padded with generated distractors to 10k and 100k
records for latency (recall there is reported too: the padding adds only irrelevant records).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import memactor
from memactor.embed import Embedder

from .recall_data import DATA_DIR
from .recall_embedders import available
from .recall_files import LabelledSet, build, load_set, padded, unstemmed_copy
from .recall_metrics import percentile, summarise
from .report import machine

__all__ = ["MODES", "main"]

MODES = ("text-unstemmed", "text", "vector", "hybrid")
FULL_SIZES: tuple[int | None, ...] = (None, 10_000, 100_000)  # None: the labelled set as it is
QUICK_SIZES: tuple[int | None, ...] = (None, 10_000)
LIMIT = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memactor bench recall",
        description="Recall@5, recall@10, MRR and query latency of text (before and after stemming), vector and "
        "hybrid search on the labelled recall set, per embedder.",
    )
    parser.add_argument("--quick", action="store_true", help="the set and 10k records only (no 100k)")
    parser.add_argument("--slice", type=int, metavar="N", help="the first N queries, their answers and 10 x N others")
    parser.add_argument("--sizes", help="comma-separated record counts to measure at, 'set' for the set as it is")
    parser.add_argument("--embedder", action="append", default=[], metavar="SPEC", help="also measure this embedder")
    parser.add_argument("--no-auto", action="store_true", help="skip offline models found installed (wordllama)")
    parser.add_argument("--out", type=Path, default=Path("bench-results.jsonl"), help="JSON lines file (appended)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder of records.jsonl and queries.jsonl")
    parser.add_argument("--dir", type=Path, help="where memory files go (default: a temporary directory)")
    return parser


def _sizes(args: argparse.Namespace) -> tuple[int | None, ...]:
    if args.sizes:
        return tuple(None if s.strip() == "set" else int(s) for s in args.sizes.split(",") if s.strip())
    if args.slice is not None:
        return (None,)
    return QUICK_SIZES if args.quick else FULL_SIZES


class _Progress:
    """tqdm on a terminal, else one line per step, on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tty = sys.stderr.isatty()

    def step(self, text: str, total: int | None = None) -> Any:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._tty:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=text, file=sys.stderr, leave=False)
                return self._bar
        print(f"recall: {text}", file=sys.stderr, flush=True)
        return None

    def close(self) -> None:
        self.step("done")


async def _measure(
    path: Path, embedder: Embedder | None, modes: Sequence[str], labelled: LabelledSet, bar: Any
) -> dict[str, dict[str, Any]]:
    queries = labelled.queries
    out: dict[str, dict[str, Any]] = {}
    async with memactor.open(path, embedder=embedder, durability="normal") as mem:
        stores: dict[str, Any] = {"fact": mem.facts, "episode": mem.episodes, "skill": mem.skills}
        for mode in modes:
            search_mode = "text" if mode == "text-unstemmed" else mode
            for kind in stores:  # warm up: the first vector search loads the kind's matrix
                await stores[kind].search("warm up", mode=search_mode, limit=LIMIT)
            results, times, overlaps = [], [], []
            for query in queries:
                start = time.perf_counter()
                hits = await stores[query["kind"]].search(query["text"], mode=search_mode, limit=LIMIT)
                times.append((time.perf_counter() - start) * 1000)
                results.append(([hit.record.id for hit in hits], query["relevant"]))
                overlaps.append(min(query["overlap"], 2))
                if bar is not None:
                    bar.update(1)
            figures: dict[str, Any] = summarise(results)
            figures["recall_at_10_by_overlap"] = {
                str(bucket) + ("+" if bucket == 2 else ""): summarise(
                    [r for r, o in zip(results, overlaps, strict=True) if o == bucket]
                )["recall_at_10"]
                for bucket in (0, 1, 2)
            }
            figures["p50_ms"], figures["p99_ms"] = percentile(times, 50), percentile(times, 99)
            out[mode] = figures
    return out


async def _run_size(
    size: int | None,
    labelled: LabelledSet,
    embedders: Sequence[tuple[str, Callable[[], Embedder]]],
    workdir: Path,
    progress: _Progress,
) -> list[dict[str, Any]]:
    total = len(labelled.records) if size is None else max(size, len(labelled.records))
    rows: list[dict[str, Any]] = []
    for number, (label, factory) in enumerate(embedders):
        embedder = factory()
        path = workdir / f"recall-{total}-{number}.db"
        bar = progress.step(f"{total:,} records, embedder {label}: loading", total)
        await build(path, padded(labelled.records, total), embedder, bar)
        modes = ["vector", "hybrid"]
        if number == 0:
            copy = workdir / f"recall-{total}-unstemmed.db"
            progress.step(f"{total:,} records: text index without stemming")
            unstemmed_copy(path, copy)
            bar = progress.step(f"{total:,} records: text-unstemmed", len(labelled.queries))
            found = await _measure(copy, None, ["text-unstemmed"], labelled, bar)
            rows.append({"embedder": "-", "mode": "text-unstemmed", **found["text-unstemmed"]})
            modes.insert(0, "text")
        bar = progress.step(
            f"{total:,} records, embedder {label}: {', '.join(modes)}", len(modes) * len(labelled.queries)
        )
        found = await _measure(path, embedder, modes, labelled, bar)
        for mode in modes:
            rows.append({"embedder": "-" if mode == "text" else label, "mode": mode, **found[mode]})
            if mode != "text":
                rows[-1]["embedder_name"] = embedder.name
    for row in rows:
        row.update(records=total, queries=len(labelled.queries))
    return rows


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(out: TextIO, env: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    """One line per (records, embedder, mode), then the hybrid check per (records, embedder)."""
    out.write(f"memactor bench recall ({env['mode']}) {env['date']}  {env['cpu']} x{env['cpus']}  ")
    out.write(f"Python {env['python']}  SQLite {env['sqlite']}\n\n")
    head = f"{'records':>8} {'embedder':<10} {'mode':<15} {'R@5':>6} {'R@10':>6} {'MRR':>6}"
    out.write(f"{head} {'R@10 by shared words 0/1/2+':>28} {'p50 ms':>8} {'p99 ms':>8}\n")
    for row in rows:
        by = "/".join(_num(v, 2) for v in row["recall_at_10_by_overlap"].values())
        line = f"{row['records']:>8} {row['embedder']:<10} {row['mode']:<15} {row['recall_at_5']:6.3f}"
        line += f" {row['recall_at_10']:6.3f} {row['mrr']:6.3f} {by:>28}"
        out.write(f"{line} {_num(row['p50_ms'], 2):>8} {_num(row['p99_ms'], 2):>8}\n")
    out.write("\nhybrid against the better of stemmed text and vector alone (recall@10, MRR)\n")
    for check in hybrid_checks(rows):
        verdict = "not worse" if check["met"] else "WORSE"
        out.write(
            f"  {check['records']:>8} {check['embedder']:<10} {verdict:<9} R@10 {check['hybrid_recall_at_10']:.3f}"
        )
        out.write(f" vs {check['best_recall_at_10']:.3f}, MRR {check['hybrid_mrr']:.3f} vs {check['best_mrr']:.3f}\n")


def hybrid_checks(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each (records, embedder): hybrid's recall@10 and MRR against the better of text and vector."""
    checks = []
    for row in rows:
        if row["mode"] != "hybrid":
            continue
        same = [r for r in rows if r["records"] == row["records"]]
        text = next(r for r in same if r["mode"] == "text")
        vector = next(r for r in same if r["mode"] == "vector" and r["embedder"] == row["embedder"])
        best_recall = max(text["recall_at_10"], vector["recall_at_10"])
        best_mrr = max(text["mrr"], vector["mrr"])
        checks.append({
            "records": row["records"], "embedder": row["embedder"],
            "hybrid_recall_at_10": row["recall_at_10"], "best_recall_at_10": best_recall,
            "hybrid_mrr": row["mrr"], "best_mrr": best_mrr,
            "met": row["recall_at_10"] >= best_recall,
        })  # fmt: skip
    return checks


def main(argv: list[str] | None = None) -> int:
    """Run the recall benchmark; returns the exit status (2 on bad arguments)."""
    args = _parser().parse_args(argv)
    try:
        sizes = _sizes(args)
        if args.slice is not None and args.slice < 1:
            raise ValueError("--slice needs a positive number of queries")
    except ValueError as exc:
        print(f"memactor bench recall: {exc}", file=sys.stderr)
        return 2
    labelled = load_set(args.data, args.slice)
    embedders = available(args.embedder)
    if args.no_auto:
        embedders = [e for e in embedders if e[0] == "hash" or e[0] in args.embedder]
    progress = _Progress()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="memactor-recall-", dir=args.dir) as workdir:
        for size in sizes:
            rows.extend(asyncio.run(_run_size(size, labelled, embedders, Path(workdir), progress)))
    progress.close()
    mode = "slice" if args.slice is not None else "quick" if args.quick else "full"
    env = machine(mode, ("memactor", "numpy", "wordllama"))
    print_table(sys.stdout, env, rows)
    short = {k: env[k] for k in ("date", "machine", "cpus", "python", "sqlite")}
    with args.out.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"type": "run", "bench": "recall", **env}) + "\n")
        for row in rows:
            out.write(json.dumps({"type": "recall", **row, **short}) + "\n")
        for check in hybrid_checks(rows):
            out.write(json.dumps({"type": "recall-check", **check, **short}) + "\n")
    print(f"\nresults appended to {args.out}", file=sys.stderr)
    return 0
