"""The one interface every measured system implements, so each scenario is written once.

A system is opened on a fresh copy of a prepared database file, driven by one scenario, and closed. Methods
return row counts rather than rows: the scenarios only need to know the work was done, and counting keeps
the harness from holding results that would distort memory figures.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import ClassVar

from ..data import EpisodeData

__all__ = ["Layout", "System", "UnsupportedError"]

# Which prepared database a system opens: memactor's schema, or LangGraph's single `store` table.
Layout = str


class UnsupportedError(Exception):
    """Raised when a system has no way to perform an operation (e.g. text search without a text index)."""


class System(abc.ABC):
    """A storage design under test.

    Attributes:
        name: Unique label in tables and JSON lines, e.g. ``"locked-wal"``.
        family: The design it belongs to (``raw``, ``locked``, ``langgraph``, ``memactor``).
        layout: The prepared database it opens (see `bench.fixtures`).
        bulk_writes: True when S1 writes are measured as one ``executemany`` (the raw ceiling) rather than
            one awaited write per operation.
        only: The scenarios it takes part in, or None for all.
    """

    family: ClassVar[str] = ""
    layout: ClassVar[Layout] = "memactor"
    bulk_writes: bool = False
    only: frozenset[str] | None = None

    def __init__(self, name: str) -> None:
        """Name this variant of the design."""
        self.name = name

    @abc.abstractmethod
    async def open(self, path: Path) -> None:
        """Open the database file at ``path`` (a fresh copy of this system's layout)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Commit anything pending and release every connection and thread."""

    @abc.abstractmethod
    async def write(self, episode: EpisodeData) -> None:
        """Store one episode for ``episode.agent_id``; returns once the system acknowledges it."""

    @abc.abstractmethod
    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        """Store many episodes with the system's own bulk idiom."""

    @abc.abstractmethod
    async def recent(self, agent: str, n: int) -> int:
        """Return how many of ``agent``'s ``n`` most recent episodes were read."""

    async def search(self, text: str, limit: int) -> int:
        """Return how many of the best ``limit`` full-text matches for ``text`` were read.

        Raises:
            UnsupportedError: the system indexes no text.
        """
        raise UnsupportedError(f"{self.name} has no full-text search")

    @abc.abstractmethod
    def stream(self, page: int) -> AsyncGenerator[int, None]:
        """Read every episode in pages of ``page`` rows, yielding each page's size."""

    @abc.abstractmethod
    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        """Change the importance of existing ``episodes`` with the system's own batch idiom."""

    async def flush(self) -> None:  # noqa: B027 - an optional hook, a no-op unless overridden
        """Make every write so far durable; only systems that defer commits need it."""

    def stats(self) -> dict[str, float]:
        """Return system-specific figures for the last measurement (e.g. memactor's mean batch size)."""
        return {}

    def supports(self, scenario: str) -> bool:
        """Whether this system takes part in ``scenario`` (e.g. ``"S1"``)."""
        return self.only is None or scenario in self.only
