"""Shared fixtures.

Store and API contract tests (``test_stores.py``, ``test_batch.py``, ``test_search.py``) use only the ``mem``
fixture, so a sub-directory conftest can override ``mem`` to run the same tests against another handle
(a server-backed one, for instance).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import memactor

# `place`: a directory and a private runtime directory for servers started on demand, killed afterwards.
pytest_plugins = ["tests.spawned"]


@pytest.fixture
def anyio_backend() -> str:
    # memactor's lanes answer through the asyncio loop: asyncio is its only backend.
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
async def mem(db_path: Path) -> AsyncIterator[memactor.Memory]:
    async with memactor.open(db_path, durability="normal") as handle:
        yield handle
