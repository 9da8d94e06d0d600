"""``memactor stats``: counts per store and namespace, last writes, and for a file its sizes and schema."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .target import Handle, existing_file
from .walk import item_pages, record_pages

__all__ = ["Stats", "collect", "file_facts", "render"]

STORES = ("episode", "fact", "skill", "item")


@dataclass
class Stats:
    """What `collect` found: ``counts[store][namespace]``, ``last_write[store]`` (newest ``created_at``)."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: {store: Counter() for store in STORES})
    last_write: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(STORES))
    file: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The stats as plain JSON values (what ``--json`` prints)."""
        return {
            "stores": {
                store: {
                    "total": sum(self.counts[store].values()),
                    "namespaces": dict(sorted(self.counts[store].items())),
                    "last_write": self.last_write[store],
                }
                for store in STORES
            },
            **self.file,
        }


def _newest(old: float | None, new: float) -> float:
    return new if old is None or new > old else old


async def collect(handle: Handle) -> Stats:
    """Count every record and item through the store API (streamed: memory stays bounded)."""
    stats = Stats()
    async for records in record_pages(handle):
        kind = records[0].KIND
        stats.counts[kind].update(record.namespace for record in records)
        stats.last_write[kind] = _newest(stats.last_write[kind], max(r.created_at or 0.0 for r in records))
    async for items in item_pages(handle):
        stats.counts["item"].update(".".join(item.namespace) for item in items)
        stats.last_write["item"] = _newest(stats.last_write["item"], max(i.created_at for i in items))
    return stats


def file_facts(path: str) -> dict[str, Any]:
    """The file's size, its WAL's size and its schema version (read through a read-only connection)."""
    file = existing_file(path)
    wal = Path(f"{file}-wal")
    conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return {
        "path": str(file),
        "file_bytes": file.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "schema_version": version,
    }


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def render(stats: Stats, as_json: bool) -> str:
    """The stats as a table for people, or as one JSON object for scripts."""
    if as_json:
        return json.dumps(stats.as_json(), indent=2)
    rows = [("store", "namespace", "count", "last write")]
    for store in STORES:
        counts = stats.counts[store]
        rows.append((store, "(all)", str(sum(counts.values())), _when(stats.last_write[store])))
        rows.extend((store, namespace, str(n), "") for namespace, n in sorted(counts.items()))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.extend(f"{name}: {value}" for name, value in stats.file.items())
    return "\n".join(lines)
