"""A small labelled check: hybrid search finds at least as much as the better of text and vector search.

600 facts, each about two made-up key words among six shared filler words. 60 queries, one per answer:
half name the answer's key words as written (text search's case), half misspell both (a letter swapped
and one doubled: no word in common with the answer, so only the fillers match as text, but most of the
words' character trigrams survive, which HashEmbedder catches: a stand-in for meaning-level overlap).
Every fact is added at once with the same importance, so the score's other parts do not tell them apart.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import memactor
from memactor import Fact
from memactor.embed import HashEmbedder

pytestmark = pytest.mark.anyio

_LETTERS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"
FILLERS = "service agent deploy request cluster memory user error network storage task report".split()


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) + rng.choice(_VOWELS) for _ in range(rng.randint(3, 5)))


def _misspell(word: str, rng: random.Random) -> str:
    letters = list(word)
    i = rng.randrange(1, len(letters) - 2)
    letters[i], letters[i + 1] = letters[i + 1], letters[i]
    j = rng.randrange(len(letters))
    return "".join([*letters[: j + 1], letters[j], *letters[j + 1 :]])


def labelled_set(seed: int = 7) -> tuple[list[str], list[tuple[str, int]]]:
    """600 fact texts and 60 (query, index of the answer) pairs."""
    rng = random.Random(seed)
    keys: set[str] = set()
    while len(keys) < 1200:
        keys.add(_word(rng))
    pairs = [sorted(keys)[i : i + 2] for i in range(0, 1200, 2)]
    rng.shuffle(pairs)
    texts = [" ".join([*pair, *rng.sample(FILLERS, 6)]) for pair in pairs]
    queries = []
    for n, answer in enumerate(rng.sample(range(600), 60)):
        key1, key2 = pairs[answer]
        if n % 2:
            key1, key2 = _misspell(key1, rng), _misspell(key2, rng)
        queries.append((" ".join([key1, key2, *rng.sample(FILLERS, 2)]), answer))
    return texts, queries


async def recall_at_10(path: Path) -> dict[str, float]:
    texts, queries = labelled_set()
    async with memactor.open(path, embedder=HashEmbedder(), durability="normal") as mem:
        ids = await mem.facts.add_many([Fact(text) for text in texts])
        found = {}
        for mode in ("text", "vector", "hybrid"):
            hits = 0
            for query, answer in queries:
                top = await mem.facts.search(query, mode=mode, limit=10)
                hits += ids[answer] in {hit.record.id for hit in top}
            found[mode] = hits / len(queries)
    return found


async def test_hybrid_is_never_worse_than_text_or_vector_alone(tmp_path: Path) -> None:
    recall = await recall_at_10(tmp_path / "m.db")
    print(f"recall@10 on the labelled check: {recall}")
    assert recall["hybrid"] >= max(recall["text"], recall["vector"]), recall
    # The set does what it is for: each alone misses what the other finds.
    assert recall["text"] <= 0.6 and recall["vector"] < 1.0 and recall["hybrid"] > 0.6, recall
