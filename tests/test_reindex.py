"""Re-embedding: `reindex` fills the vectors of records that have none, in batches, resumably; never a stale one."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

import memactor
from memactor import Episode, Fact, Skill, codec
from memactor.actor.reindex import reindex
from memactor.embed import HashEmbedder
from memactor.model.commands import StoreVectors
from tests.test_vectors import embedded, same, vector_rows

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[1]


async def _written_without_vectors(path: Path, facts: int = 100) -> dict[str, str]:
    """Records written by a handle without an embedder; their ids and the text each is embedded by."""
    texts = {}
    async with memactor.open(path) as mem:
        for i in range(facts):
            texts[await mem.facts.add(Fact(f"fact number {i}"))] = f"fact number {i}"
        texts[await mem.episodes.add(Episode("deploy", outcome="timed out"))] = "deploy\ntimed out"
        texts[await mem.skills.add(Skill("restart", description="restart it"))] = "restart\nrestart it"
    return texts


async def test_reindex_fills_every_missing_vector_and_then_has_nothing_to_do(db_path: Path) -> None:
    texts = await _written_without_vectors(db_path)
    batches: list[int] = []
    async with memactor.open(db_path, embedder=HashEmbedder()) as mem:
        done = await reindex(mem, batch=32, on_batch=batches.append)
        assert (done.total, done.stored, done.skipped) == (102, 102, 0)
        assert batches == [1, 32, 32, 32, 4, 1]  # the episode, the facts in batches of 32, then the skill
        hit = (await mem.facts.search("fact number 7", mode="vector", limit=1))[0]
        assert hit.record.content == "fact number 7"
        again = await reindex(mem)
        assert (again.total, again.stored) == (0, 0)
    stored = vector_rows(db_path)
    assert set(stored) == set(texts) and all(same(stored[i], text) for i, text in texts.items())


async def test_an_interrupted_reindex_resumes_where_it_stopped(db_path: Path) -> None:
    texts = await _written_without_vectors(db_path)

    def stop_after_two(count: int, seen: list[int] = []) -> None:  # noqa: B006 - a counter across calls
        seen.append(count)
        if len(seen) == 2:
            raise KeyboardInterrupt

    async with memactor.open(db_path, embedder=HashEmbedder()) as mem:
        with pytest.raises(KeyboardInterrupt):
            await reindex(mem, batch=20, on_batch=stop_after_two)
    assert len(vector_rows(db_path)) == 21  # two committed batches: the episode, then 20 facts
    async with memactor.open(db_path, embedder=HashEmbedder()) as mem:
        done = await reindex(mem, batch=20)
        assert (done.total, done.stored) == (81, 81)
    assert set(vector_rows(db_path)) == set(texts)


async def test_all_replaces_vectors_and_a_changed_or_deleted_record_is_skipped(db_path: Path) -> None:
    async with memactor.open(db_path, embedder=HashEmbedder()) as mem:
        kept = await mem.facts.add(Fact("kept"))
        changed = await mem.facts.add(Fact("before"))
        deleted = await mem.facts.add(Fact("deleted"))
        # A vector of another text, as an older model would have made: --all replaces it.
        assert await mem.execute(StoreVectors("fact", (kept,), (1,), (embedded("other"),))) == [kept]
        await mem.facts.update(changed, content="after")  # now at version 2, with its own vector
        await mem.facts.delete(deleted)
        stale = StoreVectors("fact", (changed, deleted), (1, 1), (embedded("before"), embedded("deleted")))
        assert await mem.execute(stale) == []  # neither a stale text's vector nor a resurrected record
        done = await reindex(mem, every=True)
        assert (done.total, done.stored) == (2, 2)
    stored = vector_rows(db_path)
    assert same(stored[kept], "kept") and same(stored[changed], "after") and set(stored) == {kept, changed}


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-m", "memactor", "reindex", *argv], capture_output=True, text=True, env=env, timeout=120
    )


async def test_the_reindex_command_fills_vectors_through_the_files_server(place: Path) -> None:
    db_path = place / "memory.db"
    texts = await _written_without_vectors(db_path, facts=25)
    first = _cli(str(db_path), "--embedder", "hash", "--batch", "10")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "memactor reindex: 27 vectors stored\n"
    assert "27 records to embed" in first.stderr and "27/27" in first.stderr  # plain lines: not a terminal
    assert set(vector_rows(db_path)) == set(texts)
    again = _cli(str(db_path), "--embedder", "hash")
    assert (again.returncode, again.stdout) == (0, "memactor reindex: 0 vectors stored\n")
    other = _cli(str(db_path), "--embedder", "hash:64")
    assert other.returncode == 1 and "made by embedder 'hash-v1-256-0.5' (dim 256)" in other.stderr
    bad = _cli(str(db_path), "--embedder", "word2vec")
    assert bad.returncode == 1 and "expected hash" in bad.stderr


def test_store_vectors_travels_the_wire_and_refuses_bad_input() -> None:
    command = StoreVectors("fact", ("a" * 32, "b" * 32), (1, 3), (bytes(8), bytes(8)))
    assert codec.decode(codec.encode(command)) == command
    for bad in (
        dict(kind="note"),
        dict(ids=("a" * 32,)),  # one id for two versions and vectors
        dict(versions=(1, 0)),
        dict(vectors=(bytes(8), b"abc")),
        dict(ids=(), versions=(), vectors=()),
    ):
        fields = {"kind": "fact", "ids": command.ids, "versions": command.versions, "vectors": command.vectors}
        with pytest.raises(memactor.InvalidInputError):
            StoreVectors(**(fields | bad))  # type: ignore[arg-type]


async def test_on_a_terminal_the_command_shows_a_progress_bar(place: Path) -> None:
    db_path = place / "memory.db"
    await _written_without_vectors(db_path, facts=5)
    leader, follower = os.openpty()  # stderr a terminal, as when a person runs it
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new pty is 0 columns wide
    try:
        env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
        command = [sys.executable, "-m", "memactor", "reindex", str(db_path), "--embedder", "hash"]
        done = subprocess.run(
            command, stderr=follower, capture_output=False, stdout=subprocess.PIPE, env=env, timeout=120
        )
        os.close(follower)
        follower = -1
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0
    assert b"reindex: 100%" in shown and b"7/7" in shown and b"records to embed" not in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other end is closed and everything was read
        return b""
