"""What a PostgreSQL memory stores for vectors, read straight from the database (the test's own eyes)."""

from __future__ import annotations

import psycopg

_TABLES = (("episode", "episodes"), ("fact", "facts"), ("skill", "skills"))


def pg_vector_rows(url: str) -> dict[str, bytes]:
    """The stored vectors by record id."""
    with psycopg.connect(str(url), autocommit=True) as conn:
        rows: dict[str, bytes] = {}
        for kind, table in _TABLES:
            found = conn.execute(
                f"SELECT t.id, v.vec FROM vectors v JOIN {table} t ON t.rid = v.rid WHERE v.kind = %s", (kind,)
            )
            rows.update((record_id, bytes(vec)) for record_id, vec in found)
        return rows


def pg_orphan_vectors(url: str) -> int:
    """Stored vectors (live or staged) whose record is gone."""
    with psycopg.connect(str(url), autocommit=True) as conn:
        total = 0
        for table in ("vectors", "vector_stage"):
            for kind, records in _TABLES:
                row = conn.execute(
                    f"SELECT count(*) FROM {table} v WHERE v.kind = %s AND v.rid NOT IN (SELECT rid FROM {records})",
                    (kind,),
                ).fetchone()
                total += 0 if row is None else int(row[0])
        return total


def pg_embedder_recorded(url: str) -> tuple[str, int]:
    """The embedder name and dimension in ``memactor_meta``."""
    with psycopg.connect(str(url), autocommit=True) as conn:
        rows = dict(conn.execute("SELECT key, value FROM memactor_meta WHERE key IN ('embedder_name', 'embedder_dim')"))
        return str(rows["embedder_name"]), int(rows["embedder_dim"])


def pg_emb_mismatches(url: str) -> int:
    """Rows of ``vectors`` and ``vector_stage`` whose pgvector ``emb`` is not exactly their float32 ``vec``."""
    import json

    import numpy as np

    with psycopg.connect(str(url), autocommit=True) as conn:
        bad = 0
        for table in ("vectors", "vector_stage"):
            for vec, emb in conn.execute(f"SELECT vec, emb::text FROM {table}"):
                if np.array(json.loads(emb), dtype="<f4").tobytes() != bytes(vec):
                    bad += 1
        return bad


def pg_vector_search(url: str) -> tuple[str | None, bool]:
    """The memory's ``vector_search`` row and whether ``vectors`` has an ``emb`` column."""
    with psycopg.connect(str(url), autocommit=True) as conn:
        row = conn.execute("SELECT value FROM memactor_meta WHERE key = 'vector_search'").fetchone()
        has_emb = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'vectors' AND column_name = 'emb'"
        ).fetchone()
        return (None if row is None else str(row[0])), has_emb is not None
