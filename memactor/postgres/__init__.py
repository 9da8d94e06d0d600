"""The PostgreSQL engine: the schema and its migrations, the SQL of each command and query, connections.

Plain synchronous functions on a psycopg connection, testable without an event loop; nothing here is async.
May import `memactor.engine`, `memactor.errors`, `memactor.model`, `memactor.codec` (the writer decodes
commands here) and psycopg (the ``postgres`` extra). Vectors are float32 ``bytea`` searched exactly in
numpy on the reader's side (no pgvector needed; `memactor.postgres.vschema`).
"""

from .engine import PostgresEngine

__all__ = ["PostgresEngine"]
