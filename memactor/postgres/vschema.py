"""Schema version 3: vectors without pgvector, float32 ``bytea`` beside the records and a commit-ordered log.

pgvector is not packaged for every distribution PostgreSQL runs on (Debian 12 has none), so a memory's
vectors are stored as plain float32 bytes and searched exactly in numpy on the reader's side, as on SQLite:

- each record table gains ``rid``, a ``bigint`` identity: the integer key the readers' cached matrices use
  (SQLite's rowid);
- ``vectors (kind, rid, vec)`` holds one vector per record that has one; ``vector_stage`` the vectors an
  embedder switch stages (`memactor.postgres.vswitch`);
- ``vector_log (seq, kind, rid)`` lists every insert, replacement and removal of a vector. Statement
  triggers append to it. A ``bigserial`` alone is not commit-ordered when several writer processes commit
  at once (a transaction can take seq 10, another 11 and commit first: a reader that read up to 11 would
  never see 10), so the trigger first takes a transaction-scoped advisory lock: transactions that change
  vectors append to the log one after the other, each after the previous one committed, and the log's order
  is their commit order;
- row triggers on the record tables drop a record's vector (live and staged) when it is deleted or one of
  its text columns is updated, as SQLite's do.

The embedder's name and dimension are rows of ``memactor_meta``.

Schema version 4 (`add_pgvector`) gives ``vectors`` and ``vector_stage`` a pgvector column, ``emb``, when the
extension exists or can be created (`memactor.postgres.pgvec`), filled from ``vec`` for the vectors already
stored. Its type has no dimension: a switch to an embedder of another dimension replaces every vector in one
transaction, and the index that needs one is made per dimension (`memactor.postgres.vsql`). May import psycopg.
"""

from __future__ import annotations

from typing import Any

import psycopg

from .pgvec import Emb, enable_pgvector, register

__all__ = ["add_pgvector", "create_vectors"]

_LOG_FUNCTION = """
CREATE FUNCTION memactor_vector_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM old_rows) THEN
            PERFORM pg_advisory_xact_lock(hashtext('memactor.vector_log.' || current_schema()));
            INSERT INTO vector_log (kind, rid) SELECT kind, rid FROM old_rows;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM new_rows) THEN
        PERFORM pg_advisory_xact_lock(hashtext('memactor.vector_log.' || current_schema()));
        INSERT INTO vector_log (kind, rid) SELECT kind, rid FROM new_rows;
    END IF;
    RETURN NULL;
END $$
"""

_DROP_FUNCTION = """
CREATE FUNCTION memactor_drop_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM vectors WHERE kind = TG_ARGV[0] AND rid = OLD.rid;
    DELETE FROM vector_stage WHERE kind = TG_ARGV[0] AND rid = OLD.rid;
    RETURN NULL;
END $$
"""


def create_vectors(conn: psycopg.Connection[tuple[Any, ...]], tables: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    """Create the vector tables, the log and their triggers, inside `migrate`'s transaction.

    Args:
        conn: The migrating connection.
        tables: Per record kind, its table's name and text columns.
    """
    for name, _ in tables.values():
        # Existing rows are numbered too: the identity fills them as the column is added.
        conn.execute(f"ALTER TABLE {name} ADD COLUMN rid bigint GENERATED ALWAYS AS IDENTITY")
        conn.execute(f"CREATE UNIQUE INDEX {name}_rid ON {name} (rid)")
    for table in ("vectors", "vector_stage"):
        conn.execute(
            f"CREATE TABLE {table} (kind text NOT NULL, rid bigint NOT NULL, vec bytea NOT NULL,"
            " PRIMARY KEY (kind, rid))"
        )
    conn.execute("CREATE TABLE vector_log (seq bigserial PRIMARY KEY, kind text NOT NULL, rid bigint NOT NULL)")
    conn.execute("CREATE INDEX vector_log_by_kind ON vector_log (kind, seq)")
    conn.execute(_LOG_FUNCTION)
    for suffix, event, transition in (("ai", "INSERT", "NEW"), ("au", "UPDATE", "NEW"), ("ad", "DELETE", "OLD")):
        conn.execute(
            f"CREATE TRIGGER vectors_{suffix} AFTER {event} ON vectors REFERENCING {transition} TABLE AS"
            f" {transition.lower()}_rows FOR EACH STATEMENT EXECUTE FUNCTION memactor_vector_log()"
        )
    conn.execute(_DROP_FUNCTION)
    for kind, (name, text_columns) in tables.items():
        conn.execute(
            f"CREATE TRIGGER {name}_vec_ad AFTER DELETE ON {name} FOR EACH ROW"
            f" EXECUTE FUNCTION memactor_drop_vector('{kind}')"
        )
        conn.execute(
            f"CREATE TRIGGER {name}_vec_au AFTER UPDATE OF {', '.join(text_columns)} ON {name} FOR EACH ROW"
            f" EXECUTE FUNCTION memactor_drop_vector('{kind}')"
        )


_BACKFILL_CHUNK = 2048


def add_pgvector(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Add ``emb`` and fill it when pgvector can be had, and record the path taken, inside `migrate`'s transaction."""
    if not enable_pgvector(conn):
        conn.execute("INSERT INTO memactor_meta (key, value) VALUES ('vector_search', 'client')")
        return
    extension = register(conn)
    for table in ("vectors", "vector_stage"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN emb {extension.type}")
        # A row holding both (2 x 1.5 kB at 384 values) passes PostgreSQL's 2 kB TOAST threshold, and the
        # larger, emb, would be moved out of line: every search would then fetch each vector from the TOAST
        # table. MAIN keeps emb in the row unless it cannot fit at all; vec, which searches here never read,
        # goes out of line first, uncompressed (EXTERNAL: float noise does not compress, so trying is wasted).
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN emb SET STORAGE MAIN, ALTER COLUMN vec SET STORAGE EXTERNAL")
        # The vectors stored before this version, through the client (there is no server-side cast from bytea).
        rows = conn.execute(f"SELECT kind, rid, vec FROM {table}").fetchall()
        for start in range(0, len(rows), _BACKFILL_CHUNK):
            chunk = rows[start : start + _BACKFILL_CHUNK]
            conn.execute(
                f"UPDATE {table} AS v SET emb = u.emb FROM unnest(%s::text[], %s::bigint[], %b::{extension.type}[])"
                " AS u(kind, rid, emb) WHERE v.kind = u.kind AND v.rid = u.rid",
                ([r[0] for r in chunk], [r[1] for r in chunk], [Emb(r[2]) for r in chunk]),
            )
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN emb SET NOT NULL")
    conn.execute("INSERT INTO memactor_meta (key, value) VALUES ('vector_search', 'pgvector')")
