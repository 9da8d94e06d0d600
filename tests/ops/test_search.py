"""``memactor search``: text and filters, on a file and through a server."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Served, cli, seed


def test_search_finds_by_text_with_filters(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=30)
    result = cli("search", str(db), "health check", "--json")
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits and hits[0]["kind"] == "fact"
    team_b = cli(
        "search",
        str(db),
        "deploy",
        "--kind",
        "episode",
        "--namespace",
        "team-b",
        "--agent-id",
        "a0",
        "--limit",
        "50",
        "--json",
    )
    found = [json.loads(line) for line in team_b.stdout.splitlines()]
    assert found and all(h["namespace"] == "team-b" and h["agent_id"] == "a0" for h in found)
    assert len(found) == sum(1 for i in range(30) if i % 3 == 0 and i % 4 == 0)
    items = cli("search", str(db), "blue", "--kind", "item")
    assert items.returncode == 0 and "colour" in items.stdout


def test_search_through_a_server(served: Served) -> None:
    result = cli("search", "--url", served.url, "rollback", "--kind", "skill")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("skill") and "rollback" in result.stdout


def test_blank_text_lists_the_newest(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, episodes=5)
    result = cli("search", str(db), "   ", "--kind", "episode", "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    bad = cli("search", str(db), "x", "--limit", "0")
    assert bad.returncode == 1 and "limit" in bad.stderr and "Traceback" not in bad.stderr
