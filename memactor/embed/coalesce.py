"""`Coalescer`: one embedding call for the texts of every caller that arrives while the previous call runs.

Agents add records at the same moment; embedding each on its own would cost one model call per record. A
caller's texts wait in a list; one drain task takes everything waiting, embeds it with one call in a worker
thread, hands each caller its rows, and goes on while callers are waiting. So 64 agents adding at once
cost one or two calls: the first burst's, and one for those that came during it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..errors import EmbedderError, MemactorError
from .protocol import Embedder, Matrix, check_matrix

__all__ = ["Coalescer"]

# Texts per embedding call at most: bigger bursts are split, so one call's memory stays bounded.
MAX_TEXTS_PER_CALL = 512


class Coalescer:
    """Batches concurrent `embed` calls of one event loop into few calls of ``embedder``.

    Attributes:
        embedder: The embedder it calls.
        calls: How many times it called ``embedder.embed`` (for tests and statistics).
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.calls = 0
        self._waiting: list[tuple[list[str], asyncio.Future[Matrix]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts``, sharing the call with whoever else is waiting.

        Returns:
            Unit-length float32 rows, one per text, in order.

        Raises:
            InvalidInputError: the embedder returned the wrong shape or non-finite values.
            EmbedderError: the embedder failed (its own exception is chained); each caller gets an error of its own.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Matrix] = loop.create_future()
        self._waiting.append((list(texts), future))
        if self._drain is None:
            self._drain = loop.create_task(self._run(), name="memactor-embed")
        try:
            return await future
        except MemactorError:
            raise
        except Exception as exc:
            raise EmbedderError(
                f"embedder {self.embedder.name!r} failed ({type(exc).__name__}: {exc}); the write or search that"
                " needed its vectors did not happen: fix the embedder (or open without one) and try again"
            ) from exc

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                if not batch:
                    continue
                texts = [text for group, _ in batch for text in group]
                try:
                    self.calls += 1
                    matrix = await asyncio.to_thread(self._call, texts)
                except Exception as exc:  # noqa: BLE001 - the embedder's failure is its callers' to hear
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for group, future in batch:
                    if not future.done():
                        future.set_result(matrix[start : start + len(group)])
                    start += len(group)
        finally:
            self._drain = None

    def _take(self) -> list[tuple[list[str], asyncio.Future[Matrix]]]:
        # Callers whose wait was cancelled are skipped; a caller's texts are never split across calls.
        taken: list[tuple[list[str], asyncio.Future[Matrix]]] = []
        count = 0
        while self._waiting and (not taken or count + len(self._waiting[0][0]) <= MAX_TEXTS_PER_CALL):
            group, future = self._waiting.pop(0)
            if not future.done():
                taken.append((group, future))
                count += len(group)
        return taken

    def _call(self, texts: list[str]) -> Matrix:
        return check_matrix(self.embedder, self.embedder.embed(texts), len(texts))
