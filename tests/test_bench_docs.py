"""Benchmark figures in the docs are those of the published run (`docs/bench-run.jsonl`): none can drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.docs import PUBLISHED, ROOT, BenchDocsError, check, latest_run, plot_run, render_page


def test_the_docs_agree_with_the_published_run() -> None:
    stale = check()
    assert not stale, "stale benchmark figures (run `python -m bench.docs`):\n" + "\n".join(stale)


def test_the_docs_quote_the_published_run() -> None:
    text = "\n".join(page.read_text(encoding="utf-8") for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    assert text.count("<!-- bench:figure ") >= 10
    for kind in ("run", "summary", "tables", "targets"):
        assert f"<!-- bench:{kind} -->" in text


def _copy_docs(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_a_figure_edited_by_hand_is_found(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    page = root / "docs" / "design.md"
    text = page.read_text(encoding="utf-8")
    marker = "<!-- bench:figure S1-64.memactor -->"
    start = text.index(marker) + len(marker)
    end = text.index("<!-- /bench -->", start)
    page.write_text(text[:start] + "99,999" + text[end:], encoding="utf-8")

    stale = check(root, root / "docs" / "bench-run.jsonl")

    assert len(stale) == 1 and stale[0].startswith("docs/design.md:") and "99,999" in stale[0]


def test_a_new_run_changes_what_the_docs_must_say(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    lines = (root / "docs" / "bench-run.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        if record["type"] == "result" and record["scenario"] == "S1-64" and record["system"] == "memactor":
            record["value"] *= 2
    newer = root / "newer.jsonl"
    newer.write_text("\n".join(lines + [json.dumps(r) for r in records]) + "\n", encoding="utf-8")

    assert check(root, newer)  # the latest run of the file is the one that counts
    assert not check(root, root / "docs" / "bench-run.jsonl")


def test_a_marker_the_run_cannot_fill_names_its_page_and_line() -> None:
    run = latest_run(PUBLISHED.read_text(encoding="utf-8").splitlines())
    page = "intro\n\nwrites: <!-- bench:figure S9-1.memactor -->1<!-- /bench -->\n"
    with pytest.raises(BenchDocsError, match=r"^page.md:3: the run has no result for memactor in S9-1"):
        render_page(page, run, "page.md")
    with pytest.raises(BenchDocsError, match="unknown marker bench:chart"):
        render_page("<!-- bench:chart -->\n<!-- /bench -->", run)


def test_a_file_without_a_run_is_refused() -> None:
    with pytest.raises(BenchDocsError, match="no `run` line"):
        latest_run(['{"type": "result"}'])


def test_the_published_run_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the `bench` extra
    run = latest_run(PUBLISHED.read_text(encoding="utf-8").splitlines())

    assert plot_run(run, tmp_path / "bench.png") is None
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
