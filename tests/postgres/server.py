"""A real PostgreSQL for the tests: the one CI started (``MEMACTOR_PG_URL``), or a throwaway one of our own.

`.ci/postgres` starts a primary and a streaming replica on loopback; CI runs it once and exports the URLs.
Run alone (``pytest tests/postgres``), the tests start their own cluster with the same script and stop it at
the end. There are no skips: when PostgreSQL cannot be started, every test that needs it fails and says why.
Each test gets a schema of its own (``search_path`` in the URL), dropped after it, so tests never see each
other's rows and need no new database.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "postgres"


@dataclass(frozen=True)
class PgServer:
    """A running primary and (when started by the script) its streaming replica."""

    url: str
    replica_url: str | None
    # A database of the same cluster where pgvector is never created (`.ci/postgres`: MEMACTOR_PG_PLAIN_URL).
    plain_url: str | None = None
    plain_replica_url: str | None = None


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = value
    return values


def pg_server_from_env_or_script() -> Iterator[PgServer]:
    """Yield the server CI started, or start one with `.ci/postgres` and stop it afterwards."""
    url = os.environ.get("MEMACTOR_PG_URL")
    if url:
        yield PgServer(
            url,
            os.environ.get("MEMACTOR_PG_REPLICA_URL") or None,
            os.environ.get("MEMACTOR_PG_PLAIN_URL") or None,
            os.environ.get("MEMACTOR_PG_PLAIN_REPLICA_URL") or None,
        )
        return
    with tempfile.TemporaryDirectory(prefix="memactor-pgenv-") as scratch:
        env_file = Path(scratch) / "env"
        started = subprocess.run(["bash", str(SCRIPT), "start", str(env_file)], capture_output=True, text=True)
        if started.returncode != 0:
            pytest.fail(
                "could not start PostgreSQL for the PostgreSQL tests with .ci/postgres (set MEMACTOR_PG_URL to use"
                f" a running server instead):\n{started.stderr}",
                pytrace=False,
            )
        values = _read_env(env_file)
        try:
            yield PgServer(
                values["MEMACTOR_PG_URL"],
                values["MEMACTOR_PG_REPLICA_URL"],
                values["MEMACTOR_PG_PLAIN_URL"],
                values["MEMACTOR_PG_PLAIN_REPLICA_URL"],
            )
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop", values["MEMACTOR_PG_DIR"]], check=False)


def with_search_path(url: str, schema: str) -> str:
    """``url`` with every connection made from it using ``schema`` first."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-c search_path={schema}')}"


def fresh_schema(url: str) -> Iterator[str]:
    """Yield a URL whose connections work in a new, empty schema; drop the schema afterwards."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
