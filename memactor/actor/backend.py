"""`Backend`: what the stores need from a handle, one protocol for in-process and server handles."""

from __future__ import annotations

from typing import Any, Protocol

from ..model.commands import Command
from ..model.queries import Query

__all__ = ["Backend"]


class Backend(Protocol):
    """Where a store sends its writes and its reads."""

    async def execute(self, command: Command) -> Any:
        """Apply one write command through the single writer and return its result once committed."""
        ...

    async def query(self, query: Query) -> Any:
        """Answer one read query on a read-only connection."""
        ...
