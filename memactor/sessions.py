"""Client sessions on the server: each write's outcome, kept until the client has seen it.

A client numbers its writes (``write_id``) within a session it names at the handshake, and tells the
server with each write the lowest id it is still waiting for (``done_below``). When its connection drops
and it sends a write again on a new connection, the server answers with the first attempt's outcome
(waiting for it if it is still running) instead of applying it twice. A server restart forgets every
session; the client then re-sends only writes that are idempotent anyway (see `memactor.client`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Session", "Sessions"]


class Session:
    """The recent writes of one client session."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[int, asyncio.Task[Any]] = OrderedDict()
        self._max_entries = max_entries

    def prune(self, done_below: int) -> None:
        """Forget the outcomes the client has seen: every write id below ``done_below``."""
        while self._entries:
            oldest = next(iter(self._entries))
            if oldest >= done_below:
                return
            del self._entries[oldest]

    async def run(self, write_id: int, apply: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Apply write ``write_id`` once, or wait for the outcome of its first attempt.

        The write runs in a task of its own: once started, it finishes and its outcome is kept for a retry
        even if the connection that asked for it is gone.

        Raises:
            Exception: whatever ``apply`` raised (a fresh instance for each caller).
        """
        task = self._entries.get(write_id)
        if task is None:
            task = self._entries[write_id] = asyncio.get_running_loop().create_task(apply())
            task.add_done_callback(_retrieve)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        try:
            return await asyncio.shield(task)
        except Exception as exc:  # noqa: BLE001 - re-raised as a fresh instance
            # One instance per raise: a shared instance raised in two tasks would tangle their tracebacks.
            raise type(exc)(*exc.args) from None


def _retrieve(task: asyncio.Task[Any]) -> None:
    # The outcome is kept for a retry that may never come: mark its exception as seen.
    if not task.cancelled():
        task.exception()


class Sessions:
    """Every session, least recently used first; the oldest are forgotten beyond ``max_sessions``."""

    def __init__(self, *, max_sessions: int = 4096, max_entries: int = 4096) -> None:
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_entries = max_entries

    def get(self, owner: str, session_id: str) -> Session:
        """The session ``session_id`` of token ``owner``, created if new."""
        key = (owner, session_id)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = Session(self._max_entries)
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        return session
