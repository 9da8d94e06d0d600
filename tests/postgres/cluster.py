"""A throwaway PostgreSQL cluster of a test's own, which the test may crash and start again.

Never the shared server of ``MEMACTOR_PG_URL``: other tests use that one. `.ci/postgres` starts the cluster (a
primary and a streaming replica, fsync on, so the server's durability is real), crashes the primary with
``pg_ctl stop -m immediate`` (PostgreSQL's own crash: no shutdown checkpoint, the WAL replayed at the next
start) and starts it again on its port. The replica is left running throughout.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres.server import SCRIPT


@dataclass(frozen=True)
class Cluster:
    """A running cluster: the primary's URL and the directory `.ci/postgres` keeps it in."""

    url: str
    directory: str

    def crash(self) -> None:
        """Stop the primary as a crash would (``pg_ctl stop -m immediate``), and return once it is down."""
        _script("crash", self.directory)

    def restart(self) -> None:
        """Start the crashed primary again (it replays its WAL), and return once it accepts connections."""
        _script("restart-primary", self.directory)


def _script(*args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        pytest.fail(f".ci/postgres {' '.join(args)} failed:\n{done.stderr}", pytrace=False)


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """Start a cluster of the caller's own with fsync on; stop it and delete its files afterwards."""
    with tempfile.TemporaryDirectory(prefix="memactor-pgenv-") as scratch:
        env_file = Path(scratch) / "env"
        _script("start", str(env_file), env={**os.environ, "MEMACTOR_PG_FSYNC": "on"})
        values = {}
        for line in env_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = value
        try:
            yield Cluster(values["MEMACTOR_PG_URL"], values["MEMACTOR_PG_DIR"])
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop", values["MEMACTOR_PG_DIR"]], check=False, timeout=120)
