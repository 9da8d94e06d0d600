"""`python -m bench` / `memactor bench`: parse options, prepare inputs, run, and report."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path

from .data import Generator
from .fixtures import Fixtures
from .harness import run
from .plot import plot
from .report import environment, print_table, write_jsonl
from .scenarios import Context, Sizes, build
from .systems import NAMES, select
from .targets import check

__all__ = ["FULL", "QUICK", "main"]

# Sized so --quick ends within 60 s and the full run within 10 minutes on 2 cores.
QUICK = Sizes(
    rounds=1, budget=0.4, writes=2_000, reads=2_000, loops=600, bulk=5_000, rows=10_000,
    searches=400, small_rows=1_000, repeats=10,
)  # fmt: skip
FULL = Sizes(
    rounds=3, budget=1.2, writes=10_000, reads=10_000, loops=2_000, bulk=10_000, rows=100_000,
    searches=2_000, small_rows=1_000, repeats=30,
)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memactor bench",
        description="Measure memactor against raw SQLite, the asyncio.Lock predecessor and LangGraph's store, "
        "interleaved in one run, and report ratios.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (under a minute)")
    parser.add_argument("--out", type=Path, default=Path("bench-results.jsonl"), help="JSON lines file (appended)")
    parser.add_argument("--plot", type=Path, default=Path("bench.png"), help="PNG plot (needs matplotlib)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    parser.add_argument("--systems", help=f"comma-separated systems or families ({', '.join(NAMES)})")
    parser.add_argument("--scenarios", help="comma-separated groups or keys: S1..S6, P (predecessor's table), S1-64")
    parser.add_argument("--rounds", type=int, help="override the number of interleaved rounds")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one size, e.g. rows=20000 or agents=1,64 (see bench.scenarios.Sizes)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("MEMACTOR_PG_URL"),
        help="PostgreSQL primary for the pg systems (default: $MEMACTOR_PG_URL); each measurement gets a fresh schema",
    )
    parser.add_argument(
        "--pg-replica-url",
        default=os.environ.get("MEMACTOR_PG_REPLICA_URL"),
        help="a streaming replica of it, for memactor-pg-replica (default: $MEMACTOR_PG_REPLICA_URL)",
    )
    parser.add_argument("--dir", type=Path, help="where database files go (default: a temporary directory)")
    return parser


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _sizes(base: Sizes, overrides: list[str], rounds: int | None) -> Sizes:
    changes: dict[str, object] = {} if rounds is None else {"rounds": rounds}
    names = {f.name: type(getattr(base, f.name)) for f in fields(Sizes)}
    for item in overrides:
        name, _, text = item.partition("=")
        if name not in names or not text:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(names)}")
        kind = names[name]
        changes[name] = tuple(int(v) for v in text.split(",")) if kind is tuple else kind(text)
    return replace(base, **changes)  # type: ignore[arg-type]  # each value was converted to its field's type


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks.

    Args:
        argv: Command-line arguments without the program name (``sys.argv[1:]`` when None).

    Returns:
        The exit status: 0 on success, 2 on bad arguments (argparse exits with 2 itself on unknown options).
        ``recall`` as the first argument runs `bench.recall` instead, with the arguments after it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["recall"]:
        from .recall import main as recall_main

        return recall_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        sizes = _sizes(QUICK if args.quick else FULL, args.set, args.rounds)
        systems, skipped = select(_split(args.systems), args.pg_url, args.pg_replica_url)
    except ValueError as exc:
        print(f"memactor bench: {exc}", file=sys.stderr)
        return 2
    for message in skipped:
        print(message, file=sys.stderr)
    scenarios = build(sizes, _split(args.scenarios))
    generator = Generator()
    fresh = generator.episodes(0, max(sizes.writes, sizes.bulk, sizes.loops * 3), prefix="f")
    with tempfile.TemporaryDirectory(prefix="memactor-bench-", dir=args.dir) as workdir:
        fixtures = Fixtures(Path(workdir), generator)
        ctx = Context(sizes, fresh, fixtures.episodes(sizes.small_rows), [generator.query(i) for i in range(997)])
        results = run(systems, scenarios, ctx, fixtures)
    env = environment("quick" if args.quick else "full", sizes)
    checks = check(results)
    print_table(sys.stdout, env, results, checks)
    with args.out.open("a", encoding="utf-8") as out:
        write_jsonl(out, env, results, checks)
    print(f"\nresults appended to {args.out}", file=sys.stderr)
    if not args.no_plot:
        why_not = plot(results, args.plot, env)
        print(why_not or f"plot written to {args.plot}", file=sys.stderr)
    return 0
