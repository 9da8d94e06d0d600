"""pgvector: whether a memory's vectors are ranked by the server, and how they reach its ``vector`` type.

Schema version 4 (`memactor.postgres.schema`) creates the ``vector`` extension when the server has it and
the role may (it is not a trusted extension: creating it takes a superuser, or a database where an
administrator created it already). Then ``vectors`` and ``vector_stage`` gain ``emb``, a ``vector`` column
that every statement writing ``vec`` writes too, from the same bytes, and searches rank in SQL
(`memactor.postgres.vsql`). Otherwise nothing changes: ``vec`` alone, ranked on the client
(`memactor.postgres.vsearch`). ``vec`` stays in both cases: the vector log, reindexing and the client
path read it. Which path a memory takes is the ``vector_search`` row of ``memactor_meta``
(``"pgvector"`` or ``"client"``), decided once by the migration and reported by ``storage_statistics()``.

The extension lives in one schema of the database (``public`` when memactor creates it), which need not be
on the connection's search path: its type and operator are always named with their schema. Vectors travel
in pgvector's binary form (int16 dimension, int16 zero, big-endian float4 values), made from the stored
little-endian float32 bytes by a dumper registered on each connection by the type's OID (PostgreSQL has no
cast from ``bytea``, and a text literal would format every float in Python). Keeping the copy costs writes
10-15 % (20,000 vectors of 384 values added in batches of 1,000). May import psycopg.
"""

from __future__ import annotations

import struct
import sys
import weakref
from array import array
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.types import TypeInfo

__all__ = ["Emb", "PgVector", "enable_pgvector", "pgvector", "register", "vector_search"]

Conn = psycopg.Connection[tuple[Any, ...]]


class Emb(bytes):
    """A vector's float32 little-endian bytes, to be sent as a pgvector ``vector``."""


class _EmbDumper(Dumper):
    format = psycopg.pq.Format.BINARY

    def dump(self, obj: Any) -> bytes:
        values = array("f")
        values.frombytes(obj)
        if sys.byteorder == "little":
            values.byteswap()
        return struct.pack(">hh", len(values), 0) + values.tobytes()


@dataclass(frozen=True, slots=True)
class PgVector:
    """The extension as one connection sees it: its schema, quoted, for naming its type and operators."""

    schema: str

    @property
    def type(self) -> str:
        """The ``vector`` type, schema-qualified."""
        return f"{self.schema}.vector"

    @property
    def cosine(self) -> str:
        """pgvector's cosine distance operator, schema-qualified."""
        return f"OPERATOR({self.schema}.<=>)"


# Per connection: None when the memory ranks on the client.
_SEEN: weakref.WeakKeyDictionary[Conn, PgVector | None] = weakref.WeakKeyDictionary()


def vector_search(conn: Conn) -> str:
    """``"pgvector"`` or ``"client"``: how this memory ranks vectors (``"client"`` before schema version 4)."""
    row = conn.execute("SELECT value FROM memactor_meta WHERE key = 'vector_search'").fetchone()
    return "client" if row is None else str(row[0])


def pgvector(conn: Conn) -> PgVector | None:
    """The extension, with its dumper registered on ``conn``, if this memory's vectors have an ``emb``; else None."""
    if conn in _SEEN:
        return _SEEN[conn]
    row = conn.execute("SELECT value FROM memactor_meta WHERE key = 'vector_search'").fetchone()
    if row is None:
        # Not decided yet as this server sees it (a replica still replaying the migration, or a memory of an
        # older schema that a newer memactor may migrate): ranked on the client this time, asked again next.
        return None
    found = register(conn) if row[0] == "pgvector" else None
    _SEEN[conn] = found
    return found


def register(conn: Conn) -> PgVector:
    """Find the extension and register the dumper of `Emb` on ``conn`` (the migration backfilling ``emb``).

    Raises:
        psycopg.errors.UndefinedObject: the extension is missing (it was dropped after the migration).
    """
    row = conn.execute(
        "SELECT quote_ident(n.nspname) FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'vector'"
    ).fetchone()
    if row is None:
        raise psycopg.errors.UndefinedObject(
            "this memory ranks vectors with pgvector, but the database no longer has the vector extension:"
            " create it again (CREATE EXTENSION vector)"
        )
    found = PgVector(str(row[0]))
    info = TypeInfo.fetch(conn, found.type)
    assert info is not None  # the extension exists, so does its type
    info.register(conn)  # the array type too: vectors are sent as vector[] to unnest
    conn.adapters.register_dumper(Emb, type("VectorDumper", (_EmbDumper,), {"oid": info.oid}))
    return found


def enable_pgvector(conn: Conn) -> bool:
    """Create the extension if the server has it and the role may; say whether it exists now.

    Runs inside the migration's transaction, in a savepoint: a refusal (no privilege) leaves it usable.
    """
    if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is None:
        return False
    # Two memories migrating at once in one database: the second waits, then finds the extension.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('memactor.create_extension.vector'))")
    try:
        with conn.transaction():
            # In `public`, not the memory's own schema: an extension is one per database, and dropping a
            # schema that held it would take every other memory's vectors with it.
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    except psycopg.errors.InsufficientPrivilege:
        pass  # it may still exist, created by someone who may
    except psycopg.Error:
        pass  # e.g. no schema public, or it cannot be written: ranked on the client
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None
