"""What each writer process does in the many-item-writers tests: its own connection, its own group commits.

Run in processes started with ``spawn`` (separate clients of the server, as separate machines would be).
Each returns what it saw, as plain values, for the test to check.
"""

from __future__ import annotations

import random
import time
from typing import Any

from memactor.codec import encode
from memactor.errors import ConflictError
from memactor.model.commands import PutItem
from memactor.model.items import Item
from memactor.model.queries import GetItems
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_reader, connect_writer
from memactor.postgres.read import run_query


def create_once(url: str, keys: list[str], per_batch: int, who: int, barrier: Any) -> list[str]:
    """Put each key with ``expect_version=0`` (create only); return the keys this process created.

    Every process starts its first group once all are connected (``barrier``), so their creates meet.
    """
    created = []
    with connect_writer(url, "normal") as conn:
        barrier.wait()
        for start in range(0, len(keys), per_batch):
            chunk = keys[start : start + per_batch]
            frames = [encode(PutItem(("c",), k, {"who": who}, None, 0, time.time())) for k in chunk]
            outcomes = apply_batch(conn, frames)
            for key, outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, ConflictError):
                    continue
                assert isinstance(outcome, Item), outcome
                created.append(key)
    return created


def increment(url: str, key: str, times: int) -> int:
    """Add one to the item's counter ``times`` times, each by a read and a put at the version read."""
    conflicts = 0
    with connect_writer(url, "normal") as conn, connect_reader(url) as reader:
        done = 0
        while done < times:
            (item,) = run_query(reader, GetItems(((("n",), key),), time.time(), refresh=False))
            put = PutItem(("n",), key, {"count": item.value["count"] + 1}, None, item.version, time.time())
            (outcome,) = apply_batch(conn, [encode(put)])
            if isinstance(outcome, ConflictError):
                conflicts += 1
                continue
            assert isinstance(outcome, Item), outcome
            done += 1
    return conflicts


def put_shuffled(url: str, keys: list[str], rounds: int, who: int, barrier: Any) -> list[tuple[str, int, int]]:
    """Put every key once per round, in a shuffled order, one group per round; return (key, version, round)."""
    rng = random.Random(who)
    results = []
    with connect_writer(url, "normal") as conn:
        barrier.wait()
        for n in range(rounds):
            order = rng.sample(keys, len(keys))
            frames = [encode(PutItem(("s",), k, {"who": who, "round": n}, None, None, time.time())) for k in order]
            for key, outcome in zip(order, apply_batch(conn, frames), strict=True):
                assert isinstance(outcome, Item), outcome
                results.append((key, outcome.version, n))
    return results
