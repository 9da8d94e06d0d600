"""Groups that will change vectors take the vector log's lock up front, after their row locks: two writer
processes' groups then wait for each other instead of deadlocking on it (the log's trigger would otherwise
take it at the group's first vector change, while the group may still have rows to wait for)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest

from memactor import Fact
from memactor.codec import encode
from memactor.model.commands import AddRecords, Batch, Command, DeleteRecord
from memactor.postgres import apply
from memactor.postgres.apply import apply_batch
from memactor.postgres.connect import connect_writer

DIM = 8
LOG_LOCK = "SELECT pg_advisory_xact_lock(hashtext('memactor.vector_log.' || current_schema()))"


def _waiting_for_advisory_locks(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    (count,) = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone() or (0,)
    return int(count)


def _until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60  # a hang detector, not a speed bound
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


@pytest.fixture
def pg_url(pg_both_url: str) -> str:
    # Every test here runs on both vector paths: pgvector's and the readers' own (see tests/postgres/conftest.py).
    return pg_both_url


def _setup(url: str) -> tuple[bytes, Fact, Fact]:
    """An embedder of dimension DIM, a fact with a vector and one without; returns (a vector, them)."""
    vector = np.ones(DIM, dtype="<f4").tobytes()
    with_vector, without = Fact(content="with a vector"), Fact(content="without")
    with connect_writer(url, "full") as conn:
        conn.execute("INSERT INTO memactor_meta VALUES ('embedder_name', 'test'), ('embedder_dim', %s)", (str(DIM),))
        apply_batch(conn, [encode(AddRecords((with_vector,), vectors=(vector,))), encode(AddRecords((without,)))])
    return vector, with_vector, without


@pytest.mark.parametrize("first_change", ["an add with a vector", "a delete of a record with a vector"])
def test_groups_changing_vectors_wait_for_each_other_instead_of_deadlocking(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, first_change: str
) -> None:

    # Without the up-front lock: A changes a vector (taking the log lock), then adds Z, which B has inserted
    # and not committed: A waits for B. B, having inserted Z, stores W's vector: it waits for the log lock,
    # which A holds. PostgreSQL breaks the deadlock by aborting one, and the group would need a rerun.
    monkeypatch.setattr(apply, "RETRIES", 0)  # a deadlock fails the group instead of being rerun
    vector, with_vector, _ = _setup(pg_url)
    shared, v, w = Fact(content="shared"), Fact(content="v"), Fact(content="w")
    change: Command
    result: object
    if first_change == "an add with a vector":
        change, result = AddRecords((v,), vectors=(vector,)), [v.id]
    else:
        change, result = DeleteRecord("fact", with_vector.id), True
    group_a = [encode(Batch((change, AddRecords((shared,)))))]
    group_b = [encode(Batch((AddRecords((shared,)), AddRecords((w,), vectors=(vector,)))))]
    outcomes: dict[str, object] = {}

    def run(name: str, frames: list[bytes]) -> None:
        with connect_writer(pg_url, "full") as conn:
            try:
                outcomes[name] = apply_batch(conn, frames)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                outcomes[name] = exc

    with psycopg.connect(pg_url, autocommit=True) as holder, psycopg.connect(pg_url, autocommit=True) as watcher:
        # The holder keeps the log lock while A, then B, start: both reach the lock's queue in that order.
        holder.execute("BEGIN")
        holder.execute(LOG_LOCK)
        first = threading.Thread(target=run, args=("a", group_a))
        first.start()
        _until(lambda: _waiting_for_advisory_locks(watcher) == 1, "A waits for the log lock")
        second = threading.Thread(target=run, args=("b", group_b))
        second.start()
        _until(lambda: _waiting_for_advisory_locks(watcher) == 2, "B waits for the log lock")
        holder.execute("COMMIT")
        first.join(timeout=120)
        second.join(timeout=120)
    assert outcomes == {"a": [[result, [shared.id]]], "b": [[[shared.id], [w.id]]]}


def test_a_group_that_changes_no_vector_does_not_wait_for_the_log(pg_url: str) -> None:
    # A delete or update of records without vectors, and adds without vectors, leave the log alone.
    _, _, without = _setup(pg_url)
    added = Fact(content="added")
    done: list[object] = []

    def run() -> None:
        with connect_writer(pg_url, "full") as conn:
            done.append(apply_batch(conn, [encode(AddRecords((added,))), encode(DeleteRecord("fact", without.id))]))

    with psycopg.connect(pg_url, autocommit=True) as holder, psycopg.connect(pg_url, autocommit=True) as watcher:
        holder.execute("BEGIN")
        holder.execute(LOG_LOCK)
        thread = threading.Thread(target=run)
        thread.start()
        _until(lambda: done or _waiting_for_advisory_locks(watcher) > 0, "the group ends or waits")
        waiting = _waiting_for_advisory_locks(watcher)
        holder.execute("COMMIT")
        thread.join(timeout=120)
    assert waiting == 0, "a group that changes no vector waited for the vector log's lock"
    assert done == [[[added.id], True]]
