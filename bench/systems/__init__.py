"""The systems a run can measure, by name, imported only when selected.

A name selects one variant (``locked-wal``); a family name (``locked``) selects all of its variants. Peers
whose package is missing are skipped with a message rather than failing the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from .base import System, UnsupportedError

__all__ = ["NAMES", "System", "UnsupportedError", "select"]


def _raw(name: str, commit_each: bool, synchronous: str) -> Callable[[], System]:
    def make() -> System:
        from .raw import RawSystem

        return RawSystem(name, commit_each=commit_each, synchronous=synchronous)

    return make


def _locked(name: str, tuned: bool) -> Callable[[], System]:
    def make() -> System:
        from .locked import LockedSystem

        return LockedSystem(name, tuned=tuned)

    return make


def _langgraph(name: str, tuned: bool) -> Callable[[], System]:
    def make() -> System:
        from .langgraph import LangGraphSystem

        return LangGraphSystem(name, tuned=tuned)

    return make


def _memactor(name: str, durability: Literal["full", "normal"]) -> Callable[[], System]:
    def make() -> System:
        from .memactor_system import MemactorSystem

        return MemactorSystem(name, durability=durability)

    return make


# Order is the interleaving order within a round, and the row order of the table.
_FACTORIES: dict[str, Callable[[], System]] = {
    "raw": _raw("raw", commit_each=False, synchronous="NORMAL"),
    "raw-commit": _raw("raw-commit", commit_each=True, synchronous="NORMAL"),
    "raw-commit-full": _raw("raw-commit-full", commit_each=True, synchronous="FULL"),
    "locked": _locked("locked", tuned=False),
    "locked-wal": _locked("locked-wal", tuned=True),
    "langgraph": _langgraph("langgraph", tuned=False),
    "langgraph-wal": _langgraph("langgraph-wal", tuned=True),
    "memactor": _memactor("memactor", durability="full"),
    "memactor-normal": _memactor("memactor-normal", durability="normal"),
}
NAMES = tuple(_FACTORIES)


def select(wanted: list[str] | None) -> tuple[list[System], list[str]]:
    """Build the systems named in ``wanted`` (all when None).

    Args:
        wanted: Variant or family names.

    Returns:
        The systems in table order, and one message per system skipped because its package is missing.

    Raises:
        ValueError: a name matches no system.
    """
    names = NAMES if wanted is None else _expand(wanted)
    systems: list[System] = []
    skipped: list[str] = []
    for name in names:
        try:
            systems.append(_FACTORIES[name]())
        except ImportError as exc:
            skipped.append(f"{name}: skipped, {exc.name or exc} is not installed (pip install 'memactor[bench]')")
    return systems, skipped


def _expand(wanted: list[str]) -> list[str]:
    unknown = [w for w in wanted if not any(n == w or n.split("-")[0] == w for n in NAMES)]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {', '.join(NAMES)}")
    return [n for n in NAMES if n in wanted or n.split("-")[0] in wanted]
