"""`memactor`: the system under test, through its public API only, as shipped and with ``durability="normal"``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack, aclosing
from pathlib import Path
from typing import Any, Literal

import memactor
from memactor import Episode

from ..data import EpisodeData
from .base import System

__all__ = ["MemactorSystem"]


def _episode(data: EpisodeData) -> Episode:
    return Episode(
        id=data.id,
        agent_id=data.agent_id,
        task=data.task,
        steps=data.steps,
        outcome=data.outcome,
        success=data.success,
        reward=data.reward,
        importance=data.importance,
        tags=data.tags,
        metadata=data.metadata,
    )


class MemactorSystem(System):
    """`memactor.open(path, durability=...)` with its default pool and batch sizes."""

    family = "memactor"

    def __init__(self, name: str, *, durability: Literal["full", "normal"], **options: Any) -> None:
        """Configure the variant.

        Args:
            name: Its label.
            durability: ``"full"`` (as shipped) or ``"normal"``.
            **options: Further keyword options for `memactor.open` (e.g. ``read_connections``).
        """
        super().__init__(name)
        self._durability = durability
        self._options = options
        self._stack = AsyncExitStack()
        self._mem: memactor.Memory | None = None
        self._baseline: memactor.Statistics | None = None

    @property
    def mem(self) -> memactor.Memory:
        """The open handle."""
        assert self._mem is not None, "open() first"
        return self._mem

    async def open(self, path: Path) -> None:
        await self._open_target(path)

    async def _open_target(self, target: Path | str, **options: Any) -> None:
        """Open ``target`` (a file or a ``postgresql://`` URL) with this variant's and ``options``' settings."""
        self._stack = AsyncExitStack()
        self._mem = await self._stack.enter_async_context(
            memactor.open(target, durability=self._durability, **self._options, **options)
        )
        self._baseline = self.mem.statistics()

    async def close(self) -> None:
        await self._stack.aclose()
        self._mem = None

    async def write(self, episode: EpisodeData) -> None:
        await self.mem.episodes.add(_episode(episode))

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        await self.mem.episodes.add_many([_episode(e) for e in episodes])

    async def recent(self, agent: str, n: int) -> int:
        return len(await self.mem.episodes.search(agent_id=agent, limit=n))

    async def search(self, text: str, limit: int) -> int:
        return len(await self.mem.episodes.search(text, limit=limit))

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        # Close the stream's generator on early exit too.
        async with aclosing(self.mem.episodes.stream(batch_size=page)) as pages:
            async for records in pages:
                yield len(records)

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        # memactor's batch idiom: one atomic command, as the predecessor's lock-held batch is one transaction.
        async with self.mem.batch() as batch:
            for e in episodes:
                batch.episodes.update(e.id, importance=1.0 - e.importance)

    def stats(self) -> dict[str, float]:
        """Return the mean and max group-commit batch size since `open`."""
        assert self._baseline is not None, "open() first"
        now = self.mem.statistics()
        batches = now.batches - self._baseline.batches
        commands = now.commands - self._baseline.commands
        if not batches:
            return {}  # a read-only scenario: no group commits to describe
        return {"mean_batch": commands / batches, "max_batch": float(now.max_batch_size)}
