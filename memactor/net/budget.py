"""`ByteBudget`: bytes held at once, shared fairly; the server's backpressure by size rather than count.

Counting requests bounds nothing when one request may be a megabyte and another ten bytes, so the server
holds a budget of bytes for what a connection has in flight and for what all connections have queued
toward the writer. A holder waits (first come, first served) while the budget is spent; it never fails.
One amount larger than the whole budget is let through alone, when nothing else is held, so a request
within the frame limit always runs eventually.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

__all__ = ["ByteBudget"]


class ByteBudget:
    """Up to ``capacity`` bytes held at once, granted in arrival order.

    Args:
        capacity: Bytes that may be held at once (at least 1).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a byte budget needs a capacity of at least 1, not {capacity}")
        self.capacity = capacity
        self.held = 0
        self._waiting: deque[tuple[int, anyio.Event]] = deque()

    def _fits(self, amount: int) -> bool:
        return self.held == 0 or self.held + amount <= self.capacity

    async def acquire(self, amount: int) -> None:
        """Hold ``amount`` bytes, waiting behind earlier holders while the budget is spent."""
        if not self._waiting and self._fits(amount):
            self.held += amount
            return
        entry = (amount, anyio.Event())
        self._waiting.append(entry)
        try:
            await entry[1].wait()
        except BaseException:
            if entry[1].is_set():
                self.release(amount)  # granted as it was cancelled: hand it on
            else:
                self._waiting.remove(entry)
                self._grant()  # it may have blocked smaller amounts behind it
            raise

    def release(self, amount: int) -> None:
        """Give back ``amount`` bytes held by `acquire`."""
        self.held -= amount
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            amount, event = self._waiting.popleft()
            self.held += amount
            event.set()

    @asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        """Hold ``amount`` bytes for the duration of the block."""
        await self.acquire(amount)
        try:
            yield
        finally:
            self.release(amount)
