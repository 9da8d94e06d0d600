"""Several writer processes on one PostgreSQL database at once: what must hold across them holds.

On SQLite one process writes a file; on PostgreSQL every process (every machine) runs its own writer actor
against the same database, so no lost ``record_use``, unique skill names, idempotent adds and optimistic
versions must be kept by the database itself. Each writer here is a process of its own (``spawn``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg
import pytest

from memactor import Episode, Fact, Skill
from memactor.codec import encode
from memactor.model.commands import AddRecords
from memactor.model.filters import Filters
from memactor.model.queries import Count, Get
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_reader, connect_writer
from memactor.postgres.read import run_query
from tests.postgres import writers

PROCESSES = 4
Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


@pytest.fixture
def conns(pg_url: str) -> Iterator[tuple[Conn, Conn]]:
    with connect_writer(pg_url, "full") as writer, connect_reader(pg_url) as reader:
        yield writer, reader


def test_no_record_use_is_lost(pg_url: str, pool: ProcessPoolExecutor, conns: tuple[Conn, Conn]) -> None:
    writer, reader = conns
    skills = [Skill(name="a"), Skill(name="b"), Skill(name="c")]
    apply_batch(writer, [encode(AddRecords(tuple(skills)))])
    ids = [s.id for s in skills]
    batches, per_batch = 30, 20
    futures = [pool.submit(writers.use_skills, pg_url, ids, batches, per_batch, seed) for seed in range(PROCESSES)]
    successes = sum(f.result(timeout=300) for f in futures)
    stored = run_query(reader, Get("skill", tuple(ids)))
    assert sum(s.uses for s in stored) == PROCESSES * batches * per_batch
    assert sum(s.successes for s in stored) == successes
    assert all(s.version == 1 + s.uses for s in stored)


def test_each_skill_name_is_won_by_exactly_one_process(
    pg_url: str, pool: ProcessPoolExecutor, conns: tuple[Conn, Conn]
) -> None:
    _, reader = conns
    names = [f"skill-{i}" for i in range(60)]
    futures = [pool.submit(writers.add_named_skills, pg_url, names, 12) for _ in range(PROCESSES)]
    won = [name for f in futures for name in f.result(timeout=300)]
    assert sorted(won) == sorted(names)
    assert run_query(reader, Count("skill", Filters())) == len(names)


def test_the_same_adds_from_every_process_store_each_record_once(
    pg_url: str, pool: ProcessPoolExecutor, conns: tuple[Conn, Conn]
) -> None:
    _, reader = conns
    records = [Episode(task=f"task {i}") if i % 2 else Fact(content=f"fact {i}") for i in range(80)]
    frames = [encode(AddRecords((record,))) for record in records]
    futures = [pool.submit(writers.add_same_records, pg_url, frames, 16) for _ in range(PROCESSES)]
    for future in futures:
        assert future.result(timeout=300) == [[record.id] for record in records]
    assert run_query(reader, Count("episode", Filters())) + run_query(reader, Count("fact", Filters())) == 80


def test_optimistic_updates_from_every_process_lose_nothing(
    pg_url: str, pool: ProcessPoolExecutor, conns: tuple[Conn, Conn]
) -> None:
    writer, reader = conns
    skill = Skill(name="counter", metadata={"n": 0})
    apply_batch(writer, [encode(AddRecords((skill,)))])
    times = 25
    futures = [pool.submit(writers.bump_counter, pg_url, skill.id, times) for _ in range(PROCESSES)]
    conflicts = sum(f.result(timeout=300) for f in futures)
    (stored,) = run_query(reader, Get("skill", (skill.id,)))
    assert stored.metadata["n"] == PROCESSES * times
    assert stored.version == 1 + PROCESSES * times
    assert conflicts > 0, "the writers never raced: the test did not exercise the version check"


def test_writer_actors_of_several_processes_lose_no_use(pg_url: str, pool: ProcessPoolExecutor) -> None:
    # The same, through `memactor.open`: each process runs a writer actor whose group commits mix many
    # agents' record_use and adds.
    with connect_writer(pg_url, "full") as writer, connect_reader(pg_url) as reader:
        skills = [Skill(name="x"), Skill(name="y")]
        apply_batch(writer, [encode(AddRecords(tuple(skills)))])
        ids = [s.id for s in skills]
        agents, uses = 16, 10
        futures = [pool.submit(writers.agents_through_handles, pg_url, ids, agents, uses) for _ in range(PROCESSES)]
        added = [record_id for f in futures for record_id in f.result(timeout=300)]
        assert len(set(added)) == PROCESSES * agents * uses
        assert run_query(reader, Count("episode", Filters())) == len(added)
        stored = run_query(reader, Get("skill", tuple(ids)))
        assert [s.uses for s in stored] == [PROCESSES * agents * uses] * 2
        assert [s.successes for s in stored] == [PROCESSES * agents * uses // 2] * 2
