"""``memactor mcp --tools reference`` against the real npm ``@modelcontextprotocol/server-memory``, side by side.

Both run as stdio subprocesses reached through the SDK's stdio client. Random call sequences (a seeded
generator) go to both; the result of every call (error or not, text, structured content) and ``read_graph``
after every call must be the same. The package is found through ``MEMACTOR_REFERENCE_SERVER`` (its
``dist/index.js``) or in ``.ci/node`` (where ``.ci/run`` installs it). Without node or the package, the test
fails in CI and is skipped elsewhere, saying how to install it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

from memactor.mcp.refschema import REFERENCE_TOOLS

pytestmark = pytest.mark.anyio

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGE_JS = "node_modules/@modelcontextprotocol/server-memory/dist/index.js"
INSTALL = "npm install --prefix .ci/node @modelcontextprotocol/server-memory@2026.8.31"
SEQUENCES = 40
CALLS = 14


def reference_server() -> list[str]:
    """The command that runs the npm package; without node or the package, a failure in CI and a skip elsewhere."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed: the differential test needs it in CI")
        pytest.skip("node is not installed (outside CI only)")
    script = Path(os.environ.get("MEMACTOR_REFERENCE_SERVER") or CHECKOUT / ".ci" / "node" / PACKAGE_JS)
    if not script.is_file():
        missing = f"{script} is missing: run `{INSTALL}` in the checkout, or set MEMACTOR_REFERENCE_SERVER"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(f"{missing} (skipped outside CI only)")
    return [node, str(script)]


@asynccontextmanager
async def both_servers(place: Path) -> AsyncIterator[tuple[Client, Client]]:
    """The npm server on ``place/reference.jsonl`` and memactor on ``place/memory.db`` (the `place` fixture's)."""
    node, script = reference_server()
    reference = StdioServerParameters(
        command=node, args=[script], env={**os.environ, "MEMORY_FILE_PATH": str(place / "reference.jsonl")}
    )
    mine = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memactor", "mcp", str(place / "memory.db"), "--tools", "reference"],
        env={**os.environ, "PYTHONPATH": str(CHECKOUT)},
        cwd=str(CHECKOUT),
    )
    async with AsyncExitStack() as stack:
        theirs = await stack.enter_async_context(Client(reference, read_timeout_seconds=60))
        ours = await stack.enter_async_context(Client(mine, read_timeout_seconds=60))
        yield theirs, ours


def outcome(result: CallToolResult, *, text: bool = True) -> dict[str, Any]:
    """What a client sees of a result (the error text of a schema violation is each SDK's own)."""
    seen: dict[str, Any] = {"error": bool(result.is_error)}
    if text:
        seen["text"] = [getattr(block, "text", None) for block in result.content]
        seen["structured"] = result.structured_content
    return seen


NAMES = ["alice", "Bob", "carol", "ALICE", "", "a b", "Zoë", "日本"]
TYPES = ["person", "Person", "city", ""]
WORDS = ["likes tea", "Likes Tea", "born in 1990", "zoë", "", "tea", "ß"]
RELATIONS = ["knows", "works_with", "KNOWS"]


