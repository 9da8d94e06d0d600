"""A LangGraph graph whose parallel nodes write and search memories through `MemactorStore` (as in docs/langgraph.md).

Run as ``python -m tests.langgraph.graph_app URL NAME NODES``: the graph runs once against the ``memactor serve``
at URL, its nodes writing under ("memories", NAME, node) and searching ("memories",); it prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import operator
import sys
from typing import Annotated, Any

from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from memactor.langgraph import MemactorStore


class State(TypedDict):
    run: str
    seen: Annotated[list[int], operator.add]


def async_node(number: int) -> Any:
    async def remember(state: State, runtime: Runtime[None]) -> dict[str, Any]:
        store = runtime.store
        assert store is not None
        await store.aput(("memories", state["run"], f"n{number}"), "note", {"node": number, "text": "hello"})
        found = await store.asearch(("memories", state["run"]), filter={"node": {"$gte": 0}}, limit=1000)
        return {"seen": [len(found)]}

    return remember


def sync_node(number: int) -> Any:
    def remember(state: State) -> dict[str, Any]:
        store = get_store()  # a sync node runs in a worker thread, under invoke and ainvoke alike
        store.put(("memories", state["run"], f"s{number}"), "note", {"node": number, "text": "hello"})
        found = store.search(("memories", state["run"]), filter={"node": {"$gte": 0}}, limit=1000)
        return {"seen": [len(found)]}

    return remember


def build(nodes: int, store: MemactorStore, sync: bool = False) -> Any:
    """A graph that fans out from START to ``nodes`` parallel nodes, compiled with ``store``."""
    graph = StateGraph(State)
    for number in range(nodes):
        name = f"node{number}"
        graph.add_node(name, sync_node(number) if sync else async_node(number))
        graph.add_edge(START, name)
        graph.add_edge(name, END)
    return graph.compile(store=store)


async def main(url: str, name: str, nodes: int) -> None:
    async with MemactorStore.from_url(url) as store:
        result = await build(nodes, store).ainvoke({"run": name, "seen": []})
        everything = await store.asearch(("memories",), limit=10_000)
    print(json.dumps({"seen": result["seen"], "total": len(everything)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
