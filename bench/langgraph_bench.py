"""A LangGraph workload: N parallel nodes of one compiled graph, each doing puts and searches through its store.

Stores, measured in the same run in interleaved rounds (absolute times drift on shared machines; ratios hold):
``memory`` (LangGraph's `InMemoryStore`, no durability: the ceiling), ``sqlite`` (LangGraph's
`AsyncSqliteStore` as shipped) and ``memactor`` (`MemactorStore` over ``memactor.open``, durability full and
normal). Each node does ``OPS`` rounds of one ``aput`` then one ``asearch`` (prefix + filter) in its own
namespace. Reported: graph runs' node operations per second, and each store's ratio to ``sqlite``.

Run: ``python -m bench.langgraph_bench [--rounds 3] [--ops 20]`` (needs the ``langgraph`` and ``bench`` extras).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite.aio import AsyncSqliteStore  # type: ignore[import-untyped,unused-ignore]
from typing_extensions import TypedDict

from memactor.langgraph import MemactorStore

NODES = (1, 8, 64)
BASELINE = "sqlite"


class State(TypedDict):
    run: int
    done: Annotated[list[int], operator.add]


def _node(number: int, ops: int) -> Callable[..., Any]:
    async def work(state: State, runtime: Runtime[None]) -> dict[str, Any]:
        store = runtime.store
        assert store is not None
        namespace = ("bench", f"r{state['run']}", f"n{number}")
        for index in range(ops):
            await store.aput(namespace, f"k{index}", {"i": index, "text": "a memory of this node"})
            await store.asearch(namespace, filter={"i": {"$gte": index // 2}}, limit=10)
        return {"done": [number]}

    return work


def _graph(nodes: int, ops: int, store: BaseStore) -> Any:
    graph = StateGraph(State)
    for number in range(nodes):
        graph.add_node(f"n{number}", _node(number, ops))
        graph.add_edge(START, f"n{number}")
        graph.add_edge(f"n{number}", END)
    return graph.compile(store=store)


@asynccontextmanager
async def _memory(_: Path) -> AsyncIterator[BaseStore]:
    yield InMemoryStore()


@asynccontextmanager
async def _sqlite(path: Path) -> AsyncIterator[BaseStore]:
    async with AsyncSqliteStore.from_conn_string(str(path)) as store:
        await store.setup()
        yield store


def _memactor(durability: str) -> Callable[[Path], AbstractAsyncContextManager[BaseStore]]:
    @asynccontextmanager
    async def opened(path: Path) -> AsyncIterator[BaseStore]:
        async with MemactorStore.from_path(path, durability=durability) as store:
            yield store

    return opened


STORES: dict[str, Callable[[Path], AbstractAsyncContextManager[BaseStore]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "memactor": _memactor("full"),
    "memactor-normal": _memactor("normal"),
}


async def _measure(name: str, nodes: int, ops: int, folder: Path, round_: int) -> float:
    """Node operations (puts + searches) per second for one graph run."""
    async with STORES[name](folder / f"{name}-{nodes}-{round_}.db") as store:
        graph = _graph(nodes, ops, store)
        await graph.ainvoke({"run": -1, "done": []})  # warm up: tables, caches, compiled graph
        started = time.perf_counter()
        await graph.ainvoke({"run": round_, "done": []})
        return 2 * nodes * ops / (time.perf_counter() - started)


async def run(rounds: int, ops: int) -> dict[tuple[str, int], list[float]]:
    results: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lgbench-") as folder:
        for round_ in range(rounds):
            for nodes in NODES:
                for name in STORES:  # interleaved: every store in every round
                    rate = await _measure(name, nodes, ops, Path(folder), round_)
                    results.setdefault((name, nodes), []).append(rate)
    return results


def table(results: dict[tuple[str, int], list[float]]) -> str:
    lines = [
        f"| store | {' | '.join(f'{n} nodes ops/s (x {BASELINE})' for n in NODES)} |",
        "|---|" + "---|" * len(NODES),
    ]
    for name in STORES:
        cells = []
        for nodes in NODES:
            rate = statistics.median(results[(name, nodes)])
            ratio = rate / statistics.median(results[(BASELINE, nodes)])
            cells.append(f"{rate:,.0f} ({ratio:.2f}x)")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", type=int, default=20, help="put+search pairs per node")
    arguments = parser.parse_args()
    print(table(asyncio.run(run(arguments.rounds, arguments.ops))))


if __name__ == "__main__":
    main()
