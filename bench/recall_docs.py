"""Recall figures in the docs come from one published `memactor bench recall` run, never typed by hand.

``python -m bench.recall_docs --from FILE`` makes the latest run of FILE (JSON lines appended by ``memactor bench
recall --out FILE``) the published one (``docs/recall-run.jsonl``) and renders the pages; without ``--from`` it
renders them from the published run. ``python -m bench.docs --check`` (and the test that runs it) checks these
markers too, so a recall figure cannot drift from the run.

Markers, in Markdown source (invisible when rendered):

- ``<!-- recall:run -->...<!-- /recall -->``: when and where the run was made, and at which sizes;
- ``<!-- recall:table -->``: recall@5, recall@10, MRR and recall@10 by shared words of every embedder and mode on
  the labelled set itself (the run's smallest size);
- ``<!-- recall:latency -->``: recall@10, MRR and query latency at every size the run measured;
- ``<!-- recall:checks -->``: per size and embedder, hybrid against the better of stemmed text and vector alone;
- ``<!-- recall:figure RECORDS.EMBEDDER.MODE.FIELD[|FORMAT] -->0.439<!-- /recall -->``: one figure in prose;
  EMBEDDER is ``-`` for the text modes, FIELD one of ``recall_at_5``, ``recall_at_10``, ``mrr``, ``p50_ms``,
  ``p99_ms`` (FORMAT: a Python format spec, ``.3f`` by default).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PUBLISHED_RECALL", "RecallDocsError", "RecallRun", "latest_recall_run", "main", "render_recall"]

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_RECALL = ROOT / "docs" / "recall-run.jsonl"
_MARKER = re.compile(r"<!-- recall:(\w+)(?: ([^>]*?))? -->(.*?)<!-- /recall -->", re.DOTALL)
_MODES = {"text-unstemmed": "text, no stemming (before)", "text": "text, stemmed (as shipped)"}
_FIELDS = ("recall_at_5", "recall_at_10", "mrr", "p50_ms", "p99_ms")


class RecallDocsError(ValueError):
    """A recall marker that cannot be rendered, or a results file without a recall run."""


@dataclass(frozen=True)
class RecallRun:
    """One recall run: its ``run`` line, its ``recall`` lines and its ``recall-check`` lines, in order."""

    env: dict[str, Any]
    rows: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    def sizes(self) -> list[int]:
        """Record counts the run measured at, smallest (the labelled set) first."""
        return sorted({row["records"] for row in self.rows})

    def row(self, records: int, embedder: str, mode: str) -> dict[str, Any]:
        """The line of ``mode`` with ``embedder`` at ``records``."""
        for row in self.rows:
            if (row["records"], row["embedder"], row["mode"]) == (records, embedder, mode):
                return row
        raise RecallDocsError(f"the recall run has no {mode} line with embedder {embedder} at {records} records")


def latest_recall_run(lines: Sequence[str]) -> RecallRun:
    """The last recall run of a results file's lines."""
    records = [json.loads(line) for line in lines if line.strip()]
    starts = [i for i, r in enumerate(records) if r.get("type") == "run" and r.get("bench") == "recall"]
    if not starts:
        raise RecallDocsError("no recall `run` line: not a file written by `memactor bench recall`")
    rest = records[starts[-1] + 1 :]
    end = next((i for i, r in enumerate(rest) if r.get("type") == "run"), len(rest))
    lines = rest[:end]
    return RecallRun(
        records[starts[-1]],
        [r for r in lines if r["type"] == "recall"],
        [r for r in lines if r["type"] == "recall-check"],
    )


def _describe(run: RecallRun) -> str:
    env = run.env
    sizes = ", ".join(f"{n:,}" for n in run.sizes())
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items() if version)
    return (
        f"{env['date'][:16].replace('T', ' ')} UTC, {sizes} records, {env['cpu']} x{env['cpus']}, "
        f"Python {env['python']}, SQLite {env['sqlite']}, {packages}"
    )


def _mode(row: dict[str, Any]) -> str:
    return str(_MODES.get(row["mode"], row["mode"]))


def _overlap(row: dict[str, Any]) -> str:
    return " / ".join("-" if v is None else f"{v:.2f}" for v in row["recall_at_10_by_overlap"].values())


