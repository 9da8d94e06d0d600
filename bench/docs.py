"""Benchmark figures in the docs come from one published run, never typed by hand: render them, or check them.

``python -m bench.docs`` rewrites the marked parts of README.md and docs/*.md from the published run
(``docs/bench-run.jsonl``, one run's JSON lines as ``memactor bench`` writes them); ``--from FILE`` first makes
the latest run of FILE (``bench-results.jsonl``, say) the published one and draws its plot (``docs/bench.png``);
``--check`` changes nothing and exits 1 when a page disagrees with the published run (a test runs it, so
figures cannot drift). Recall figures (``<!-- recall:... -->`` markers, from ``docs/recall-run.jsonl``) are rendered
and checked with them; ``bench.recall_docs`` describes their markers and publishes a recall run.

Markers, in Markdown source (invisible when rendered):

- ``<!-- bench:run -->...<!-- /bench -->``: when and where the run was made;
- ``<!-- bench:summary -->`` the headline table, ``<!-- bench:tables -->`` every scenario's full table,
  ``<!-- bench:table S1 -->`` one scenario or group's, ``<!-- bench:targets -->`` the design targets;
- ``<!-- bench:figure SPEC -->1.9x<!-- /bench -->``: one figure in prose. SPEC is ``SCENARIO.SYSTEM[.FIGURE]``
  (FIGURE: the headline ``value`` by default, ``p50``, ``p99`` or an extra such as ``mean_batch``), optionally
  ``/SYSTEM`` or ``/SCENARIO.SYSTEM`` for a speed ratio (> 1: faster), and ``|FORMAT`` (a Python format spec).
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

from .recall_docs import RecallDocsError, published_recall_run, render_recall

__all__ = ["PLOT", "PUBLISHED", "Run", "check", "latest_run", "main", "plot_run", "render_page"]

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "docs" / "bench-run.jsonl"
PLOT = ROOT / "docs" / "bench.png"
_MARKER = re.compile(r"<!-- bench:(\w+)(?: ([^>]*?))? -->(.*?)<!-- /bench -->", re.DOTALL)
_PEERS = ("raw", "locked-wal", "langgraph-wal")
_HEADLINE = "memactor-normal"


class BenchDocsError(ValueError):
    """A marker that cannot be rendered, or a results file without a run."""


@dataclass(frozen=True)
class Run:
    """One run: its ``run`` line, its ``result`` lines in order, its ``target`` lines."""

    env: dict[str, Any]
    results: list[dict[str, Any]]
    targets: list[dict[str, Any]]

    def result(self, scenario: str, system: str) -> dict[str, Any]:
        """The result line of ``system`` in ``scenario``."""
        for line in self.results:
            if line["scenario"] == scenario and line["system"] == system:
                return line
        raise BenchDocsError(f"the run has no result for {system} in {scenario}")

    def scenarios(self) -> list[str]:
        """Scenario keys in the order the run measured them."""
        return list(dict.fromkeys(line["scenario"] for line in self.results))


def latest_run(lines: Sequence[str]) -> Run:
    """The last run of a results file's lines."""
    records = [json.loads(line) for line in lines if line.strip()]
    starts = [i for i, record in enumerate(records) if record.get("type") == "run"]
    if not starts:
        raise BenchDocsError("no `run` line: not a file written by `memactor bench`")
    env, rest = records[starts[-1]], records[starts[-1] + 1 :]
    return Run(env, [r for r in rest if r["type"] == "result"], [r for r in rest if r["type"] == "target"])


def _speed_ratio(mine: dict[str, Any], other: dict[str, Any]) -> float | None:
    a, b = mine["value"], other["value"]
    if not a or not b:
        return None
    return float(b / a if mine["unit"] == "ms" else a / b)


