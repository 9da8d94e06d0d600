"""``memactor import-graph``: load the JSONL file of the reference MCP memory server into a memory's graph.

The file has one JSON object per line: ``{"type": "entity", "name", "entityType", "observations"}`` or
``{"type": "relation", "from", "to", "relationType"}``; blank lines are skipped. The whole file is read and
checked before anything is written, so a malformed line stops the import with its line number and writes
nothing. Then it is written in batches through the writer, each atomic (`memactor.mcp.graph`): entities
merge (absent ones are created, present ones gain the observations they lack), relations are created if
absent. Importing a file again changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..errors import InvalidInputError, MemactorError
from ..net.autostart import connect_or_start
from ..net.client import connect
from .command import NAMESPACE_ENV, default_path
from .graph import GraphStore

__all__ = ["BATCH", "GraphFile", "Imported", "import_command", "import_graph", "read_graph_file"]

# Entities or relations per atomic batch: large enough that a big file is few commits, small enough that one
# batch never nears the writer's frame and value limits.
BATCH = 500

_FIELDS = {"entity": ("name", "entityType", "observations"), "relation": ("from", "to", "relationType")}


@dataclass(frozen=True)
class GraphFile:
    """What a file holds, in its order, each name and each relation once (the first of each).

    Attributes:
        duplicates: Entities and relations left out because an earlier line had the same name (relation).
            The reference server writes a name given twice in one call twice, and then changes only the
            first: so is the first the one kept.
    """

    entities: list[dict[str, Any]]
    relations: list[dict[str, str]]
    duplicates: int = 0


@dataclass(frozen=True)
class Imported:
    """What an import changed."""

    entities: int
    created: int
    updated: int
    relations: int
    relations_created: int


def _record(number: int, line: str) -> Mapping[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(f"line {number}: not JSON ({exc}); fix or remove that line") from None
    if not isinstance(record, dict):
        raise InvalidInputError(f"line {number}: expected a JSON object, not {type(record).__name__}")
    kind = record.get("type")
    if kind not in _FIELDS:
        raise InvalidInputError(f'line {number}: "type" must be "entity" or "relation", not {str(kind)[:40]!r}')
    for field in _FIELDS[kind]:
        value = record.get(field)
        valid = (
            isinstance(value, list) and all(isinstance(o, str) for o in value)
            if field == "observations"
            else isinstance(value, str)
        )
        if not valid:
            wanted = "a list of strings" if field == "observations" else "a string"
            raise InvalidInputError(f'line {number}: {kind} field "{field}" must be {wanted}')
    return record


def read_graph_file(path: Path) -> GraphFile:
    """Read and check a reference server's JSONL file.

    Raises:
        InvalidInputError: a line is not a JSON object with the fields of an entity or a relation
            (the message names the line).
        OSError: the file cannot be read.
    """
    kept: dict[str, dict[Any, dict[str, Any]]] = {"entity": {}, "relation": {}}
    duplicates = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _record(number, line)
            kind = record["type"]
            fields = _FIELDS[kind]
            identity = record["name"] if kind == "entity" else tuple(record[field] for field in fields)
            if identity in kept[kind]:
                duplicates += 1
                continue
            kept[kind][identity] = {field: record[field] for field in fields}
    return GraphFile(list(kept["entity"].values()), list(kept["relation"].values()), duplicates)


async def import_graph(graph: GraphStore, source: GraphFile) -> Imported:
    """Write ``source`` into ``graph``, entities first, in atomic batches of `BATCH`.

    Raises:
        MemactorError: a batch failed (batches before it are written; importing again completes it).
    """
    created = updated = relations_created = 0
    for start in range(0, len(source.entities), BATCH):
        new, changed = await graph.merge_entities(source.entities[start : start + BATCH])
        created, updated = created + new, updated + changed
    for start in range(0, len(source.relations), BATCH):
        relations_created += len(await graph.create_relations(source.relations[start : start + BATCH]))
    return Imported(len(source.entities), created, updated, len(source.relations), relations_created)


async def _import(args: argparse.Namespace, source: GraphFile) -> tuple[Imported, str]:
    namespace = args.namespace or os.environ.get(NAMESPACE_ENV) or "default"
    if args.url is not None:
        async with connect(args.url) as remote:
            return await import_graph(GraphStore(remote, namespace), source), f"{args.url} (namespace {namespace})"
    path = Path(args.path) if args.path is not None else default_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Through the file's one server, started on demand, as `memactor mcp` does: it may be serving right now.
    async with await connect_or_start(path) as remote:
        return await import_graph(GraphStore(remote, namespace), source), f"{path} (namespace {namespace})"


def import_command(args: argparse.Namespace) -> int:
    """Run ``memactor import-graph`` from parsed arguments; returns the exit status."""
    try:
        source = read_graph_file(Path(args.file))
        done, where = anyio.run(_import, args, source, backend="asyncio")
    except (MemactorError, OSError) as exc:
        print(f"memactor import-graph: {args.file}: {exc}", file=sys.stderr)
        return 1
    print(
        f"imported {done.entities} entities ({done.created} new, {done.updated} with new observations) and "
        f"{done.relations} relations ({done.relations_created} new) into {where}"
        + (
            f"; {source.duplicates} repeated entities or relations left out (the first of each kept)"
            if source.duplicates
            else ""
        )
    )
    return 0
