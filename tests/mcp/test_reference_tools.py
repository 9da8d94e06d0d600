"""The reference profile in process: concurrent clients lose nothing, one entity per name, and file imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import Client

from memactor.errors import InvalidInputError
from memactor.mcp.graph import GraphStore
from memactor.mcp.graphfile import import_graph, read_graph_file
from memactor.mcp.reference import build_reference_server

from .conftest import NAMESPACE

pytestmark = pytest.mark.anyio

CLIENTS = 8
WRITES = 25


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def test_concurrent_clients_lose_no_entity_and_no_observation(handle: Any) -> None:
    graph = {"entities": [{"name": "shared", "entityType": "log", "observations": []}]}
    async with Client(build_reference_server(handle, namespace=NAMESPACE)) as setup:
        await call(setup, "create_entities", graph)

    async def client(number: int) -> None:
        async with Client(build_reference_server(handle, namespace=NAMESPACE)) as mine:
            for write in range(WRITES):
                entity = {"name": f"c{number}-{write}", "entityType": "t", "observations": [f"o{write}"]}
                await call(mine, "create_entities", {"entities": [entity]})
                addition = {"entityName": "shared", "contents": [f"c{number}-{write}"]}
                await call(mine, "add_observations", {"observations": [addition]})

    async with anyio.create_task_group() as group:
        for number in range(CLIENTS):
            group.start_soon(client, number)
    async with Client(build_reference_server(handle, namespace=NAMESPACE)) as reader:
        final = await call(reader, "read_graph", {})
    names = {entity["name"] for entity in final["entities"]}
    wanted = {f"c{n}-{w}" for n in range(CLIENTS) for w in range(WRITES)}
    assert names == wanted | {"shared"}
    (shared,) = [entity for entity in final["entities"] if entity["name"] == "shared"]
    assert sorted(shared["observations"]) == sorted(wanted), f"lost: {sorted(wanted - set(shared['observations']))}"


async def test_clients_creating_one_name_at_once_make_one_entity_and_one_says_so(handle: Any) -> None:
    created: list[dict[str, Any]] = []

    async def client(number: int) -> None:
        entity = {"name": "common", "entityType": "t", "observations": [f"by c{number}"]}
        async with Client(build_reference_server(handle, namespace=NAMESPACE)) as mine:
            created.extend((await call(mine, "create_entities", {"entities": [entity]}))["entities"])

    async with anyio.create_task_group() as group:
        for number in range(CLIENTS):
            group.start_soon(client, number)
    assert len(created) == 1, created
    assert await GraphStore(handle, NAMESPACE).read() == (created, [])


async def test_a_name_given_twice_in_one_call_is_one_entity(handle: Any) -> None:
    # Where memactor differs from the reference server on purpose: it stores both, and later sees the first.
    twice = [
        {"name": "x", "entityType": "first", "observations": ["a"]},
        {"name": "x", "entityType": "second", "observations": []},
    ]
    relation = {"from": "x", "to": "y", "relationType": "r"}
    async with Client(build_reference_server(handle, namespace=NAMESPACE)) as client:
        assert (await call(client, "create_entities", {"entities": twice}))["entities"] == twice[:1]
        assert (await call(client, "create_relations", {"relations": [relation, relation]}))["relations"] == [relation]
        assert await call(client, "read_graph", {}) == {"entities": twice[:1], "relations": [relation]}


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines))
    return path


async def test_a_malformed_line_stops_the_import_with_its_number_and_writes_nothing(
    handle: Any, tmp_path: Path
) -> None:
    good = {"type": "entity", "name": "kept out", "entityType": "t", "observations": []}
    cases = [
        ("{not json", "line 3: not JSON"),
        (
            {"type": "entity", "name": "n", "entityType": "t", "observations": "one"},
            'line 3: entity field "observations"',
        ),
        ({"type": "relation", "from": "a", "to": 1, "relationType": "r"}, 'line 3: relation field "to"'),
        ({"type": "node", "name": "n"}, 'line 3: "type" must be "entity" or "relation"'),
        ([1, 2], "line 3: expected a JSON object"),
    ]
    for bad, message in cases:
        path = _write(tmp_path / "memory.jsonl", [good, "", bad])
        with pytest.raises(InvalidInputError, match=message):
            read_graph_file(path)
    graph = GraphStore(handle, NAMESPACE)
    assert await graph.read() == ([], [])


async def test_an_import_merges_and_a_second_import_changes_nothing(handle: Any, tmp_path: Path) -> None:
    entity = {"type": "entity", "name": "e", "entityType": "t", "observations": ["one", "two"]}
    repeated = {**entity, "entityType": "other", "observations": ["three"]}
    relation = {"type": "relation", "from": "e", "to": "f", "relationType": "r"}
    source = read_graph_file(_write(tmp_path / "memory.jsonl", [entity, relation, repeated, relation]))
    assert source.duplicates == 2
    graph = GraphStore(handle, NAMESPACE)
    await graph.create_entities([{"name": "e", "entityType": "mine", "observations": ["two", "zero"]}])
    first = await import_graph(graph, source)
    assert (first.created, first.updated, first.relations_created) == (0, 1, 1)
    expected = (
        [{"name": "e", "entityType": "mine", "observations": ["two", "zero", "one"]}],
        [relation_view(relation)],
    )
    assert await graph.read() == expected
    again = await import_graph(graph, source)
    assert (again.created, again.updated, again.relations_created) == (0, 0, 0)
    assert await graph.read() == expected


def relation_view(record: dict[str, str]) -> dict[str, str]:
    return {key: record[key] for key in ("from", "to", "relationType")}
