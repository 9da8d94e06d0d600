"""Recall figures in the docs are those of the published recall run (`docs/recall-run.jsonl`): none can drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.docs import ROOT, check
from bench.recall_docs import RecallDocsError, latest_recall_run, published_recall_run, render_recall


def _copy_docs(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_search_page_quotes_the_published_recall_run() -> None:
    text = (ROOT / "docs" / "search.md").read_text(encoding="utf-8")
    for kind in ("run", "table", "latency", "checks"):
        assert f"<!-- recall:{kind} -->" in text
    assert text.count("<!-- recall:figure ") >= 5
    run = published_recall_run()
    assert render_recall(text, run, "search.md") == text
    assert {row["mode"] for row in run.rows} >= {"text-unstemmed", "text", "vector", "hybrid"}


def test_a_recall_figure_edited_by_hand_is_found(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    page = root / "docs" / "search.md"
    text = page.read_text(encoding="utf-8")
    marker = "<!-- recall:figure 3200.wordllama.hybrid.recall_at_10 -->"
    start = text.index(marker) + len(marker)
    end = text.index("<!-- /recall -->", start)
    page.write_text(text[:start] + "0.999" + text[end:], encoding="utf-8")

    stale = check(root, root / "docs" / "bench-run.jsonl")

    assert len(stale) == 1 and stale[0].startswith("docs/search.md:") and "0.999" in stale[0]


def test_a_table_row_edited_by_hand_is_found(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    page = root / "docs" / "search.md"
    text = page.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| hash | hybrid |"))
    page.write_text(text.replace(row, row.replace("| hash | hybrid |", "| hash | hybrid (tuned) |")), encoding="utf-8")

    assert check(root, root / "docs" / "bench-run.jsonl")


def test_a_new_recall_run_changes_what_the_docs_must_say(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    published = root / "docs" / "recall-run.jsonl"
    records = [json.loads(line) for line in published.read_text(encoding="utf-8").splitlines() if line.strip()]
    for record in records:
        if record["type"] == "recall" and record["mode"] == "hybrid" and record["embedder"] == "wordllama":
            record["recall_at_10"] = 0.5
    published.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    stale = check(root, root / "docs" / "bench-run.jsonl")

    assert stale and any("0.500" in line for line in stale)


def test_a_recall_marker_the_run_cannot_fill_names_its_page_and_line() -> None:
    run = published_recall_run()
    page = "intro\n\nrecall: <!-- recall:figure 3200.openai.hybrid.recall_at_10 -->1<!-- /recall -->\n"
    with pytest.raises(RecallDocsError, match=r"^page.md:3: the recall run has no hybrid line with embedder openai"):
        render_recall(page, run, "page.md")
    with pytest.raises(RecallDocsError, match=r"expected RECORDS\.EMBEDDER\.MODE\.FIELD"):
        render_recall("<!-- recall:figure 3200.hash.hybrid.score -->1<!-- /recall -->", run)
    with pytest.raises(RecallDocsError, match="unknown marker recall:chart"):
        render_recall("<!-- recall:chart -->\n<!-- /recall -->", run)


def test_a_file_without_a_recall_run_is_refused() -> None:
    with pytest.raises(RecallDocsError, match="no recall `run` line"):
        latest_recall_run(['{"type": "run", "mode": "full"}'])
