"""The committed labelled recall set is exactly what its generator writes, and meets its stated sizes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.recall_data import DATA_DIR, content_stems, generate, padding, stats_markdown, write
from bench.recall_files import load_set, to_record


def test_committed_files_are_the_generators_output(tmp_path: Path) -> None:
    write(tmp_path)
    for name in ("records.jsonl", "queries.jsonl"):
        made, committed = (tmp_path / name).read_bytes(), (DATA_DIR / name).read_bytes()
        assert made == committed, f"tests/data/recall/{name} differs: rerun python -m bench.recall_data"


def test_the_set_meets_its_stated_sizes() -> None:
    labelled = load_set()
    records = {r["id"]: r for r in labelled.records}
    assert len(records) == len(labelled.records) >= 3_000  # ids are unique
    assert len(labelled.queries) >= 300
    assert len({r["domain"] for r in labelled.records}) >= 6
    assert {r["kind"] for r in labelled.records} == {"fact", "episode", "skill"}
    for query in labelled.queries:
        assert query["relevant"] and set(query["relevant"].values()) <= {1, 2}, query
        for rid in query["relevant"]:
            assert records[rid]["kind"] == query["kind"] and records[rid]["story"] == query["story"], query
    # Many queries share few words with their answers.
    overlap = Counter(min(q["overlap"], 2) for q in labelled.queries)
    assert overlap[0] >= 0.25 * len(labelled.queries) and overlap[0] + overlap[1] >= 0.5 * len(labelled.queries)
    # The committed files stay modest.
    assert sum(p.stat().st_size for p in DATA_DIR.glob("*.jsonl")) < 3_000_000


def test_readme_quotes_the_sets_statistics() -> None:
    rows, queries = generate()
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert stats_markdown(rows, queries) in readme, "update the statistics in tests/data/recall/README.md"


def test_shared_words_are_counted_after_stemming_without_stopwords() -> None:
    assert content_stems(["Deployments failed on the servers", "what went wrong with it?"]) == [
        {"deploy", "fail", "server"},
        {"wrong"},
    ]


def test_padding_is_never_relevant_and_loads_as_records() -> None:
    rows = list(padding(600))
    assert [r.id for r in rows] == [f"p{n:06d}" for n in range(1, 601)]
    assert all(r.story is None and r.role in ("distractor", "routine") for r in rows)
    names = [r.fields["name"] for r in rows if r.kind == "skill"]
    assert len(names) == len(set(names))  # skill names are unique within a namespace
    labelled_names = {r.fields["name"] for r in generate()[0] if r.kind == "skill"}
    assert not labelled_names & set(names)
    for row in rows:
        to_record(row.line())  # each is a valid memactor record
    assert len({r.text() for r in rows}) > 0.9 * len(rows)  # varied, not a few texts repeated
