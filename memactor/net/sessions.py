"""Client sessions on the server: each write's outcome, kept until the client has seen it.

A client numbers its writes (``write_id``) within a session it names at the handshake, and tells the
server with each write the lowest id it is still waiting for (``done_below``). When its connection drops
and it sends a write again on a new connection, the server answers with the first attempt's outcome
(waiting for it if it is still running) instead of applying it twice. A server restart forgets every
session; the client then re-sends only writes that are idempotent anyway (see `memactor.net.client`).

The retry window: a session is kept while a connection uses it and for ``idle_after`` seconds (default
60) after its last use. Clients retry for ``retry_window`` seconds (default 5), so a write retried within
its client's retry window always finds its outcome, whatever other clients do. Sessions are bounded by
bytes (``max_bytes``: the outcomes they hold plus a fixed cost each); when the bound is reached, the least
recently used sessions idle for longer than ``idle_after`` are forgotten, and if that is not enough, a
NEW session is refused with `ServerBusyError`: an active session is never evicted to make room.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from ..codec import pack
from ..errors import ServerBusyError
from .payloads import encode_value

__all__ = ["DEFAULT_IDLE_AFTER", "SESSION_COST", "Session", "Sessions"]

DEFAULT_IDLE_AFTER = 60.0
# What one session costs before it holds any outcome (its objects and key), counted against ``max_bytes``.
SESSION_COST = 1024
# What one kept outcome costs beyond its encoded size (the task, the dict entry).
_ENTRY_COST = 256


class Session:
    """The recent writes of one client session.

    Args:
        max_entries: Outcomes kept at most (the oldest are forgotten beyond it).
        sessions: The registry that counts this session's bytes and tracks its use, if any.
        key: The session's key in that registry: (token name, session id).
    """

    def __init__(
        self, max_entries: int = 4096, *, sessions: Sessions | None = None, key: tuple[str, str] = ("", "")
    ) -> None:
        self._sessions = sessions
        self.key = key
        self.evicted = False
        self._entries: OrderedDict[int, asyncio.Task[Any]] = OrderedDict()
        self._sizes: dict[int, int] = {}
        self._max_entries = max_entries
        self.size = SESSION_COST
        self.users = 0
        self.last_used = 0.0

    def prune(self, done_below: int) -> None:
        """Forget the outcomes the client has seen: every write id below ``done_below``."""
        while self._entries:
            oldest = next(iter(self._entries))
            if oldest >= done_below:
                return
            self._forget(oldest)

    def _forget(self, write_id: int) -> None:
        del self._entries[write_id]
        self._resize(-self._sizes.pop(write_id, 0))

    def _resize(self, delta: int) -> None:
        self.size += delta
        if self._sessions is not None and not self.evicted:
            self._sessions.resized(delta)

    async def run(self, write_id: int, apply: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Apply write ``write_id`` once, or wait for the outcome of its first attempt.

        The write runs in a task of its own: once started, it finishes and its outcome is kept for a retry
        even if the connection that asked for it is gone.

        Raises:
            Exception: whatever ``apply`` raised (a fresh instance for each caller).
        """
        if self._sessions is not None:
            self._sessions.touch(self)
        task = self._entries.get(write_id)
        if task is None:
            task = self._entries[write_id] = asyncio.get_running_loop().create_task(apply())
            task.add_done_callback(lambda done: self._settled(write_id, done))
            while len(self._entries) > self._max_entries:
                self._forget(next(iter(self._entries)))
        try:
            return await asyncio.shield(task)
        except Exception as exc:  # noqa: BLE001 - re-raised as a fresh instance
            # One instance per raise: a shared instance raised in two tasks would tangle their tracebacks.
            raise type(exc)(*exc.args) from None

    def _settled(self, write_id: int, task: asyncio.Task[Any]) -> None:
        size = _outcome_size(task)  # also marks an exception as seen: a retry may never come
        if self._entries.get(write_id) is task:
            self._sizes[write_id] = size
            self._resize(size)


def _outcome_size(task: asyncio.Task[Any]) -> int:
    if task.cancelled():
        return _ENTRY_COST
    exc = task.exception()
    if exc is not None:
        return _ENTRY_COST + len(str(exc))
    try:
        return _ENTRY_COST + len(pack(task.result(), encode_value))
    except Exception:  # noqa: BLE001 - an outcome that does not encode is answered as an error anyway
        return _ENTRY_COST


class Sessions:
    """Every session, least recently used first, bounded by bytes without ever evicting an active one.

    Args:
        max_bytes: Bytes of sessions and kept outcomes beyond which idle sessions are forgotten and new
            sessions refused.
        idle_after: Seconds after its last use that a session without a connection may be forgotten: the
            longest retry window a client can rely on.
        max_entries: Outcomes kept per session (a client has at most its in-flight writes unseen).
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        idle_after: float = DEFAULT_IDLE_AFTER,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()
        self._max_bytes = max_bytes
        self._idle_after = idle_after
        self._max_entries = max_entries
        self._clock = clock
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def attach(self, owner: str, session_id: str) -> Session:
        """The session ``session_id`` of token ``owner`` (created if new), in use until `detach`.

        Raises:
            ServerBusyError: a new session finds the bytes bound reached by sessions still active.
        """
        key = (owner, session_id)
        session = self._sessions.get(key)
        if session is None:
            self._make_room(SESSION_COST)
            session = self._sessions[key] = Session(self._max_entries, sessions=self, key=key)
            self.bytes += session.size
        session.users += 1
        self.touch(session)
        return session

    def detach(self, session: Session) -> None:
        """A connection stopped using ``session``; its idle time starts now."""
        session.users -= 1
        self.touch(session)

    def touch(self, session: Session) -> None:
        """Mark ``session`` as just used (most recently used)."""
        session.last_used = self._clock()
        if not session.evicted:
            self._sessions.move_to_end(session.key)

    def resized(self, delta: int) -> None:
        """A session's kept outcomes grew or shrank by ``delta`` bytes."""
        self.bytes += delta
        if delta > 0 and self.bytes > self._max_bytes:
            self._evict_idle(0)

    def _make_room(self, needed: int) -> None:
        if self.bytes + needed <= self._max_bytes:
            return
        self._evict_idle(needed)
        if self.bytes + needed > self._max_bytes:
            raise ServerBusyError(
                f"the server holds {len(self._sessions)} client sessions, all active within the last "
                f"{self._idle_after:g} s, and has no room for another: try again later"
            )

    def _evict_idle(self, needed: int) -> None:
        horizon = self._clock() - self._idle_after
        idle: list[Session] = []
        room = self._max_bytes - needed - self.bytes
        for session in self._sessions.values():
            if room >= 0 or session.last_used > horizon:
                break  # least recently used first: every later session is more recent still
            if session.users == 0:
                idle.append(session)
                room += session.size
        for session in idle:
            # Its writes still running finish; their outcomes are no longer kept or counted.
            session.evicted = True
            del self._sessions[session.key]
            self.bytes -= session.size
