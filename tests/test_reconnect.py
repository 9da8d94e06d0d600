"""The writer survives its connection: a batch that fails fails only its callers, a broken connection is
reopened (with backoff) and writing goes on; only a writer that cannot go on dies.

Failures are real: the writer's own connection is closed under it (from inside its thread hop, by wrapping
`memactor.actor.writer.apply_batch` as the writer tests do), and the file's directory is moved away and back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import memactor
import memactor.actor.writer
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio

HANG = 30  # seconds: only to turn a hang into a failure
REAL_APPLY_BATCH = memactor.actor.writer.apply_batch


class Breaker:
    """Wraps apply_batch: when armed, the next batch first closes the writer's connection (or runs ``act``)."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.act: Callable[[sqlite3.Connection], None] = lambda conn: conn.close()

    def apply_batch(self, conn: sqlite3.Connection, frames: Any, *args: Any) -> list[object]:
        if self.armed.is_set():
            self.armed.clear()
            self.act(conn)
        return REAL_APPLY_BATCH(conn, frames, *args)


@pytest.fixture
def breaker(monkeypatch: pytest.MonkeyPatch) -> Breaker:
    wrapped = Breaker()
    monkeypatch.setattr(memactor.actor.writer, "apply_batch", wrapped.apply_batch)
    return wrapped


async def test_a_closed_connection_fails_one_batch_and_the_writer_reopens_it(db_path: Path, breaker: Breaker) -> None:
    async with memactor.open(db_path, durability="normal") as mem:
        kept = await mem.facts.add(Fact(content="before"))
        breaker.armed.set()
        with anyio.fail_after(HANG):
            with pytest.raises(memactor.StorageError):
                await mem.facts.add(Fact(content="lost with its connection"))
            after = await mem.facts.add(Fact(content="after"))
            sid = await mem.skills.add(Skill(name="s"))
            await mem.skills.record_use(sid, success=True)
        assert {f.id for f in await mem.facts.get_many([kept, after])} == {kept, after}
        assert await mem.facts.count() == 2


async def test_writes_fail_fast_while_the_file_is_gone_and_resume_when_it_is_back(
    tmp_path: Path, breaker: Breaker
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = home / "m.db"
    away = tmp_path / "away"
    async with memactor.open(path, durability="normal") as mem:
        await mem.facts.add(Fact(content="before"))
        home.rename(away)  # reopening now fails: the file is not where it was
        home.mkdir()
        breaker.armed.set()
        with anyio.fail_after(HANG):
            failures = 0
            for n in range(5):  # every caller hears, none hangs
                with pytest.raises(memactor.StorageError):
                    await mem.facts.add(Fact(content=f"while gone {n}"))
                failures += 1
            # A reopen must not create a new, empty database in the file's place.
            assert list(home.iterdir()) == []
            home.rmdir()
            away.rename(home)
            while True:  # the next reopen attempt succeeds (backoff of at most a few seconds)
                try:
                    await mem.facts.add(Fact(content="after"))
                    break
                except memactor.StorageError:
                    await anyio.sleep(0.05)
        assert failures == 5
        assert await mem.facts.count() == 2


async def test_an_unexpected_exception_fails_its_batch_with_a_typed_error_and_the_writer_goes_on(
    db_path: Path, breaker: Breaker
) -> None:
    def bug(conn: sqlite3.Connection) -> None:
        raise RuntimeError("bug in the writer")

    breaker.act = bug
    async with memactor.open(db_path, durability="normal") as mem:
        breaker.armed.set()
        with anyio.fail_after(HANG):
            with pytest.raises(memactor.StorageError, match="bug in the writer"):
                await mem.episodes.add(Episode(task="lost"))
            eid = await mem.episodes.add(Episode(task="kept"))
        assert [e.id for e in await mem.episodes.get_many([eid])] == [eid]
        assert await mem.episodes.count() == 1


async def test_a_writer_that_cannot_reopen_its_file_dies_and_says_why(db_path: Path, breaker: Breaker) -> None:
    def newer_schema_then_close(conn: sqlite3.Connection) -> None:
        # Another program wrote a newer schema meanwhile: this memactor cannot write the file any more.
        conn.execute("PRAGMA user_version = 999")
        conn.close()

    breaker.act = newer_schema_then_close
    async with memactor.open(db_path, durability="normal") as mem:
        breaker.armed.set()
        with anyio.fail_after(HANG):
            with pytest.raises(memactor.StorageError):  # its connection was closed under it
                await mem.facts.add(Fact(content="x"))
            # The next batch reopens the file and finds a schema it cannot write.
            with pytest.raises(memactor.WriterDiedError, match="schema version 999"):
                await mem.facts.add(Fact(content="y"))
            with pytest.raises(memactor.WriterDiedError):
                await mem.facts.add(Fact(content="later"))
