"""``memactor search``: records (and items, with ``--kind item``) found by text, one line each or JSON."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInputError
from ..model.items import Item
from ..model.records import Hit
from .jsonl import dumps, item_line, record_line
from .target import Handle

__all__ = ["RECORD_KINDS", "render", "search"]

RECORD_KINDS = ("episode", "fact", "skill")
_TEXT = {"episode": "task", "fact": "content", "skill": "name"}


async def search(
    handle: Handle, text: str | None, kinds: list[str], namespace: str | None, agent_id: str | None, limit: int
) -> list[Hit | Item]:
    """Search each of ``kinds``; record hits merged by score, best first, at most ``limit`` in all.

    Empty or blank ``text`` is no text: the newest records (items: first put) come first.
    """
    query = text.strip() if text is not None and text.strip() else None
    filters: dict[str, Any] = {"limit": limit}
    if namespace is not None:
        filters["namespace"] = namespace
    if agent_id is not None:
        filters["agent_id"] = agent_id
    stores: dict[str, Any] = {"episode": handle.episodes, "fact": handle.facts, "skill": handle.skills}
    found: list[Hit | Item] = []
    hits: list[Hit] = []
    for kind in kinds:
        if kind == "item":
            if agent_id is not None:
                raise InvalidInputError("items have no agent id: leave out --agent-id with --kind item")
            prefix = tuple(namespace.split(".")) if namespace else ()
            found.extend(await handle.items.search(prefix, query=query, limit=limit, refresh_ttl=False))
        else:
            hits.extend(await stores[kind].search(query, **filters))
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return [*hits[:limit], *found]


def render(results: list[Hit | Item], as_json: bool) -> str:
    """One line per result: for people, kind, score, id and text; with ``as_json``, one JSON object each."""
    lines = []
    for result in results:
        if isinstance(result, Item):
            lines.append(
                dumps(item_line(result))
                if as_json
                else f"item  {'.'.join(result.namespace)}  {result.key}  "
                f"{json.dumps(dict(result.value), default=list)[:80]}"
            )
            continue
        record = result.record
        if as_json:
            lines.append(dumps({"score": result.score, **record_line(record)}))
        else:
            text = str(getattr(record, _TEXT[record.KIND]))[:80]
            lines.append(f"{record.KIND:<7}  {result.score:.3f}  {record.id}  {text}")
    return "\n".join(lines)
