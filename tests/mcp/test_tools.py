"""The native tools through the SDK's in-process client, on a local and on a remote handle."""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client
from mcp_types import CallToolResult

from memactor import Episode, Fact, Skill
from memactor.mcp.tools import TOOLS

from .conftest import AGENT, NAMESPACE

pytestmark = pytest.mark.anyio


async def ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


def _bounded(name: str, schema: dict[str, Any]) -> list[str]:
    """What is unbounded in one property's schema (strings need maxLength, arrays maxItems, numbers a range)."""
    problems = []
    for option in schema.get("anyOf", [schema]):
        kind = option.get("type")
        if kind == "string" and "maxLength" not in option and "pattern" not in option and "enum" not in option:
            problems.append(f"{name}: string without maxLength")
        if kind == "array":
            if "maxItems" not in option and "maxItems" not in schema:
                problems.append(f"{name}: array without maxItems")
            problems += _bounded(f"{name}[]", option.get("items", {}))
        if kind in ("number", "integer") and name.split("[")[0] not in ("since", "until"):
            if "maximum" not in option and "maximum" not in schema:
                problems.append(f"{name}: number without maximum")
    return problems


async def test_every_tool_is_listed_with_a_description_and_bounded_schema(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == set(TOOLS)
    for name, tool in listed.items():
        assert tool.description and "\n" not in tool.description, name
        properties = tool.input_schema["properties"]
        assert properties, name
        for argument, schema in properties.items():
            assert schema.get("description"), f"{name}.{argument} has no description"
            assert not _bounded(argument, schema), f"{name}: {_bounded(argument, schema)}"


async def test_each_tool_round_trips(client: Client, handle: Any) -> None:
    episode = await ok(
        client,
        "record_episode",
        {
            "task": "deploy api",
            "steps": ["build", "push"],
            "outcome": "health check failed",
            "success": False,
            "tags": ["ops"],
        },
    )
    fact = await ok(
        client,
        "add_fact",
        {"content": "health check times out on deploy", "confidence": 0.7, "source_episode_ids": [episode["id"]]},
    )
    skill = await ok(client, "add_skill", {"name": "rollback", "description": "undo a bad deploy", "steps": ["revert"]})
    used = await ok(client, "record_skill_use", {"skill": "rollback", "success": True})
    assert (used["id"], used["uses"], used["successes"]) == (skill["id"], 1, 1)
    assert (await ok(client, "record_skill_use", {"skill": skill["id"], "success": False}))["uses"] == 2

    hits = (await ok(client, "recall", {"query": "deploy health", "since": "2000-01-01T00:00:00Z", "until": 4e9}))[
        "results"
    ]
    assert {hit["id"] for hit in hits} == {episode["id"], fact["id"], skill["id"]}
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    for hit in hits:
        assert {"kind", "id", "text", "score", "relevance", "recency", "importance"} <= set(hit)
    assert [h["kind"] for h in (await ok(client, "recall", {"query": "deploy", "kinds": ["skill"]}))["results"]] == [
        "skill"
    ]
    assert (await ok(client, "recall", {"query": "deploy", "until": 1000}))["results"] == []

    found = (await ok(client, "find_skills", {"query": "undo deploy"}))["results"]
    assert [(s["id"], s["uses"], s["successes"]) for s in found] == [(skill["id"], 2, 1)]
    recent = (await ok(client, "recent_episodes", {"agent_id": AGENT}))["results"]
    assert [e["id"] for e in recent] == [episode["id"]]
    assert (await ok(client, "recent_episodes", {"agent_id": "someone-else"}))["results"] == []

    got = await ok(client, "get_memory", {"id": episode["id"]})
    assert (got["task"], got["steps"], got["success"], got["tags"]) == ("deploy api", ["build", "push"], False, ["ops"])

    updated = await ok(client, "update_fact", {"id": fact["id"], "confidence": 0.9, "expect_version": 1})
    assert (updated["confidence"], updated["version"]) == (0.9, 2)
    stale = await client.call_tool("update_fact", {"id": fact["id"], "content": "x", "expect_version": 1})
    assert "get_memory" in error_text(stale)
    assert (await handle.facts.get(fact["id"])).content == "health check times out on deploy"

    assert await ok(client, "forget", {"id": fact["id"]}) == {"forgotten": fact["id"], "kind": "fact"}
    assert "check the id" in error_text(await client.call_tool("get_memory", {"id": fact["id"]}))

    statistics = await client.read_resource("memactor://statistics")
    assert '"episodes": 1' in statistics.contents[0].text  # type: ignore[union-attr]


async def test_records_carry_the_configured_agent_and_namespace(client: Client, handle: Any) -> None:
    refused = await client.call_tool("record_episode", {"task": "t", "agent_id": "impostor", "namespace": "other"})
    assert "unknown argument" in error_text(refused) and "agent_id" in error_text(refused)
    ids = [
        (await ok(client, "record_episode", {"task": "t"}))["id"],
        (await ok(client, "add_fact", {"content": "c"}))["id"],
        (await ok(client, "add_skill", {"name": "s"}))["id"],
    ]
    records = [await handle.episodes.get(ids[0]), await handle.facts.get(ids[1]), await handle.skills.get(ids[2])]
    assert {(r.agent_id, r.namespace) for r in records} == {(AGENT, NAMESPACE)}
    assert await handle.episodes.count(agent_id="impostor") == 0


HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("record_episode", {"task": 42}, "task"),
    ("record_episode", {"task": ["a"]}, "task"),
    ("record_episode", {"task": ""}, "task"),
    ("record_episode", {"task": "x" * 1_000_000}, "task"),
    ("record_episode", {"task": "t", "importance": math.nan}, "importance"),
    ("record_episode", {"task": "t", "importance": 7}, "importance"),
    ("record_episode", {"task": "t", "steps": ["s"] * 10_000}, "steps"),
    ("record_episode", {"task": "t", "tags": ["x" * 100_000]}, "tags"),
    ("record_episode", {"task": "t", "colour": "red"}, "colour"),
    ("record_episode", {}, "task"),
    ("add_fact", {"content": "c", "confidence": "very"}, "confidence"),
    ("add_fact", {"content": "c", "source_episode_ids": ["../../etc"]}, "source_episode_ids"),
    ("add_fact", {"content": "c", "source_episode_ids": ["0" * 32]}, "source_episode_ids"),
    ("update_fact", {"id": "0" * 32}, "content"),
    ("update_fact", {"id": "0" * 32, "content": "c", "expect_version": 2**70}, "expect_version"),
    ("recall", {"query": ""}, "query"),
    ("recall", {"query": "q", "kinds": ["episode", "dream"]}, "kinds"),
    ("recall", {"query": "q", "limit": 10_000}, "limit"),
    ("recall", {"query": "q", "since": "last tuesday"}, "since"),
    ("recall", {"query": "q", "tags": ["t"] * 10_000}, "tags"),
    ("get_memory", {"id": ""}, "id"),
    ("get_memory", {"id": {"$ne": None}}, "id"),
    ("forget", {"id": "0" * 32}, "id"),
    ("record_skill_use", {"skill": "nope", "success": True}, "nope"),
    ("record_skill_use", {"skill": "nope", "success": "maybe"}, "success"),
    ("add_skill", {"name": "n" * 201}, "name"),
    ("find_skills", {"query": "q", "limit": 0}, "limit"),
    ("recent_episodes", {"limit": -1}, "limit"),
]


