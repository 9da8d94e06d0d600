"""Switching a file to another embedder: vectors staged where searches do not look, swapped in at once.

Until the swap every search uses the old embedder's vectors only; after it, the new one's only; records
changed while the switch runs end with the vector of their current text; an interrupted switch goes on from
what it staged; a reader's cached matrix follows the swap, even to another dimension.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import memactor
from memactor import Episode, Fact, Skill
from memactor.actor.reindex import switch
from memactor.embed import CallableEmbedder, Embedder, HashEmbedder
from memactor.embed.coalesce import Coalescer
from memactor.embed.protocol import check_matrix
from memactor.errors import EmbedderMismatchError, InvalidInputError
from memactor.sqlite.vsearch import VectorCache
from tests.test_vectors import vector_rows

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[1]
OLD = HashEmbedder()  # 256 dimensions


def _reversed(texts: list[str]) -> np.ndarray:
    return HashEmbedder().embed([text[::-1] for text in texts])


# Another embedder of the same dimension: a swap that mixed the two could not be told apart by length.
NEW_SAME_DIM = CallableEmbedder(_reversed, "reversed-256", 256)


def vector_of(embedder: Embedder, text: str) -> np.ndarray:
    return check_matrix(embedder, embedder.embed([text]), 1)[0]


def made_by(stored: bytes, embedder: Embedder, text: str) -> bool:
    return bool(np.allclose(np.frombuffer(stored, "<f4"), vector_of(embedder, text), atol=1e-6))


async def _written(path: Path, facts: int = 60) -> dict[str, str]:
    """Records embedded by the old embedder; their ids and texts."""
    texts = {}
    async with memactor.open(path, embedder=OLD) as mem:
        for i in range(facts):
            texts[await mem.facts.add(Fact(f"fact number {i} about deploys"))] = f"fact number {i} about deploys"
        texts[await mem.episodes.add(Episode("deploy", outcome="timed out"))] = "deploy\ntimed out"
        texts[await mem.skills.add(Skill("restart", description="restart it"))] = "restart\nrestart it"
    return texts


def _embedder_recorded(path: Path) -> tuple[str, int]:
    conn = sqlite3.connect(path)
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('embedder_name', 'embedder_dim')"))
        return rows["embedder_name"], int(rows["embedder_dim"])
    finally:
        conn.close()


def _all_made_by(path: Path, embedder: Embedder, texts: dict[str, str]) -> None:
    stored = vector_rows(path)
    assert set(stored) == set(texts)
    wrong = [record_id for record_id, text in texts.items() if not made_by(stored[record_id], embedder, text)]
    assert wrong == [], f"{len(wrong)} vectors not made by {embedder.name} from their text"


async def test_a_switch_swaps_every_vector_and_the_embedder_at_once(db_path: Path) -> None:
    texts = await _written(db_path)
    async with memactor.open(db_path) as mem:
        done = await switch(mem, Coalescer(HashEmbedder(128)), batch=16)
    assert (done.old, done.total, done.staged, done.missing) == ((OLD.name, 256), 62, 62, 0)
    assert _embedder_recorded(db_path) == ("hash-v1-128-0.5", 128)
    _all_made_by(db_path, HashEmbedder(128), texts)
    with pytest.raises(EmbedderMismatchError, match=r"--embedder SPEC --switch"):
        async with memactor.open(db_path, embedder=OLD):
            pass
    async with memactor.open(db_path, embedder=HashEmbedder(128)) as mem:
        hit = (await mem.facts.search("fact number 7 about deploys", mode="vector", limit=1))[0]
        assert hit.record.content == "fact number 7 about deploys"
        with pytest.raises(InvalidInputError, match="already: nothing to switch"):
            await switch(mem, Coalescer(HashEmbedder(128)))
    conn = sqlite3.connect(db_path)
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "vector_stage" not in names and not any(name.endswith("_stage_au") for name in names)


async def test_an_interrupted_switch_leaves_the_old_vectors_searchable_and_resumes(db_path: Path) -> None:
    texts = await _written(db_path)
    before = vector_rows(db_path)
    seen: list[int] = []

    def stop_after_two(count: int) -> None:
        seen.append(count)
        if len(seen) == 2:
            raise KeyboardInterrupt

    async with memactor.open(db_path) as mem:
        with pytest.raises(KeyboardInterrupt):
            await switch(mem, Coalescer(NEW_SAME_DIM), batch=20, on_batch=stop_after_two)
    assert vector_rows(db_path) == before and _embedder_recorded(db_path) == (OLD.name, 256)
    changed = next(record_id for record_id, text in texts.items() if text == "fact number 3 about deploys")
    async with memactor.open(db_path, embedder=OLD) as mem:  # agents go on with the old embedder meanwhile
        hit = (await mem.facts.search("fact number 5 about deploys", mode="vector", limit=1))[0]
        assert hit.record.content == "fact number 5 about deploys" and hit.similarity == pytest.approx(1.0, abs=1e-5)
        await mem.facts.update(changed, content="changed after it was staged")  # its staged vector is stale
        texts[changed] = "changed after it was staged"
        added = await mem.facts.add(Fact("added during the switch"))
        texts[added] = "added during the switch"
    async with memactor.open(db_path) as mem:
        done = await switch(mem, Coalescer(NEW_SAME_DIM), batch=20)
    # The episode and 20 facts were staged; one of them changed since; one record is new.
    assert (done.total, done.staged, done.missing) == (63 - 21 + 1, 43, 0)
    assert _embedder_recorded(db_path) == ("reversed-256", 256)
    _all_made_by(db_path, NEW_SAME_DIM, texts)


async def test_records_changed_and_added_while_the_switch_runs_get_the_new_vector_of_their_text(
    db_path: Path,
) -> None:
    texts = await _written(db_path, facts=10)
    loop = asyncio.get_running_loop()
    first = next(iter(texts))

    async with memactor.open(db_path) as mem:

        async def meanwhile() -> None:
            await mem.facts.update(first, content="rewritten while the switch ran")
            texts[first] = "rewritten while the switch ran"
            texts[await mem.facts.add(Fact("added while the switch ran"))] = "added while the switch ran"

        calls: list[int] = []

        def embed(batch: list[str]) -> np.ndarray:
            if len(calls) == 1:
                # An agent writes between two batches of the switch (this runs in a worker thread).
                asyncio.run_coroutine_threadsafe(meanwhile(), loop).result(60)
            calls.append(len(batch))
            return _reversed(batch)

        done = await switch(mem, Coalescer(CallableEmbedder(embed, "reversed-256", 256)), batch=4)
        assert done.staged == 12 + 2 and done.missing == 0
    _all_made_by(db_path, NEW_SAME_DIM, texts)


def test_a_readers_cached_matrix_follows_the_swap_to_another_dimension(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    texts = asyncio.run(_written(path, facts=30))
    conn = sqlite3.connect(path, isolation_level=None)
    cache = VectorCache("fact")
    cache.refresh(conn)
    assert cache.count == 30 and cache.matrix.shape[1] == 256

    async def switch_to_64() -> None:
        async with memactor.open(path) as mem:
            await switch(mem, Coalescer(HashEmbedder(64)))

    asyncio.run(switch_to_64())
    cache.refresh(conn)
    conn.close()
    assert cache.matrix.shape[1] == 64 and int(cache.alive[: cache.count].sum()) == 30
    rows = {int(rid): row for rid, row in cache.rows.items()}
    facts = sqlite3.connect(path)
    by_rowid = dict(facts.execute("SELECT rowid, content FROM facts"))
    facts.close()
    for rid, row in rows.items():
        assert np.allclose(cache.matrix[row], vector_of(HashEmbedder(64), by_rowid[rid]), atol=1e-6)
    assert set(by_rowid.values()) <= set(texts.values())


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-m", "memactor", "reindex", *argv], capture_output=True, text=True, env=env, timeout=120
    )


async def test_the_reindex_command_switches_through_the_files_server(place: Path) -> None:
    db_path = place / "memory.db"
    texts = await _written(db_path, facts=25)
    refused = _cli(str(db_path), "--embedder", "hash:64")
    assert refused.returncode == 1 and "--embedder SPEC --switch" in refused.stderr
    done = _cli(str(db_path), "--embedder", "hash:64", "--switch", "--batch", "10")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "memactor reindex: switched from embedder 'hash-v1-256-0.5' (dim 256) to hash:64: 27 vectors made\n"
    )
    assert "27 records to embed" in done.stderr and "27/27" in done.stderr
    _all_made_by(db_path, HashEmbedder(64), texts)
    filled = _cli(str(db_path), "--embedder", "hash:64")
    assert (filled.returncode, filled.stdout) == (0, "memactor reindex: 0 vectors stored\n")
    again = _cli(str(db_path), "--embedder", "hash:64", "--switch")
    assert again.returncode == 1 and "nothing to switch" in again.stderr


def test_a_staged_vector_of_another_length_than_its_embedders_is_refused_when_the_command_is_made() -> None:
    from memactor.codec import decode_frame, encode
    from memactor.errors import CodecError
    from memactor.model.commands import StageVectors

    short = np.ones(3, dtype="<f4").tobytes()
    with pytest.raises(InvalidInputError, match="its vector has 3 values, not 4"):
        StageVectors("other", 4, "fact", ("f1",), (1,), (short,))
    # From the wire (a client of `memactor serve`): the writer decodes the frame with the same checks.
    changed = StageVectors("other", 3, "fact", ("f1",), (1,), (short,))
    object.__setattr__(changed, "dim", 4)  # changed behind its checks, as a hostile client may send it
    outcome = decode_frame(encode(changed), trusted=False)
    assert isinstance(outcome, (InvalidInputError, CodecError)), outcome
    assert "its vector has 3 values, not 4" in str(outcome)
