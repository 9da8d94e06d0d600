"""Memory files for `memactor bench recall`: the labelled set (or a slice, or padded) loaded through memactor.

Records are added with their set ids as memactor ids, so a hit names its record directly. Every record keeps
the default importance, confidence and use counts, and all are added within seconds, so the score's parts
other than relevance are the same for all of them: rankings are retrieval alone.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import memactor
from memactor import Episode, Fact, Skill
from memactor.embed import Embedder
from memactor.sqlite.schema import TABLES
from memactor.sqlite.textindex import index_sql

from .recall_data import DATA_DIR, padding

__all__ = ["UNSTEMMED", "LabelledSet", "build", "load_set", "padded", "to_record", "unstemmed_copy"]

# The tokenizer before stemming: SQLite's default, with diacritics removed as in the stemming one.
UNSTEMMED = "unicode61 remove_diacritics 2"
_CHUNK = 2_000


@dataclass(frozen=True)
class LabelledSet:
    """Records (JSON objects as written by `bench.recall_data`) and queries."""

    records: list[dict[str, Any]]
    queries: list[dict[str, Any]]


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def load_set(directory: Path = DATA_DIR, slice_queries: int | None = None) -> LabelledSet:
    """Read the committed set; with ``slice_queries`` N, the first N queries, their relevant records and the
    first 10 x N other records."""
    records, queries = _read(directory / "records.jsonl"), _read(directory / "queries.jsonl")
    if slice_queries is None:
        return LabelledSet(records, queries)
    queries = queries[:slice_queries]
    wanted = {rid for q in queries for rid in q["relevant"]}
    others = [r for r in records if r["id"] not in wanted][: 10 * slice_queries]
    keep = wanted | {r["id"] for r in others}
    return LabelledSet([r for r in records if r["id"] in keep], queries)


def to_record(line: dict[str, Any]) -> Fact | Episode | Skill:
    """The memactor record a JSON line of the set describes, with the line's id as its id."""
    kind, fields = line["kind"], line["fields"]
    if kind == "fact":
        return Fact(id=line["id"], **fields)
    if kind == "episode":
        return Episode(id=line["id"], **fields)
    return Skill(id=line["id"], **fields)


async def build(path: Path, lines: Iterable[dict[str, Any]], embedder: Embedder | None, progress: Any = None) -> int:
    """Create a memory file at ``path`` holding ``lines``; returns how many records it holds."""
    count = 0
    async with memactor.open(path, embedder=embedder, durability="normal") as mem:
        stores = {"fact": mem.facts, "episode": mem.episodes, "skill": mem.skills}
        batch: dict[str, list[Any]] = {kind: [] for kind in stores}
        for line in lines:
            batch[line["kind"]].append(to_record(line))
            count += 1
            if count % _CHUNK == 0:
                await _flush(stores, batch, progress)
        await _flush(stores, batch, progress)
    return count


async def _flush(stores: dict[str, Any], batch: dict[str, list[Any]], progress: Any) -> None:
    for kind, records in batch.items():
        if records:
            await stores[kind].add_many(records)
            if progress is not None:
                progress.update(len(records))
            records.clear()


def padded(labelled: Sequence[dict[str, Any]], total: int) -> Iterable[dict[str, Any]]:
    """The labelled records, then generated distractors up to ``total`` records."""
    yield from labelled
    for row in padding(max(0, total - len(labelled))):
        yield row.line()


def unstemmed_copy(source: Path, target: Path) -> None:
    """Copy the memory file at ``source`` to ``target`` with every text index rebuilt without stemming."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for table in TABLES.values():
            index = f"{table.name}_fts"
            conn.execute(f"DROP TABLE {index}")
            for statement in index_sql(table.name, table.text_columns, index, UNSTEMMED).split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
        conn.execute("COMMIT")
    finally:
        conn.close()