@pytest.mark.parametrize(("tool", "arguments", "named"), HOSTILE, ids=[f"{t}-{n}" for t, _, n in HOSTILE])
async def test_hostile_arguments_give_tool_errors_and_the_server_keeps_writing(
    client: Client, handle: Any, tool: str, arguments: dict[str, Any], named: str
) -> None:
    text = error_text(await client.call_tool(tool, arguments))
    assert named in text, text
    assert len(text) < 2000, "the error must not echo a huge argument back into the model's context"
    assert any(hint in text for hint in ("call again", "check the id", "give at least one")), text
    after = await ok(client, "record_episode", {"task": "still writing"})
    assert (await handle.episodes.get(after["id"])).task == "still writing"


async def test_another_namespaces_records_are_out_of_reach(client: Client, handle: Any) -> None:
    episode = await handle.episodes.add(Episode(task="secret plan", namespace="other"))
    fact = await handle.facts.add(Fact(content="secret fact", namespace="other"))
    skill = await handle.skills.add(Skill(name="secret skill", namespace="other"))
    for tool, arguments in [
        ("get_memory", {"id": episode}),
        ("forget", {"id": episode}),
        ("forget", {"id": fact}),
        ("update_fact", {"id": fact, "content": "overwritten"}),
        ("record_skill_use", {"skill": skill, "success": True}),
        ("record_skill_use", {"skill": "secret skill", "success": True}),
        ("add_fact", {"content": "c", "source_episode_ids": [episode]}),
    ]:
        text = error_text(await client.call_tool(tool, arguments))
        assert "secret plan" not in text and "secret fact" not in text, text
    assert (await ok(client, "recall", {"query": "secret plan fact skill"}))["results"] == []
    assert (await ok(client, "recent_episodes", {}))["results"] == []
    assert (await handle.episodes.get(episode)).task == "secret plan"
    assert (await handle.facts.get(fact)).content == "secret fact"
    assert (await handle.skills.get(skill)).uses == 0


async def test_a_skill_is_found_by_a_name_that_is_not_an_id(client: Client) -> None:
    skill = await ok(client, "add_skill", {"name": "roll back a deploy"})
    used = await ok(client, "record_skill_use", {"skill": "roll back a deploy", "success": True})
    assert (used["id"], used["uses"]) == (skill["id"], 1)
