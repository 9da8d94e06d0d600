"""Deterministic synthetic episodes (~500 bytes each) and the search terms that find them.

Every system receives the same episodes, generated from a seed, so the work per operation is identical
across systems and rounds. Words come from a made-up vocabulary with a skewed (Zipf-like) frequency, so FTS
posting lists look like real text: a few very common terms, a long tail of rare ones.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AGENT_POOL", "EpisodeData", "Generator", "agent_name"]

# Agents that own the preloaded episodes; reads by agent k go to agent k % AGENT_POOL.
AGENT_POOL = 256
_BASE_TIME = 1_700_000_000.0
_SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "da", "ve", "zu", "ho", "gi", "be", "fa", "ru")


def agent_name(index: int) -> str:
    """Return the agent id used for agent number ``index``."""
    return f"agent-{index % AGENT_POOL:03d}"


@dataclass(frozen=True, slots=True)
class EpisodeData:
    """One episode as plain data; each system maps it to its own representation."""

    id: str
    agent_id: str
    task: str
    steps: tuple[str, ...]
    outcome: str
    success: bool
    reward: float
    importance: float
    created_at: float
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the episode as a JSON-compatible dict (the value peers without a schema store)."""
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "task": self.task,
            "steps": list(self.steps),
            "outcome": self.outcome,
            "success": self.success,
            "reward": self.reward,
            "importance": self.importance,
            "created_at": self.created_at,
            "tags": list(self.tags),
            "metadata": self.metadata,
        }

    def as_row(self) -> tuple[Any, ...]:
        """Return the episode as a row for `bench.schema.INSERT_EPISODE` (memactor's column encoding)."""
        return (
            self.id,
            "default",
            self.agent_id,
            _dumps(list(self.tags)),
            _dumps(self.metadata),
            self.created_at,
            self.created_at,
            1,
            self.task,
            _dumps(list(self.steps)),
            self.outcome,
            int(self.success),
            self.reward,
            self.importance,
        )


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Generator:
    """Makes episodes and queries from a seed; the n-th episode of a seed is always the same."""

    def __init__(self, seed: int = 7, vocabulary: int = 4000) -> None:
        """Build the vocabulary.

        Args:
            seed: Seed of every random choice.
            vocabulary: How many distinct words the text uses.
        """
        rng = random.Random(seed)
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
        self.words = sorted(words)
        rng.shuffle(self.words)  # so a word's rank has nothing to do with its spelling
        # Zipf-like weights: the word of rank r is drawn with weight 1/r; cumulative once, not per draw.
        self._cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(self.words))))
        self._seed = seed

    def _phrase(self, rng: random.Random, low: int, high: int) -> str:
        return " ".join(rng.choices(self.words, cum_weights=self._cumulative, k=rng.randint(low, high)))

    def episode(self, n: int, agent: int | None = None, prefix: str = "0") -> EpisodeData:
        """Return episode number ``n`` (about 500 bytes of text).

        Args:
            n: Its sequence number; also orders ids and creation times.
            agent: Its agent number, or None to spread episodes over `AGENT_POOL` agents.
            prefix: Distinguishes episodes made for different runs so their ids never collide.
        """
        rng = random.Random(self._seed * 1_000_003 + n)
        created = _BASE_TIME + n * 0.001
        return EpisodeData(
            id=f"{prefix}{n:015x}{rng.getrandbits(64):016x}",
            agent_id=agent_name(n if agent is None else agent),
            task=self._phrase(rng, 4, 8),
            steps=tuple(self._phrase(rng, 4, 7) for _ in range(rng.randint(3, 5))),
            outcome=self._phrase(rng, 6, 12),
            success=rng.random() < 0.7,
            reward=round(rng.random(), 3),
            importance=round(rng.random(), 3),
            created_at=created,
            tags=(rng.choice(("deploy", "test", "review", "plan")),),
            metadata={"run": n % 97},
        )

    def episodes(self, start: int, count: int, prefix: str = "0") -> list[EpisodeData]:
        """Return episodes ``start .. start+count-1`` spread over the agent pool."""
        return [self.episode(n, prefix=prefix) for n in range(start, start + count)]

    def query(self, n: int) -> str:
        """Return search text number ``n``: two words of frequency ranks 200..1999.

        Each such word is in roughly 0.3% to 3% of episodes: specific enough to be a search, common enough
        that ranking has real work to do.
        """
        rng = random.Random(self._seed * 7_919 + n)
        return " ".join(self.words[rng.randrange(200, 2000)] for _ in range(2))
