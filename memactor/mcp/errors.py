"""memactor's errors as tool errors: the text a language model reads, saying what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from ..errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    MemactorError,
    NotFoundError,
    ReadOnlyError,
    StorageFullError,
)

__all__ = ["as_tool_errors"]


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """Turn a memactor error raised in the block into a `ToolError` (an ``isError`` result, not a crash).

    Raises:
        ToolError: for every `MemactorError`, with advice on what to do about it.
    """
    try:
        yield
    except NotFoundError as exc:
        raise ToolError(f"{exc}: check the id (recall, recent_episodes and find_skills show ids)") from None
    except ConflictError as exc:
        raise ToolError(f"{exc}: read the record again with get_memory, then retry with its current version") from None
    except InvalidInputError as exc:
        raise ToolError(f"{exc}: fix that argument and call again") from None
    except (ReadOnlyError, AccessDeniedError) as exc:
        raise ToolError(str(exc)) from None
    except StorageFullError:
        raise ToolError("the memory is full: forget memories that are no longer needed, then try again") from None
    except MemactorError as exc:
        raise ToolError(f"the memory is unavailable right now ({type(exc).__name__}: {exc}); try again later") from None
