"""A client process for the multi-process tests: mixed load for a while, every acknowledged add logged.

Run as ``python load_client.py URL OUT SECONDS SEED``. Each acknowledged id is appended to OUT (flushed
at once, so the parent can check them even if this process dies). A lost server is retried with the same
record (its client-generated id makes the retry idempotent). Prints a JSON summary on stdout.
"""

from __future__ import annotations

import json
import random
import sys
import time

import anyio

import memactor
from memactor import Episode, Fact, Skill


async def main(url: str, out: str, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    summary = {"acked": 0, "lost": 0, "acked_after_loss": 0, "errors": []}
    namespace = f"client-{seed}"
    deadline = time.monotonic() + seconds
    with open(out, "a") as log:

        def ack(*ids: str) -> None:
            log.write("".join(f"{i}\n" for i in ids))
            log.flush()
            summary["acked"] += len(ids)
            if summary["lost"]:
                summary["acked_after_loss"] += len(ids)

        async with memactor.connect(url, retry_window=0.5, connect_timeout=2.0) as mem:
            skill = Skill(name=f"skill-{seed}", namespace=namespace)
            pending: list[Episode | Fact | Skill] = [skill]
            while time.monotonic() < deadline:
                try:
                    while pending:  # adds that were lost: retried with the same ids
                        record = pending[0]
                        store = {Episode: mem.episodes, Fact: mem.facts, Skill: mem.skills}[type(record)]
                        ack(await store.add(record))  # type: ignore[attr-defined]
                        pending.pop(0)
                    await step(mem, rng, namespace, skill.id, ack, pending)
                except memactor.ConnectionLostError:
                    summary["lost"] += 1
                    await anyio.sleep(0.1)
                except memactor.MemactorError as exc:
                    summary["errors"].append(f"{type(exc).__name__}: {exc}")
    print(json.dumps(summary))
    return 0


async def step(mem: memactor.RemoteMemory, rng: random.Random, namespace: str, skill_id: str, ack, pending) -> None:
    choice = rng.random()
    if choice < 0.35:
        record = Episode(task=f"task {rng.random()}", namespace=namespace, success=rng.random() < 0.5)
        pending.append(record)
        ack(await mem.episodes.add(record))
        pending.remove(record)
    elif choice < 0.45:
        async with mem.batch() as b:
            e = b.episodes.add(Episode(task="batched", namespace=namespace))
            f = b.facts.add(Fact(content="learned", namespace=namespace, source_episode_ids=(e,)))
        ack(e, f)
    elif choice < 0.55:
        await mem.skills.record_use(skill_id, rng.random() < 0.7)
    elif choice < 0.75:
        await mem.episodes.search("task", namespace=namespace, limit=5)
    elif choice < 0.9:
        await mem.skills.get(skill_id)
    else:
        await mem.episodes.count(namespace=namespace)


if __name__ == "__main__":
    sys.exit(anyio.run(main, sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
