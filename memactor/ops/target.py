"""Which memory a command works on: a file (opened through `memactor.open`) or a server (`memactor.connect`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ..actor.memory import Memory
from ..errors import InvalidInputError
from ..net.client import RemoteMemory

__all__ = ["Handle", "existing_file", "opened"]

Handle = Memory | RemoteMemory


def existing_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a `Path` if it names an existing regular file.

    Raises:
        InvalidInputError: nothing is there, or it is not a file.
    """
    file = Path(path)
    if not file.exists():
        raise InvalidInputError(f"no memory file at {file}: check the path")
    if not file.is_file():
        raise InvalidInputError(f"{file} is not a file: give the path of a memory file")
    return file


@asynccontextmanager
async def opened(path: str | None, url: str | None, *, readonly: bool) -> AsyncIterator[Handle]:
    """Open the memory at ``path``, or connect to the server at ``url`` (exactly one of them).

    A file is opened read-only for commands that only read, so they run beside the file's writer; a
    writing command opens it for writing (creating it if missing), which a served file refuses (then use
    ``--url``).

    Raises:
        InvalidInputError: neither or both given, or no file at ``path``.
        AlreadyOpenError, ConnectionLostError, AccessDeniedError: from opening.
    """
    if (path is None) == (url is None):
        raise InvalidInputError("give either a memory file PATH or --url URL of a running `memactor serve`")
    if url is not None:
        async with RemoteMemory(url) as remote:
            yield remote
        return
    assert path is not None
    # A writing command may create the file (importing into a new memory); a reading one needs it there.
    async with Memory(existing_file(path) if readonly else path, readonly=readonly) as memory:
        yield memory