class Calls:
    """A seeded generator of tool calls, with collisions frequent (few names, few words)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def _some(self, pool: list[str], most: int) -> list[str]:
        return [self.rng.choice(pool) for _ in range(self.rng.randint(0, most))]

    def _distinct(self, pool: list[Any], most: int) -> list[Any]:
        return self.rng.sample(pool, self.rng.randint(1, most))

    def _relation(self, triple: tuple[str, str, str]) -> dict[str, str]:
        return {"from": triple[0], "to": triple[1], "relationType": triple[2]}

    def next(self) -> tuple[str, dict[str, Any], bool]:
        """A call: tool name, arguments, and whether it is valid (an invalid one is compared by error only)."""
        rng = self.rng
        triples = [(a, b, t) for a in NAMES[:5] for b in NAMES[:5] for t in RELATIONS]
        kind = rng.choices(
            ["create_entities", "create_relations", "add_observations", "delete_entities", "delete_observations",
             "delete_relations", "search_nodes", "open_nodes", "read_graph", "invalid"],
            weights=[5, 4, 5, 2, 3, 2, 3, 2, 1, 1],
        )[0]  # fmt: skip
        if kind == "create_entities":
            # Names are distinct within one call: there the reference server stores a name twice (by design
            # memactor keeps one entity per name; see test_reference_tools).
            entities = [
                {"name": name, "entityType": rng.choice(TYPES), "observations": self._some(WORDS, 3)}
                for name in self._distinct(NAMES, 3)
            ]
            arguments: dict[str, Any] = {"entities": entities}
        elif kind in ("create_relations", "delete_relations"):
            arguments = {"relations": [self._relation(t) for t in self._distinct(triples, 3)]}
        elif kind == "add_observations":
            items = [
                {"entityName": rng.choice(NAMES), "contents": self._some(WORDS, 3)} for _ in range(rng.randint(1, 3))
            ]
            arguments = {"observations": items}
        elif kind == "delete_entities":
            arguments = {"entityNames": self._some(NAMES, 2)}
        elif kind == "delete_observations":
            items = [{"entityName": rng.choice(NAMES), "observations": self._some(WORDS, 2)} for _ in range(2)]
            arguments = {"deletions": items}
        elif kind == "search_nodes":
            arguments = {"query": rng.choice([*WORDS, "ALI", "o", "PERSON", "ë", "日"])}
        elif kind == "open_nodes":
            arguments = {"names": self._some(NAMES, 4)}
        elif kind == "read_graph":
            arguments = {}
        else:
            kind, arguments = rng.choice(
                [("create_entities", {"entities": [{"name": 1, "entityType": "x", "observations": []}]}),
                 ("add_observations", {"observations": "alice"}),
                 ("open_nodes", {}),
                 ("delete_relations", {"relations": [{"from": "a", "to": "b"}]})]
            )  # fmt: skip
            return kind, arguments, False
        if rng.random() < 0.1:
            arguments["unknownArgument"] = "ignored by both"
        return kind, arguments, True


async def reset(theirs: Client, ours: Client) -> None:
    """Empty both graphs through the tools (every entity and every relation end deleted)."""
    graph = (await theirs.call_tool("read_graph", {})).structured_content or {}
    names = {e["name"] for e in graph["entities"]} | {r[end] for r in graph["relations"] for end in ("from", "to")}
    mine = (await ours.call_tool("read_graph", {})).structured_content or {}
    names |= {e["name"] for e in mine["entities"]} | {r[end] for r in mine["relations"] for end in ("from", "to")}
    for client in (theirs, ours):
        assert not (await client.call_tool("delete_entities", {"entityNames": sorted(names)})).is_error
        empty = (await client.call_tool("read_graph", {})).structured_content
        assert empty == {"entities": [], "relations": []}


async def test_tools_are_listed_as_the_reference_lists_them(place: Path) -> None:
    async with both_servers(place) as (theirs, ours):
        listings = [{tool.name: tool for tool in (await c.list_tools()).tools} for c in (theirs, ours)]
    assert list(listings[0]) == list(listings[1]) == list(REFERENCE_TOOLS)
    for name, reference in listings[0].items():
        mine = listings[1][name]
        assert (mine.title, mine.description) == (reference.title, reference.description), name
        assert mine.input_schema == reference.input_schema, name
        assert mine.output_schema == reference.output_schema, name
        assert mine.annotations == reference.annotations, name


async def test_random_call_sequences_give_the_same_results_and_graphs(place: Path) -> None:
    async with both_servers(place) as (theirs, ours):
        for seed in range(SEQUENCES):
            await reset(theirs, ours)
            calls = Calls(seed)
            history = []
            for step in range(CALLS):
                tool, arguments, valid = calls.next()
                history.append((tool, arguments))
                where = f"seed {seed}, call {step}: {tool}({json.dumps(arguments, ensure_ascii=False)})"
                expected = outcome(await theirs.call_tool(tool, arguments), text=valid)
                got = outcome(await ours.call_tool(tool, arguments), text=valid)
                assert got == expected, f"{where}\nsequence: {history}"
                graphs = [(await c.call_tool("read_graph", {})).structured_content for c in (theirs, ours)]
                assert graphs[1] == graphs[0], f"read_graph after {where}\nsequence: {history}"


async def test_import_of_a_file_the_reference_wrote_gives_its_graph(place: Path) -> None:
    db = place / "memory.db"
    async with both_servers(place) as (theirs, _):
        calls = Calls(1234)
        for _ in range(60):
            tool, arguments, _valid = calls.next()
            await theirs.call_tool(tool, arguments)
        expected = (await theirs.call_tool("read_graph", {})).structured_content
    assert expected is not None and expected["entities"] and expected["relations"]
    command = [sys.executable, "-m", "memactor", "import-graph", str(place / "reference.jsonl"), str(db)]
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    for _ in range(2):
        done = subprocess.run(command, cwd=CHECKOUT, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert "(0 new, 0 with new observations)" in done.stdout and "relations (0 new)" in done.stdout, done.stdout
    async with both_servers(place) as (_, ours):
        assert (await ours.call_tool("read_graph", {})).structured_content == expected
