"""Prepared database files: built once per layout and size, copied fresh for every measurement.

Copying a file is far cheaper than loading 100k episodes through each system, and it guarantees that every
system in every round starts from the same bytes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from .data import EpisodeData, Generator

__all__ = ["Fixtures"]

Builder = Callable[[Path, Sequence[EpisodeData]], None]


def _builder(layout: str) -> Builder:
    # Imported here so LangGraph is needed only when its layout is.
    if layout == "langgraph":
        from .systems.langgraph import build_langgraph_layout

        return build_langgraph_layout
    from .schema import build_memactor_layout

    return build_memactor_layout


class Fixtures:
    """Owns the work directory: the layouts (templates) and the one live copy under test."""

    def __init__(self, workdir: Path, generator: Generator) -> None:
        """Use ``workdir`` (which must exist) for every file; ``generator`` makes the preloaded episodes."""
        self._dir = workdir
        self._generator = generator
        self._episodes: list[EpisodeData] = []
        self._templates: dict[tuple[str, int], Path] = {}

    def episodes(self, count: int) -> list[EpisodeData]:
        """Return the first ``count`` preloaded episodes (the same in every layout)."""
        if len(self._episodes) < count:
            self._episodes += self._generator.episodes(len(self._episodes), count - len(self._episodes))
        return self._episodes[:count]

    def template(self, layout: str, rows: int) -> Path:
        """Return the template of ``layout`` holding the first ``rows`` episodes, building it once."""
        key = (layout, rows)
        if key not in self._templates:
            path = self._dir / f"template-{layout}-{rows}.db"
            _builder(layout)(path, self.episodes(rows))
            self._templates[key] = path
        return self._templates[key]

    def fresh(self, layout: str, rows: int) -> Path:
        """Return the path of a new copy of a template, replacing the previous copy."""
        self.discard()
        path = self._dir / "live.db"
        shutil.copyfile(self.template(layout, rows), path)
        return path

    def discard(self) -> None:
        """Delete the live copy and its WAL and shared-memory files."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            (self._dir / f"live.db{suffix}").unlink(missing_ok=True)
