"""MemactorStore as ``store=`` of real compiled graphs: parallel nodes, sync and async, one and two processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langgraph")

from memactor.langgraph import MemactorStore
from tests.langgraph.graph_app import build
from tests.server.test_processes import ServeProcess

pytestmark = pytest.mark.anyio
NODES = 16
ROOT = Path(__file__).resolve().parents[2]


async def test_parallel_async_nodes_write_and_search(db_path: Path) -> None:
    async with MemactorStore.from_path(db_path, durability="normal") as store:
        result = await build(NODES, store).ainvoke({"run": "r1", "seen": []})
        stored = await store.asearch(("memories", "r1"), limit=1000)
    assert len(result["seen"]) == NODES and all(1 <= seen <= NODES for seen in result["seen"])
    assert sorted(item.value["node"] for item in stored) == list(range(NODES))


async def test_parallel_sync_nodes_under_ainvoke(db_path: Path) -> None:
    async with MemactorStore.from_path(db_path, durability="normal") as store:
        result = await build(NODES, store, sync=True).ainvoke({"run": "r2", "seen": []})
        assert len(await store.asearch(("memories", "r2"), limit=1000)) == NODES
    assert len(result["seen"]) == NODES


def test_a_store_on_its_own_thread_serves_invoke_and_ainvoke_on_another_loop(db_path: Path) -> None:
    with MemactorStore.from_path(db_path, durability="normal") as store:
        result = build(NODES, store, sync=True).invoke({"run": "r3", "seen": []})
        assert len(result["seen"]) == NODES
        assert len(store.search(("memories", "r3"), limit=1000)) == NODES
        result = asyncio.run(build(NODES, store).ainvoke({"run": "r4", "seen": []}))
        assert len(result["seen"]) == NODES
        assert len(store.search(("memories", "r4"), limit=1000)) == NODES


def test_two_processes_share_one_file_through_serve(db_path: Path, socket_dir: Path) -> None:
    url = f"unix://{socket_dir}/s.sock"
    server = ServeProcess(db_path, url)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "tests.langgraph.graph_app", url]
        runs = [
            subprocess.Popen([*command, name, str(NODES)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            for name in ("p1", "p2")
        ]
        outputs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
        assert [run.returncode for run in runs] == [0, 0]
    finally:
        assert server.stop() == 0

    async def count() -> list[str]:
        async with MemactorStore.from_path(db_path) as store:
            return [item.namespace[1] for item in await store.asearch(("memories",), limit=1000)]

    names = asyncio.run(count())
    assert sorted(names) == ["p1"] * NODES + ["p2"] * NODES
    assert all(len(output["seen"]) == NODES for output in outputs)
