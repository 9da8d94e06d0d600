"""The PostgreSQL engine: the schema and its migrations, the SQL of each command and query, connections.

Plain synchronous functions on a psycopg connection, testable without an event loop; nothing here is async.
May import `memactor.engine`, `memactor.errors`, `memactor.model`, `memactor.codec` (the writer decodes
commands here) and psycopg (the ``postgres`` extra). Vectors are not supported yet: commands and queries
that need them fail with `memactor.errors.UnsupportedBackendError`.
"""

from .engine import PostgresEngine

__all__ = ["PostgresEngine"]
