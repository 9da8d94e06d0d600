"""The PostgreSQL schema, its version, and `migrate`.

Each record kind has a table in the connection's current schema (the first of its ``search_path``): the
record's columns, a generated ``tsv`` column (``tsvector``, kept by PostgreSQL itself on every insert and
update, indexed with GIN) and indexes for the filters. Ids use the "C" collation so streams page in byte
order, as on SQLite, whatever the database's locale. Skill names are unique per namespace by a constraint,
which holds across every process and machine that writes.

Version 2 adds the item store's table (`memactor.postgres.itemschema`). Version 3 adds vectors
(`memactor.postgres.vschema`). Version 4 adds pgvector's column to them when the extension can be had
(`memactor.postgres.pgvec`), and records in ``vector_search`` whether it could.

``memactor_meta`` holds the schema version (key ``schema_version``). `migrate` runs under a transaction-scoped
advisory lock, so many processes opening the same database at once migrate it once, in order; a database
written by a newer schema is refused with `SchemaError`.

The text search configuration ``memactor_text`` is English (snowball) stemming without stop words, like
SQLite's porter tokenizer, with accents folded when the ``unaccent`` extension exists or can be created (it
ships with PostgreSQL and is trusted since version 13).
May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ..errors import SchemaError
from .itemschema import create_items
from .vschema import add_pgvector, create_vectors

__all__ = ["SCHEMA_VERSION", "TABLES", "Table", "migrate", "schema_version"]

SCHEMA_VERSION = 4
TEXT_CONFIG = "memactor_text"

_COMMON_COLUMNS = """
    id text COLLATE "C" PRIMARY KEY,
    namespace text NOT NULL,
    agent_id text,
    tags text[] NOT NULL,
    metadata text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    version bigint NOT NULL"""


@dataclass(frozen=True, slots=True)
class Table:
    """How one record kind is stored."""

    name: str
    columns: str
    text_columns: tuple[str, ...]


TABLES: dict[str, Table] = {
    "episode": Table(
        "episodes",
        """task text NOT NULL, steps text NOT NULL, outcome text NOT NULL,
           success boolean, reward double precision, importance double precision NOT NULL""",
        ("task", "steps", "outcome"),
    ),
    "fact": Table(
        "facts",
        "content text NOT NULL, confidence double precision NOT NULL, source_episode_ids text NOT NULL",
        ("content",),
    ),
    "skill": Table(
        "skills",
        """name text NOT NULL, description text NOT NULL, steps text NOT NULL, code text NOT NULL,
           uses bigint NOT NULL, successes bigint NOT NULL, last_used_at double precision,
           CONSTRAINT skills_name_unique UNIQUE (namespace, name)""",
        ("name", "description", "steps", "code"),
    ),
}


def _table_sql(table: Table) -> str:
    name = table.name
    text = " || ' ' || ".join(table.text_columns)
    return f"""
CREATE TABLE {name} ({_COMMON_COLUMNS}, {table.columns},
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_CONFIG}'::regconfig, {text})) STORED);
CREATE INDEX {name}_tsv ON {name} USING gin (tsv);
CREATE INDEX {name}_tags ON {name} USING gin (tags);
CREATE INDEX {name}_by_namespace_created_at ON {name} (namespace, created_at);
CREATE INDEX {name}_by_agent_id_created_at ON {name} (agent_id, created_at);
"""


def _text_config(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    # English stemming without a stop word list: SQLite's porter tokenizer drops no words either, so
    # "the" finds what it finds there.
    conn.execute(f"CREATE TEXT SEARCH DICTIONARY {TEXT_CONFIG}_stem (TEMPLATE = snowball, Language = english)")
    conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {TEXT_CONFIG} (COPY = pg_catalog.english)")
    conn.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {TEXT_CONFIG} ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,"
        f" word, hword, hword_part WITH {TEXT_CONFIG}_stem"
    )
    try:
        with conn.transaction():
            # In `public`, not the memory's own schema: an extension is one per database, and dropping a
            # schema that held it would take every other schema's text configuration with it.
            conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    except psycopg.Error:
        pass  # not installed, or not ours to create: it may still exist elsewhere
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'unaccent'"
    ).fetchone()
    if row is None:
        return  # stemming without folding accents
    conn.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {TEXT_CONFIG} ALTER MAPPING FOR word, hword, hword_part"
        f' WITH "{row[0]}".unaccent, {TEXT_CONFIG}_stem'
    )


def _version_1(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    _text_config(conn)
    for table in TABLES.values():
        conn.execute(_table_sql(table))


def _version_2(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    create_items(conn, TEXT_CONFIG)


def _version_3(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    create_vectors(conn, {kind: (table.name, table.text_columns) for kind, table in TABLES.items()})


def _version_4(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    add_pgvector(conn)


# Each step brings a database from the version before it to its own, inside `migrate`'s transaction.
_STEPS: dict[int, Callable[[psycopg.Connection[tuple[object, ...]]], None]] = {
    1: _version_1,
    2: _version_2,
    3: _version_3,
    4: _version_4,
}


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The schema version of the connection's current schema (0 when it holds no memory yet)."""
    if conn.execute("SELECT to_regclass('memactor_meta')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT value FROM memactor_meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(str(row[0]))


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the schema in an empty database schema, or bring an older one up to `SCHEMA_VERSION`.

    Args:
        conn: A connection in autocommit mode, outside a transaction.

    Raises:
        SchemaError: the database was written by a newer schema.
        psycopg.Error: PostgreSQL failed; nothing of the migration was committed.
    """
    with conn.transaction():
        # One migration at a time per schema, whichever process or machine opens it first.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('memactor.migrate.' || current_schema()))")
        conn.execute("CREATE TABLE IF NOT EXISTS memactor_meta (key text PRIMARY KEY, value text NOT NULL)")
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaError(f"the database has schema version {version}; this memactor knows up to {SCHEMA_VERSION}")
        for step, change in sorted(_STEPS.items()):
            if step > version:
                change(conn)
        conn.execute(
            "INSERT INTO memactor_meta (key, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