def _num(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _figure(run: Run, spec: str) -> str:
    body, _, fmt = spec.partition("|")
    mine_spec, _, other_spec = body.partition("/")
    scenario, _, rest = mine_spec.partition(".")
    system, _, name = rest.partition(".")
    if not scenario or not system:
        raise BenchDocsError(f"figure {spec!r}: expected SCENARIO.SYSTEM[.FIGURE][/[SCENARIO.]SYSTEM][|FORMAT]")
    mine = run.result(scenario, system)
    if other_spec:
        if name:
            raise BenchDocsError(f"figure {spec!r}: a ratio compares headline values; drop .{name}")
        other_scenario, _, other_system = other_spec.rpartition(".")
        ratio = _speed_ratio(mine, run.result(other_scenario or scenario, other_system))
        if ratio is None:
            raise BenchDocsError(f"figure {spec!r}: a side was not measured")
        return format(ratio, fmt or ".2f") + "x"
    if name in ("", "value"):
        value, default = mine["value"], ".1f" if mine["unit"] == "ms" else ",.0f"
    elif name in ("p50", "p99"):
        value, default = mine[f"{name}_ms"], ".1f"
    else:
        value, default = mine["extra"].get(name), ".1f"
    if value is None:
        raise BenchDocsError(f"figure {spec!r}: not measured in this run")
    return format(value, fmt or default)


def _describe(run: Run) -> str:
    env = run.env
    rounds = env["sizes"]["rounds"]
    return (
        f"{env['date'][:10]}, `memactor bench{' --quick' if env['mode'] == 'quick' else ''}` ({env['mode']} run, "
        f"{rounds} round{'s' if rounds != 1 else ''}), {env['cpu']} x{env['cpus']}, Python {env['python']}, "
        f"SQLite {env['sqlite']}"
    )


def _summary(run: Run) -> str:
    rows = [
        f"| scenario | {_HEADLINE} | p50 ms | p99 ms | " + " | ".join(f"x {p}" for p in _PEERS) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(_PEERS),
    ]
    for key in run.scenarios():
        mine = run.result(key, _HEADLINE)
        unit = "ms" if mine["unit"] == "ms" else mine["unit"]
        value = f"{_num(mine['value'], '.1f' if unit == 'ms' else ',.0f')} {unit}"
        ratios = []
        for peer in _PEERS:
            other = next((r for r in run.results if r["scenario"] == key and r["system"] == peer), None)
            ratio = _speed_ratio(mine, other) if other and other["value"] else None
            ratios.append(_num(ratio, ".2f"))
        p50, p99 = _num(mine["p50_ms"], ".2f"), _num(mine["p99_ms"], ".2f")
        rows.append(f"| {key}: {mine['title']} | {value} | {p50} | {p99} | " + " | ".join(ratios) + " |")
    return "\n".join(rows)


def _table(run: Run, which: str | None) -> str:
    keys = [k for k in run.scenarios() if which is None or k == which or k.partition("-")[0] == which]
    if not keys:
        raise BenchDocsError(f"table {which!r}: no such scenario or group in the run")
    parts = []
    for key in keys:
        rows = [r for r in run.results if r["scenario"] == key]
        head = "ms p50" if rows[0]["unit"] == "ms" else rows[0]["unit"]
        lines = [
            f"**{key}: {rows[0]['title']}**",
            "",
            f"| system | {head} | p50 ms | p99 ms | x raw | notes |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in rows:
            main = _num(r["value"], ".1f" if r["unit"] == "ms" else ",.0f")
            line = f"| {r['system']} | {main} | {_num(r['p50_ms'], '.2f')} | {_num(r['p99_ms'], '.2f')} | "
            lines.append(f"{line}{_num(r['ratio_to_raw'], '.2f')} | {r['note'] or _notes(r)} |")
        for mine in (r for r in rows if r["system"].startswith("memactor") and r["value"]):
            peers = [p for p in rows if p["system"].split("-")[0] in ("locked", "langgraph") and p["value"]]
            vs = ", ".join(f"{p['system']} {_num(_speed_ratio(mine, p), '.2f')}x" for p in peers)
            if vs:
                lines.append(f"\n{mine['system']} vs peers: {vs}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _notes(result: dict[str, Any]) -> str:
    extra = result["extra"]
    notes = []
    if extra.get("mean_batch") is not None:
        notes.append(f"mean batch {extra['mean_batch']:.1f}")
    if extra.get("rss_growth_mb") is not None:
        notes.append(f"RSS +{extra['rss_growth_mb']:.1f} MB")
    return ", ".join(notes)


def _targets(run: Run) -> str:
    rows = ["| design target | measured | |", "|---|---:|---|"]
    for t in run.targets:
        verdict = {True: "met", False: "missed", None: "not measured"}[t["met"]]
        rows.append(f"| {t['label']} | {_num(t['measured'], '.2f')} | {verdict} |")
    return "\n".join(rows)


def _render(run: Run, kind: str, argument: str | None) -> str:
    if kind == "figure":
        if not argument:
            raise BenchDocsError("figure: a SPEC is needed")
        return _figure(run, argument)
    block = {
        "run": lambda: _describe(run),
        "summary": lambda: _summary(run),
        "tables": lambda: _table(run, None),
        "table": lambda: _table(run, argument),
        "targets": lambda: _targets(run),
    }.get(kind)
    if block is None:
        raise BenchDocsError(f"unknown marker bench:{kind}")
    return "\n" + block() + "\n"


def render_page(text: str, run: Run, name: str = "page") -> str:
    """The page with every marked part rendered from ``run``.

    Raises:
        BenchDocsError: a marker that cannot be rendered; the message names the page and line.
    """

    def replace(match: re.Match[str]) -> str:
        kind, argument = match.group(1), match.group(2)
        try:
            rendered = _render(run, kind, argument)
        except (BenchDocsError, KeyError) as exc:
            line = text.count("\n", 0, match.start()) + 1
            raise BenchDocsError(f"{name}:{line}: {exc}") from exc
        opening = match.group(0)[: match.start(3) - match.start(0)]
        return f"{opening}{rendered}<!-- /bench -->"

    return _MARKER.sub(replace, text)


def plot_run(run: Run, path: Path) -> str | None:
    """Draw the run's scaling plot (S1 and S2 throughput against agents) with the benchmark's own plotter.

    Returns:
        None when written, else why not (matplotlib missing, say).
    """
    from .harness import Result
    from .measure import Sample
    from .plot import plot
    from .scenarios import Scenario

    def unused_body(*_: object) -> Any:
        raise NotImplementedError("a scenario read back from a results file cannot run")

    results = []
    for line in run.results:
        scenario = Scenario(
            line["scenario"], line["group"], line["title"], line["agents"], 0, line["unit"], unused_body
        )
        samples = [Sample(ops=r["ops"], seconds=r["seconds"]) for r in line["rounds"]]
        results.append(Result(scenario, line["system"], samples, line["note"]))
    return plot(results, path, run.env)


def pages(root: Path = ROOT) -> list[Path]:
    """The pages that may hold markers."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def check(root: Path = ROOT, published: Path = PUBLISHED) -> list[str]:
    """Each page that disagrees with the published runs (and recall run), with the first marked line that differs."""
    run = latest_run(published.read_text(encoding="utf-8").splitlines())
    recall = published_recall_run(root / "docs" / "recall-run.jsonl")
    stale = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        want = render_recall(render_page(text, run, page.name), recall, page.name)
        if want != text:
            have_lines, want_lines = text.splitlines(), want.splitlines()
            line = next((i for i, (a, b) in enumerate(zip(have_lines, want_lines, strict=False)) if a != b), 0)
            stale.append(f"{page.relative_to(root)}:{line + 1}: {have_lines[line]!r} should be {want_lines[line]!r}")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Render or check the docs; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="publish the latest run of this results file first")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a page disagrees")
    args = parser.parse_args(argv)
    try:
        if args.source is not None:
            lines = args.source.read_text(encoding="utf-8").splitlines()
            latest_run(lines)  # refuse a file without a run before replacing the published one
            start = max(i for i, line in enumerate(lines) if line.strip() and json.loads(line)["type"] == "run")
            PUBLISHED.write_text("\n".join(lines[start:]) + "\n", encoding="utf-8")
            why_not = plot_run(latest_run(lines), PLOT)
            print(why_not or f"plot written to {PLOT.relative_to(ROOT)}", file=sys.stderr)
        if args.check:
            stale = check()
            for line in stale:
                print(f"stale benchmark figure: {line}", file=sys.stderr)
            if stale:
                print("run `python -m bench.docs` to render them from the published runs", file=sys.stderr)
            return 1 if stale else 0
        run, recall = latest_run(PUBLISHED.read_text(encoding="utf-8").splitlines()), published_recall_run()
        for page in pages():
            text = page.read_text(encoding="utf-8")
            new = render_recall(render_page(text, run, page.name), recall, page.name)
            if new != text:
                page.write_text(new, encoding="utf-8")
                print(f"rendered {page.relative_to(ROOT)}", file=sys.stderr)
    except (BenchDocsError, RecallDocsError, OSError, json.JSONDecodeError) as exc:
        print(f"python -m bench.docs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
