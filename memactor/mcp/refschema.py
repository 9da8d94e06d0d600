"""What the reference MCP memory server publishes of its tools: titles, descriptions, hints and JSON schemas.

Copied from ``@modelcontextprotocol/server-memory`` as its ``tools/list`` shows them (draft-07 schemas that
its zod definitions produce), so a client sees the same tools whichever of the two servers it runs. The
differential test compares this with the real package's listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["REFERENCE_TOOLS", "ReferenceTool"]

_DRAFT = "http://json-schema.org/draft-07/schema#"
_STRING = {"type": "string"}


def _object(properties: dict[str, Any], *, closed: bool) -> dict[str, Any]:
    # zod publishes inputs open (unknown keys are stripped) and outputs closed.
    shape: dict[str, Any] = {"type": "object", "properties": properties, "required": list(properties)}
    if not properties:
        shape.pop("required")
    if closed:
        shape["additionalProperties"] = False
    return shape


def _array(items: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {"type": "array", "items": items}
    if description is not None:
        shape["description"] = description
    return shape


def _described(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _entity(*, closed: bool) -> dict[str, Any]:
    return _object(
        {
            "name": _described("The name of the entity"),
            "entityType": _described("The type of the entity"),
            "observations": _array(_STRING, "An array of observation contents associated with the entity"),
        },
        closed=closed,
    )


def _relation(*, closed: bool) -> dict[str, Any]:
    return _object(
        {
            "from": _described("The name of the entity where the relation starts"),
            "to": _described("The name of the entity where the relation ends"),
            "relationType": _described("The type of the relation"),
        },
        closed=closed,
    )


def _schema(properties: dict[str, Any], *, closed: bool) -> dict[str, Any]:
    return {"$schema": _DRAFT, **_object(properties, closed=closed)}


def _graph_output() -> dict[str, Any]:
    return _schema({"entities": _array(_entity(closed=True)), "relations": _array(_relation(closed=True))}, closed=True)


def _status_output() -> dict[str, Any]:
    return _schema({"success": {"type": "boolean"}, "message": _STRING}, closed=True)


@dataclass(frozen=True)
class ReferenceTool:
    """One tool as the reference server lists it."""

    title: str
    description: str
    writes: bool
    destructive: bool
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


REFERENCE_TOOLS: dict[str, ReferenceTool] = {
    "create_entities": ReferenceTool(
        "Create Entities",
        "Create multiple new entities in the knowledge graph",
        True,
        False,
        _schema({"entities": _array(_entity(closed=False))}, closed=False),
        _schema({"entities": _array(_entity(closed=True))}, closed=True),
    ),
    "create_relations": ReferenceTool(
        "Create Relations",
        "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice",
        True,
        False,
        _schema({"relations": _array(_relation(closed=False))}, closed=False),
        _schema({"relations": _array(_relation(closed=True))}, closed=True),
    ),
    "add_observations": ReferenceTool(
        "Add Observations",
        "Add new observations to existing entities in the knowledge graph",
        True,
        False,
        _schema(
            {
                "observations": _array(
                    _object(
                        {
                            "entityName": _described("The name of the entity to add the observations to"),
                            "contents": _array(_STRING, "An array of observation contents to add"),
                        },
                        closed=False,
                    )
                )
            },
            closed=False,
        ),
        _schema(
            {"results": _array(_object({"entityName": _STRING, "addedObservations": _array(_STRING)}, closed=True))},
            closed=True,
        ),
    ),
    "delete_entities": ReferenceTool(
        "Delete Entities",
        "Delete multiple entities and their associated relations from the knowledge graph",
        True,
        True,
        _schema({"entityNames": _array(_STRING, "An array of entity names to delete")}, closed=False),
        _status_output(),
    ),
    "delete_observations": ReferenceTool(
        "Delete Observations",
        "Delete specific observations from entities in the knowledge graph",
        True,
        True,
        _schema(
            {
                "deletions": _array(
                    _object(
                        {
                            "entityName": _described("The name of the entity containing the observations"),
                            "observations": _array(_STRING, "An array of observations to delete"),
                        },
                        closed=False,
                    )
                )
            },
            closed=False,
        ),
        _status_output(),
    ),
    "delete_relations": ReferenceTool(
        "Delete Relations",
        "Delete multiple relations from the knowledge graph",
        True,
        True,
        _schema({"relations": _array(_relation(closed=False), "An array of relations to delete")}, closed=False),
        _status_output(),
    ),
    "read_graph": ReferenceTool(
        "Read Graph", "Read the entire knowledge graph", False, False, _schema({}, closed=False), _graph_output()
    ),
    "search_nodes": ReferenceTool(
        "Search Nodes",
        "Search for nodes in the knowledge graph based on a query",
        False,
        False,
        _schema(
            {"query": _described("The search query to match against entity names, types, and observation content")},
            closed=False,
        ),
        _graph_output(),
    ),
    "open_nodes": ReferenceTool(
        "Open Nodes",
        "Open specific nodes in the knowledge graph by their names",
        False,
        False,
        _schema({"names": _array(_STRING, "An array of entity names to retrieve")}, closed=False),
        _graph_output(),
    ),
}
