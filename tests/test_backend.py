"""memactor runs on anyio's asyncio backend only, and says so at once on any other: before it takes the
writer lock, starts a thread or opens a connection (trio used to fail with "no running event loop" after
the lock was taken).
"""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

import memactor


def memactor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("memactor-") and t.is_alive()]


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_trio_before_taking_anything(db_path: Path, readonly: bool) -> None:
    async def main() -> None:
        with pytest.raises(Exception) as refused:  # the type is checked below, by name too
            async with memactor.open(db_path, readonly=readonly):
                pass
        assert type(refused.value).__name__ == "UnsupportedBackendError", repr(refused.value)
        assert isinstance(refused.value, memactor.MemactorError)
        assert 'asyncio only, not trio: start it with asyncio.run(...) or anyio.run(..., backend="asyncio")' in str(
            refused.value
        )

    anyio.run(main, backend="trio")
    assert not memactor_threads()
    assert not Path(f"{db_path}-writer.lock").exists(), "the writer lock was taken"
    assert not db_path.exists(), "the database was opened"


def test_connect_refuses_trio_before_connecting(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(Exception) as refused:  # the type is checked below, by name too
            async with memactor.connect(f"unix://{tmp_path / 'nobody.sock'}", token="t"):
                pass
        assert type(refused.value).__name__ == "UnsupportedBackendError", repr(refused.value)
        assert "memactor.connect runs on asyncio only" in str(refused.value)

    anyio.run(main, backend="trio")


def test_the_same_open_works_on_asyncio(db_path: Path) -> None:
    async def main() -> int:
        async with memactor.open(db_path) as mem:
            await mem.facts.add(memactor.Fact(content="x"))
            return int(await mem.facts.count())

    assert anyio.run(main, backend="asyncio") == 1