def _table(run: RecallRun) -> str:
    smallest = run.sizes()[0]
    lines = [
        "| embedder | mode | recall@5 | recall@10 | MRR | recall@10 by shared words 0 / 1 / 2+ |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in (r for r in run.rows if r["records"] == smallest):
        lines.append(
            f"| {row['embedder']} | {_mode(row)} | {row['recall_at_5']:.3f} | {row['recall_at_10']:.3f} | "
            f"{row['mrr']:.3f} | {_overlap(row)} |"
        )
    return "\n".join(lines)


def _latency(run: RecallRun) -> str:
    lines = ["| records | embedder | mode | recall@10 | MRR | p50 ms | p99 ms |", "|---:|---|---|---:|---:|---:|---:|"]
    for row in run.rows:
        lines.append(
            f"| {row['records']:,} | {row['embedder']} | {_mode(row)} | {row['recall_at_10']:.3f} | "
            f"{row['mrr']:.3f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def _checks(run: RecallRun) -> str:
    lines = [
        "| records | embedder | hybrid recall@10 | text or vector, the better | hybrid MRR | the better | hybrid |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for c in run.checks:
        verdict = "not worse" if c["met"] else "worse"
        lines.append(
            f"| {c['records']:,} | {c['embedder']} | {c['hybrid_recall_at_10']:.3f} | {c['best_recall_at_10']:.3f} | "
            f"{c['hybrid_mrr']:.3f} | {c['best_mrr']:.3f} | {verdict} |"
        )
    return "\n".join(lines)


def _figure(run: RecallRun, spec: str) -> str:
    body, _, fmt = spec.partition("|")
    parts = body.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or parts[3] not in _FIELDS:
        raise RecallDocsError(f"figure {spec!r}: expected RECORDS.EMBEDDER.MODE.FIELD, FIELD one of {_FIELDS}")
    value = run.row(int(parts[0]), parts[1], parts[2])[parts[3]]
    return format(value, fmt or ".3f")


def _render(run: RecallRun, kind: str, argument: str | None) -> str:
    if kind == "figure":
        return _figure(run, argument or "")
    block = {"run": _describe, "table": _table, "latency": _latency, "checks": _checks}.get(kind)
    if block is None:
        raise RecallDocsError(f"unknown marker recall:{kind}")
    rendered = block(run)
    return rendered if kind == "run" else "\n" + rendered + "\n"


def render_recall(text: str, run: RecallRun, name: str = "page") -> str:
    """The page with every recall marker rendered from ``run``.

    Raises:
        RecallDocsError: a marker that cannot be rendered; the message names the page and line.
    """

    def replace(match: re.Match[str]) -> str:
        try:
            rendered = _render(run, match.group(1), match.group(2))
        except (RecallDocsError, KeyError) as exc:
            line = text.count("\n", 0, match.start()) + 1
            raise RecallDocsError(f"{name}:{line}: {exc}") from exc
        opening = match.group(0)[: match.start(3) - match.start(0)]
        return f"{opening}{rendered}<!-- /recall -->"

    return _MARKER.sub(replace, text)


def published_recall_run(path: Path = PUBLISHED_RECALL) -> RecallRun:
    """The published recall run."""
    return latest_recall_run(path.read_text(encoding="utf-8").splitlines())


def main(argv: Sequence[str] | None = None) -> int:
    """Publish (with ``--from``) and render the recall figures; returns the exit status."""
    from .docs import pages

    parser = argparse.ArgumentParser(prog="python -m bench.recall_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="publish the latest recall run of this file first")
    args = parser.parse_args(argv)
    try:
        if args.source is not None:
            lines = args.source.read_text(encoding="utf-8").splitlines()
            latest_recall_run(lines)  # refuse a file without a recall run before replacing the published one
            records = [json.loads(line) if line.strip() else {} for line in lines]
            start = max(i for i, r in enumerate(records) if r.get("type") == "run" and r.get("bench") == "recall")
            end = next((i for i in range(start + 1, len(records)) if records[i].get("type") == "run"), len(records))
            PUBLISHED_RECALL.write_text("\n".join(lines[start:end]) + "\n", encoding="utf-8")
        run = published_recall_run()
        for page in pages():
            text = page.read_text(encoding="utf-8")
            new = render_recall(text, run, page.name)
            if new != text:
                page.write_text(new, encoding="utf-8")
                print(f"rendered {page.relative_to(ROOT)}", file=sys.stderr)
    except (RecallDocsError, OSError, json.JSONDecodeError) as exc:
        print(f"python -m bench.recall_docs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
