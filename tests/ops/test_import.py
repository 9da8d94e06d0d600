"""``memactor import``: round trip with export, idempotent re-import, resumable after a malformed line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import memactor

from .conftest import Served, cli, seed

# Fields the store sets itself on import: a record's version restarts at 1, an item's put is new.
_STORE_OWNED = {"version", "created_at", "updated_at", "expires_at"}


def _export(target: str, *url: str) -> list[dict[str, Any]]:
    result = cli("export", *((target,) if not url else ("--url", url[0])))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    for line in lines:
        for name in _STORE_OWNED & set(line) if line["kind"] == "item" else {"version"}:
            del line[name]
    return sorted(lines, key=lambda line: json.dumps(line, sort_keys=True))


def test_import_round_trips_and_reimport_changes_nothing(tmp_path: Path) -> None:
    source, copy, dump = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "dump.jsonl"
    seed(source, episodes=1200)
    assert cli("export", str(source), "-o", str(dump)).returncode == 0
    first = cli("import", str(copy), str(dump))
    assert first.returncode == 0, first.stderr
    assert "imported 1202 records and 2 items" in first.stderr
    assert _export(str(copy)) == _export(str(source))
    again = cli("import", str(copy), str(dump))
    assert again.returncode == 0, again.stderr
    assert "2 items were there already" in again.stderr
    assert _export(str(copy)) == _export(str(source))


def test_a_malformed_line_is_named_and_the_rerun_completes(tmp_path: Path) -> None:
    source, copy, dump = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "dump.jsonl"
    seed(source, episodes=1200)
    assert cli("export", str(source), "-o", str(dump)).returncode == 0
    lines = dump.read_text().splitlines(keepends=True)
    broken = lines.copy()
    broken[699] = '{"kind": "episode", "task": \n'  # line 700, in the second batch of 500
    dump.write_text("".join(broken))
    failed = cli("import", str(copy), str(dump))
    assert failed.returncode == 1
    assert "line 700" in failed.stderr and "Traceback" not in failed.stderr
    with memactor.open_sync(copy) as mem:
        assert mem.episodes.count() == 500  # the first batch; nothing of the second
    dump.write_text("".join(lines))
    rerun = cli("import", str(copy), str(dump))
    assert rerun.returncode == 0, rerun.stderr
    assert _export(str(copy)) == _export(str(source))


def test_an_item_changed_since_the_export_is_not_overwritten(tmp_path: Path) -> None:
    source, dump = tmp_path / "a.db", tmp_path / "dump.jsonl"
    seed(source, episodes=3)
    assert cli("export", str(source), "-o", str(dump)).returncode == 0
    with memactor.open_sync(source) as mem:
        mem.items.put(("prefs", "a1"), "colour", {"value": "green"})
    result = cli("import", str(source), str(dump))
    assert result.returncode == 1
    assert "exists with another value" in result.stderr and "'colour'" in result.stderr
    with memactor.open_sync(source) as mem:
        assert mem.items.get(("prefs", "a1"), "colour").value == {"value": "green"}


def test_import_through_a_server(served: Served, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps({"kind": "episode", "task": f"moved {i}"}) + "\n" for i in range(5)))
    result = cli("import", "--url", served.url, str(dump))
    assert result.returncode == 0, result.stderr
    stats = json.loads(cli("stats", "--url", served.url, "--json").stdout)
    assert stats["stores"]["episode"]["total"] == 30 + 5
