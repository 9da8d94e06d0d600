"""The SQLite engine: the schema and its migrations, the SQL of each command and query, rows, the file lock.

Plain synchronous functions on a `sqlite3.Connection`, testable without an event loop; nothing here is async.
`SqliteEngine` presents them to the actor as `memactor.engine.Engine`. May import `memactor.errors`,
`memactor.model`, `memactor.codec` (the writer decodes commands here) and `memactor.engine`.
"""

from .engine import SqliteEngine

__all__ = ["SqliteEngine"]
