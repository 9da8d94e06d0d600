"""Empty and whitespace-only query text is no text: ``search("")`` lists what ``search()`` lists.

Every test here uses only the ``mem`` fixture; ``tests/server/test_blank_query_remote.py`` runs them over
`memactor.connect`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import memactor
from memactor import Episode, Fact, Skill

pytestmark = pytest.mark.anyio

BLANKS = ["", " ", "  \t\n "]


async def _fill(mem: Any) -> None:
    now = time.time()
    await mem.episodes.add_many([Episode(task=f"task {i}", created_at=now - i) for i in range(4)])
    await mem.facts.add_many([Fact(content=f"fact {i}", created_at=now - i) for i in range(4)])
    await mem.skills.add_many([Skill(name=f"skill {i}", created_at=now - i) for i in range(4)])


@pytest.mark.parametrize("store", ["episodes", "facts", "skills"])
async def test_blank_text_searches_like_no_text(mem: memactor.Memory, store: str) -> None:
    await _fill(mem)
    records = getattr(mem, store)
    expected = [hit.record.id for hit in await records.search(limit=3)]
    assert len(expected) == 3
    assert [hit.record.id for hit in await records.search(None, limit=3)] == expected
    for blank in BLANKS:
        assert [hit.record.id for hit in await records.search(blank, limit=3)] == expected, repr(blank)
        assert [hit.record.id for hit in await records.search(query=blank, limit=3)] == expected


async def test_blank_text_searches_items_like_no_text(mem: memactor.Memory) -> None:
    for i in range(4):
        await mem.items.put(("notes",), f"k{i}", {"text": f"note {i}"})
    expected = [item.key for item in await mem.items.search(("notes",))]
    assert expected == ["k0", "k1", "k2", "k3"]
    for blank in BLANKS:
        assert [item.key for item in await mem.items.search(("notes",), query=blank)] == expected, repr(blank)


async def test_a_query_that_is_not_text_is_still_refused(mem: memactor.Memory) -> None:
    with pytest.raises(memactor.InvalidInputError, match="query must be a str"):
        await mem.facts.search(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
async def test_blank_text_in_vector_modes_lists_the_newest_without_embedding_it(tmp_path: Any, mode: str) -> None:
    from memactor.embed import CallableEmbedder, HashEmbedder

    hashing = HashEmbedder()

    def strict(texts: list[str]) -> Any:
        # As some hosted embedding APIs do: an empty input is an error there.
        assert all(text.strip() for text in texts), f"asked to embed blank text: {texts!r}"
        return hashing.embed(texts)

    embedder = CallableEmbedder(strict, hashing.name, hashing.dim)
    async with memactor.open(tmp_path / "vectors.db", embedder=embedder) as mem:
        await _fill(mem)
        expected = [hit.record.id for hit in await mem.facts.search(mode=mode, limit=3)]
        assert len(expected) == 3
        for blank in BLANKS:
            assert [hit.record.id for hit in await mem.facts.search(blank, mode=mode, limit=3)] == expected
