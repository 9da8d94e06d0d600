"""A PNG of throughput against agent count (S1 writes, S2 reads), one line per system, when matplotlib exists."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .harness import Result

__all__ = ["plot"]

_COLOURS = {"raw": "#7f7f7f", "locked": "#ff7f0e", "langgraph": "#1f77b4", "memactor": "#d62728"}
_MARKERS = {"commit": "s", "commit-full": "v", "wal": "^", "normal": "D"}


def plot(results: Sequence[Result], path: Path, env: dict[str, Any]) -> str | None:
    """Draw the scaling plot to ``path``.

    Returns:
        None when written, else why not (matplotlib missing, or no S1/S2 results).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display here, and none needed
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (pip install 'memactor[bench]')"
    groups = [g for g in ("S1", "S2") if any(r.scenario.group == g and r.samples for r in results)]
    if not groups:
        return "no S1 or S2 results to plot"
    fig, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups), 4.8), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        _panel(ax, [r for r in results if r.scenario.group == group and r.samples], group)
    fig.suptitle(f"memactor bench {env['date'][:10]}: {env['cpu']} x{env['cpus']}, SQLite {env['sqlite']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _panel(ax: Any, results: Sequence[Result], group: str) -> None:
    for system in dict.fromkeys(r.system for r in results):
        family, _, variant = system.partition("-")
        points = sorted(
            (r.scenario.agents, value) for r in results if r.system == system and (value := r.median("throughput"))
        )
        if not points:
            continue
        # One colour per design; its variants differ by line style, so like-for-like pairs read at a glance.
        style = "--" if variant else "-"
        width = 2.5 if family == "memactor" else 1.2
        ax.plot(
            *zip(*points, strict=True),
            linestyle=style,
            marker=_MARKERS.get(variant, "o"),
            linewidth=width,
            color=_COLOURS.get(family, "black"),
            label=system,
        )
    agents = sorted({r.scenario.agents for r in results})
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(agents, [str(a) for a in agents])
    ax.set_xlabel("concurrent agents")
    ax.set_ylabel("operations / s")
    ax.set_title("S1: awaited writes" if group == "S1" else "S2: recent-10 reads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
