"""The text index: stemming, every text column of every store kept in step on update and delete, each row
indexed exactly once across group commits, and candidate selection when more rows match than it keeps.

Each test closes its memory and runs FTS5's own integrity-check, which compares the index with its table
term by term: a stale entry that search happens to hide (the join drops rows that are gone) still fails it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import memactor
from memactor import Episode, Fact, Skill
from memactor.sqlite.read import CANDIDATES_PER_RESULT
from tests.fts_check import integrity_check

pytestmark = pytest.mark.anyio

TEXT_COLUMNS = {
    "episode": ("task", "steps", "outcome"),
    "fact": ("content",),
    "skill": ("name", "description", "steps", "code"),
}
STORES = {"episode": "episodes", "fact": "facts", "skill": "skills"}
TYPES: dict[str, Callable[..., Any]] = {"episode": Episode, "fact": Fact, "skill": Skill}


@pytest.fixture
async def checked(db_path: Path) -> AsyncIterator[memactor.Memory]:
    """A memory whose text indexes must pass FTS5's integrity-check once it closed."""
    async with memactor.open(db_path, durability="normal") as handle:
        yield handle
    integrity_check(db_path)


def ids(hits: list[memactor.Hit]) -> list[str]:
    return [hit.record.id for hit in hits]


def word(kind: str, column: str, tag: str) -> str:
    # Letters only, distinct per kind, column and version, and left alone by the stemmer.
    return f"zq{kind}{column}{tag}x"


def value(column: str, text: str) -> Any:
    return (text,) if column == "steps" else text


def record_with_words(kind: str, tag: str) -> Any:
    return TYPES[kind](**{column: value(column, word(kind, column, tag)) for column in TEXT_COLUMNS[kind]})


async def found(store: Any, text: str) -> list[str]:
    return ids(await store.search(text, limit=100))


# --- stemming -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "queries"),
    [
        ("deployed the api; the deployment failed", ("deploy", "deployed", "deployment", "deploys", "deploying")),
        ("running the tests", ("run", "runs", "running")),
        ("we met at the café", ("cafe", "café", "CAFÉ", "Cafe")),
        ("the cafe was closed", ("café",)),
        ("health checks timed out", ("health check", "timeout time", "checking")),
    ],
)
async def test_search_finds_other_forms_of_a_word(
    checked: memactor.Memory, stored: str, queries: tuple[str, ...]
) -> None:
    fid = await checked.facts.add(Fact(content=stored))
    await checked.facts.add(Fact(content="something else entirely"))
    for query in queries:
        assert await found(checked.facts, query) == [fid], query


async def test_stemming_does_not_merge_unrelated_words(checked: memactor.Memory) -> None:
    await checked.facts.add(Fact(content="the deployment failed"))
    for query in ("deep", "employ", "ment"):
        assert await found(checked.facts, query) == [], query


# --- every text column, update and delete -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TEXT_COLUMNS))
@pytest.mark.parametrize("same_commit", [False, True], ids=["later-commit", "same-commit"])
async def test_updating_each_text_column_reindexes_exactly_it(
    checked: memactor.Memory, kind: str, same_commit: bool
) -> None:
    """An update of one column: its old words vanish, its new ones are found, the other columns stay found."""
    store = getattr(checked, STORES[kind])
    for column in TEXT_COLUMNS[kind]:
        record = record_with_words(kind, f"{column}a")
        changes = {column: value(column, word(kind, column, "b"))}
        if same_commit:
            # Added and updated in one group commit: the row is indexed once, with its final text.
            async with checked.batch() as b:
                getattr(b, STORES[kind]).add(record)
                getattr(b, STORES[kind]).update(record.id, **changes)
        else:
            await store.add(record)
            await store.update(record.id, **changes)
        for other in TEXT_COLUMNS[kind]:
            old = word(kind, other, f"{column}a")
            assert await found(store, old) == ([] if other == column else [record.id]), (column, other)
        assert await found(store, word(kind, column, "b")) == [record.id], column
        # A second update of the same column, now certainly in a later commit.
        await store.update(record.id, **{column: value(column, word(kind, column, "c"))})
        assert await found(store, word(kind, column, "b")) == []
        assert await found(store, word(kind, column, "c")) == [record.id]
        await store.delete(record.id)
        assert await found(store, word(kind, column, "c")) == []
        for other in TEXT_COLUMNS[kind]:
            assert await found(store, word(kind, other, f"{column}a")) == []


@pytest.mark.parametrize("kind", sorted(TEXT_COLUMNS))
async def test_deleting_the_newest_and_oldest_rows_leaves_no_entry(checked: memactor.Memory, kind: str) -> None:
    store = getattr(checked, STORES[kind])
    records = [record_with_words(kind, tag) for tag in ("p", "q", "r")]
    for record in records:
        await store.add(record)  # one commit each: the last is the newest row indexed
    for record in (records[2], records[0], records[1]):
        await store.delete(record.id)
        for column in TEXT_COLUMNS[kind]:
            tag = "pqr"[records.index(record)]
            assert await found(store, word(kind, column, tag)) == []


async def test_each_row_is_indexed_once_across_group_commits(checked: memactor.Memory) -> None:
    added = []
    for n in range(5):  # one commit each, then a bulk commit
        added.append(await checked.episodes.add(Episode(task=f"shared word {n}")))
    added += await checked.episodes.add_many([Episode(task=f"shared word bulk {n}") for n in range(5)])
    added.append(await checked.episodes.add(Episode(task="shared word last")))
    hits = await found(checked.episodes, "shared")
    assert sorted(hits) == sorted(added), "a row found twice or missed"


# --- candidate selection ------------------------------------------------------------------------------------


async def test_the_best_matches_win_when_more_rows_match_than_the_candidate_window(checked: memactor.Memory) -> None:
    limit = 2
    window = limit * CANDIDATES_PER_RESULT
    strong = [await checked.facts.add(Fact(content="needle needle needle")) for _ in range(limit)]
    await checked.facts.add_many(
        [Fact(content=f"needle in a long haystack of words {n} " * 3) for n in range(3 * window)]
    )
    assert sorted(await found(checked.facts, "needle")) != []  # sanity: many match
    hits = await checked.facts.search("needle", limit=limit)
    assert sorted(ids(hits)) == sorted(strong)


async def test_filters_apply_before_the_candidate_window(checked: memactor.Memory) -> None:
    """Rows a filter excludes must not fill the window: the best rows of the filtered set still win."""
    limit = 2
    window = limit * CANDIDATES_PER_RESULT
    await checked.facts.add_many([Fact(content="needle needle needle", namespace="a") for _ in range(3 * window)])
    medium = [await checked.facts.add(Fact(content="needle needle and more", namespace="b")) for _ in range(limit)]
    await checked.facts.add_many(
        [Fact(content=f"needle in a long haystack of words {n} " * 3, namespace="b") for n in range(3 * window)]
    )
    hits = await checked.facts.search("needle", limit=limit, namespace="b")
    assert sorted(ids(hits)) == sorted(medium)
    assert all(hit.record.namespace == "b" for hit in await checked.facts.search("needle", limit=100, namespace="b"))
