"""Several writer processes putting the same items at once on one PostgreSQL database.

Every process runs its own group commits; what must hold across them is kept by the database: a create
(``expect_version=0``) is won by one process, a put at a version read loses no other put, and concurrent
puts of one key are applied one after another (the last one stored wins, none lost, no duplicate row).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg
import pytest

from memactor.codec import encode
from memactor.model.commands import PutItem
from memactor.model.queries import GetItems, SearchItems
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_reader, connect_writer
from memactor.postgres.read import run_query
from tests.postgres import item_writers

PROCESSES = 4
Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


@pytest.fixture
def barrier() -> Iterator[Any]:
    # A start line for the writer processes (spawned ones start seconds apart, and would not meet).
    with multiprocessing.get_context("spawn").Manager() as manager:
        yield manager.Barrier(PROCESSES)


@pytest.fixture
def reader(pg_url: str) -> Iterator[Conn]:
    with connect_writer(pg_url, "normal"):  # migrates the fresh schema
        pass
    with connect_reader(pg_url) as conn:
        yield conn


def test_each_create_is_won_by_exactly_one_process(
    pg_url: str, pool: ProcessPoolExecutor, barrier: Any, reader: Conn
) -> None:
    keys = [f"k{i}" for i in range(200)]
    futures = [pool.submit(item_writers.create_once, pg_url, keys, 4, who, barrier) for who in range(PROCESSES)]
    won = {who: f.result(timeout=300) for who, f in enumerate(futures)}
    assert sorted(k for keys_won in won.values() for k in keys_won) == sorted(keys)
    stored = run_query(reader, SearchItems(("c",), None, None, 1000, 0, 0.0))
    assert all(item.version == 1 for item in stored) and len(stored) == len(keys)
    assert {item.key: item.value["who"] for item in stored} == {k: who for who, ks in won.items() for k in ks}


def test_puts_at_the_version_read_lose_no_increment(pg_url: str, pool: ProcessPoolExecutor, reader: Conn) -> None:
    with connect_writer(pg_url, "normal") as writer:
        apply_batch(writer, [encode(PutItem(("n",), "counter", {"count": 0}, None, 0, 1.0))])
    times = 25
    futures = [pool.submit(item_writers.increment, pg_url, "counter", times) for _ in range(PROCESSES)]
    for future in futures:
        future.result(timeout=300)
    (item,) = run_query(reader, GetItems(((("n",), "counter"),), 2.0, refresh=False))
    assert item.value["count"] == PROCESSES * times and item.version == 1 + PROCESSES * times


def test_concurrent_puts_of_the_same_keys_are_all_applied_and_the_last_wins(
    pg_url: str, pool: ProcessPoolExecutor, barrier: Any, reader: Conn
) -> None:
    keys = [f"k{i}" for i in range(12)]
    rounds = 15
    futures = [pool.submit(item_writers.put_shuffled, pg_url, keys, rounds, who, barrier) for who in range(PROCESSES)]
    results = {who: f.result(timeout=300) for who, f in enumerate(futures)}
    stored = {item.key: item for item in run_query(reader, SearchItems(("s",), None, None, 1000, 0, 0.0))}
    assert sorted(stored) == sorted(keys)
    for key in keys:
        versions = sorted(v for rs in results.values() for k, v, _ in rs if k == key)
        # Every put was applied once, one after another: versions 1..N, each given out once.
        assert versions == list(range(1, PROCESSES * rounds + 1))
        # The stored value is the put that got the last version.
        (last,) = [(who, n) for who, rs in results.items() for k, v, n in rs if k == key and v == versions[-1]]
        assert (stored[key].value["who"], stored[key].value["round"]) == last
        assert stored[key].version == versions[-1]
    count = reader.execute("SELECT count(*), count(DISTINCT (path, key)) FROM items").fetchone()
    assert count == (len(keys), len(keys))
