"""memactor: one shared, durable memory for many concurrent AI agents.

Episodic, semantic and procedural memory on one SQLite file, written by a single writer actor with group
commit and read through a pool of read-only connections. Start with `open` (async) or `open_sync`.
"""

from . import codec
from .actor.blocking import open_sync
from .actor.memory import Memory
from .actor.opening import open
from .errors import (
    AccessDeniedError,
    AlreadyOpenError,
    ClosedError,
    CodecError,
    CommandError,
    ConflictError,
    ConnectionLostError,
    EmbedderError,
    EmbedderMismatchError,
    InvalidInputError,
    MemactorError,
    NotAMemoryError,
    NotFoundError,
    ReadOnlyError,
    SchemaError,
    ServerBusyError,
    StorageError,
    StorageFullError,
    UnsupportedBackendError,
    WriterDiedError,
)
from .model.items import Item
from .model.ranking import SearchWeights
from .model.records import Episode, Fact, Hit, Skill, new_id
from .model.stats import Statistics
from .net.client import RemoteMemory, connect, connect_sync

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "AlreadyOpenError",
    "ClosedError",
    "CodecError",
    "CommandError",
    "ConflictError",
    "ConnectionLostError",
    "EmbedderError",
    "EmbedderMismatchError",
    "Episode",
    "Fact",
    "Hit",
    "InvalidInputError",
    "Item",
    "MemactorError",
    "Memory",
    "NotAMemoryError",
    "NotFoundError",
    "ReadOnlyError",
    "RemoteMemory",
    "SchemaError",
    "SearchWeights",
    "ServerBusyError",
    "Skill",
    "Statistics",
    "StorageError",
    "StorageFullError",
    "UnsupportedBackendError",
    "WriterDiedError",
    "codec",
    "connect",
    "connect_sync",
    "new_id",
    "open",
    "open_sync",
]
