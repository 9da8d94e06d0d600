"""The systems a run can measure, by name, imported only when selected.

A name selects one variant (``locked-wal``); a family name (``locked``) selects all of its variants. Peers
whose package is missing are skipped with a message rather than failing the run. The PostgreSQL systems
(family ``pg``: ``pg-raw``, ``pg-raw-commit``, ``memactor-pg``, ``memactor-pg-replica``, ``langgraph-pg``) need a
server URL; without one they are left out of a default run and skipped with a message when asked for.
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


def _pg(name: str) -> Callable[[str, str | None], System]:
    def make(url: str, replica_url: str | None) -> System:
        from .postgres import LangGraphPgSystem, MemactorPgSystem, PgRawSystem

        if name.startswith("pg-raw"):
            return PgRawSystem(name, url, commit_each=name == "pg-raw-commit")
        if name == "langgraph-pg":
            return LangGraphPgSystem(name, url)
        if name == "memactor-pg-replica":
            if not replica_url:
                raise LookupError("needs a replica: pass --pg-replica-url or set MEMACTOR_PG_REPLICA_URL")
            return MemactorPgSystem(name, url, replica_url=replica_url)
        return MemactorPgSystem(name, url)

    return make


_PG_FACTORIES = {n: _pg(n) for n in ("pg-raw", "pg-raw-commit", "memactor-pg", "memactor-pg-replica", "langgraph-pg")}

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
NAMES = (*_FACTORIES, *_PG_FACTORIES)


def _family(name: str) -> str:
    return "pg" if name in _PG_FACTORIES else name.split("-")[0]


def select(
    wanted: list[str] | None, pg_url: str | None = None, pg_replica_url: str | None = None
) -> tuple[list[System], list[str]]:
    """Build the systems named in ``wanted`` (all when None; the PostgreSQL ones only with ``pg_url``).

    Args:
        wanted: Variant or family names.
        pg_url: The PostgreSQL primary the ``pg`` family measures.
        pg_replica_url: A streaming replica of it, for ``memactor-pg-replica``.

    Returns:
        The systems in table order, and one message per system skipped (a missing package, URL or replica).

    Raises:
        ValueError: a name matches no system.
    """
    if wanted is None:
        names = [n for n in NAMES if pg_url or n not in _PG_FACTORIES]
    else:
        names = _expand(wanted)
    systems: list[System] = []
    skipped: list[str] = []
    for name in names:
        try:
            if name not in _PG_FACTORIES:
                systems.append(_FACTORIES[name]())
            elif not pg_url:
                skipped.append(f"{name}: skipped, needs a PostgreSQL server: pass --pg-url or set MEMACTOR_PG_URL")
            else:
                systems.append(_PG_FACTORIES[name](pg_url, pg_replica_url))
        except ImportError as exc:
            skipped.append(f"{name}: skipped, {exc.name or exc} is not installed (pip install 'memactor[bench]')")
        except LookupError as exc:
            skipped.append(f"{name}: skipped, {exc}")
    return systems, skipped


def _expand(wanted: list[str]) -> list[str]:
    unknown = [w for w in wanted if not any(n == w or _family(n) == w for n in NAMES)]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {', '.join(NAMES)}")
    return [n for n in NAMES if n in wanted or _family(n) in wanted]
