"""The SQLite engine: the schema and its migrations, the SQL of each command and query, rows, the file lock.

Plain synchronous functions on a `sqlite3.Connection`, testable without an event loop; nothing here is async.
May import `memactor.errors`, `memactor.model` and `memactor.codec` (the writer decodes commands here).
"""
