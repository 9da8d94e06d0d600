"""The labelled recall set: a seeded generator of agent-memory records and paraphrased questions.

``python -m bench.recall_data`` writes ``tests/data/recall/records.jsonl`` and ``queries.jsonl`` and prints
the statistics that ``tests/data/recall/README.md`` quotes; ``tests/test_recall_data.py`` checks that the
committed files are exactly what this writes. Everything comes from the hand-written templates in
`bench.recall_templates`, `bench.recall_templates_ops` and `bench.recall_templates_work` and one
``random.Random(SEED)``: no download, no model.

A *story* is one event of one entity ("deploy failed its health check" x ``payments-api``). It gives a fact
(grade 2), sometimes a follow-up note (grade 1), an episode and a skill. A question is about one story and
one record kind (agents search one store at a time); its relevant records are the story's records of that
kind. Distractors (the questions' words about something else) and routine notes (an entity's name with
nothing wrong) fill the rest.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memactor.sqlite.textindex import TOKENIZE

from .recall_templates import DATABASES, INFRA, Domain, Event
from .recall_templates_ops import PIPELINES, SECURITY
from .recall_templates_work import REVIEW, SCHEDULING, SUPPORT

__all__ = [
    "DATA_DIR", "DOMAINS", "QUERIES", "RECORDS", "SEED", "Query", "Row", "content_stems", "generate",
    "padding", "stats_markdown", "write",
]  # fmt: skip

SEED = 20261201
RECORDS = 3_200  # records in the set: stories first, then distractors and routine notes up to this count
QUERIES = 400
DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "recall"
DOMAINS: tuple[Domain, ...] = (INFRA, DATABASES, PIPELINES, SECURITY, SUPPORT, REVIEW, SCHEDULING)
# Shares of questions by the kind they ask for, and of questions naming the entity by an alias.
KIND_WEIGHTS = {"fact": 0.4, "episode": 0.35, "skill": 0.25}
ALIAS_SHARE = 0.6
FOLLOW_UP_SHARE = 0.5

# Words that carry no topic: not counted as shared content words (they are stemmed like the text).
STOPWORDS = frozenset(
    """a about after again all also am an and any anyone are as at be been before being both but by can could
    did do does doing done during each else ever every for from get got had has have how i if in into is it
    its just last let like me more most my no nor not now of off on once one only or other our out over own
    same should so some such than that the their them then there these they this those through time to too
    under up us very was we went were what when where which while who whom why will with would yes you your
    s t don th""".split()
)

_ALTERNATIVES = re.compile(r"\{([^{}]*\|[^{}]*)\}")


@dataclass
class Row:
    """One record of the set: its id, kind, role, domain, story and memactor fields."""

    id: str
    kind: str
    role: str  # answer, note, distractor or routine
    domain: str
    story: str | None
    fields: dict[str, Any]

    def text(self) -> str:
        """All its searchable text, as the text index sees it."""
        parts: list[str] = []
        for value in self.fields.values():
            parts.extend(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
        return " ".join(parts)

    def line(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "role": self.role, "domain": self.domain, "story": self.story,
                "fields": self.fields}  # fmt: skip


@dataclass
class Query:
    """One question: the kind of record it asks for and its relevant record ids with grades."""

    id: str
    kind: str
    domain: str
    story: str
    text: str
    relevant: dict[str, int]
    overlap: int = 0  # content words (stemmed) it shares with its best-sharing relevant record
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "domain": self.domain, "story": self.story, "text": self.text,
                "relevant": self.relevant, "overlap": self.overlap}  # fmt: skip


def _fill(template: str, rng: random.Random, **slots: str) -> str:
    text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    return text.format(n=str(rng.randint(2, 90)), **slots)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _story_rows(domain: Domain, event: Event, entity: str, story: str, rng: random.Random) -> list[Row]:
    def fill(template: str) -> str:
        return _fill(template, rng, e=entity)

    rows = [Row("", "fact", "answer", domain.name, story, {"content": fill(event.facts[0])})]
    if rng.random() < FOLLOW_UP_SHARE:
        rows.append(Row("", "fact", "note", domain.name, story, {"content": fill(event.facts[1])}))
    episode = {"task": fill(event.task), "steps": [fill(s) for s in event.steps], "outcome": fill(event.outcome),
               "success": event.success}  # fmt: skip
    rows.append(Row("", "episode", "answer", domain.name, story, episode))
    name, description, steps = event.skill
    skill = {"name": _slug(fill(name)), "description": fill(description), "steps": [fill(s) for s in steps]}
    rows.append(Row("", "skill", "answer", domain.name, story, skill))
    return rows


_CHECKS = ("weekly review of", "scheduled audit of", "quarterly check on", "handover notes for",
           "status update on", "routine look at", "monthly report on", "capacity plan for")  # fmt: skip
_RESULTS = ("nothing unusual found", "all green", "owner confirmed everything is fine", "no action needed",
            "numbers within the normal range", "documentation refreshed", "no open items", "looks healthy",
            "budget unchanged", "contacts list updated")  # fmt: skip


def _filler_row(domain: Domain, rng: random.Random, serial: int, routine: bool, entity: str | None = None) -> Row:
    entity = entity or rng.choice(domain.entities)[0]
    if routine:
        text = f"{rng.choice(_CHECKS)} {entity}: {rng.choice(_RESULTS)}"
    else:
        text = _fill(rng.choice(domain.distractors), rng, e=entity)
    kind = rng.choice(("fact", "fact", "episode", "skill"))
    role = "routine" if routine else "distractor"
    if kind == "fact":
        fields: dict[str, Any] = {"content": text}
    elif kind == "episode":
        fields = {"task": text, "steps": [], "outcome": rng.choice(_RESULTS), "success": True}
    else:
        fields = {"name": f"{_slug(text)[:60]}-{serial}", "description": text, "steps": []}
    return Row("", kind, role, domain.name, None, fields)


def _queries(stories: dict[str, tuple[Domain, Event, tuple[str, tuple[str, ...]], list[Row]]],
             rng: random.Random) -> list[Query]:  # fmt: skip
    chosen = rng.sample(sorted(stories), min(QUERIES, len(stories)))
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    out = []
    for number, story in enumerate(chosen, start=1):
        domain, event, (entity, aliases), rows = stories[story]
        kind = rng.choices(kinds, weights)[0]
        name = rng.choice(aliases) if rng.random() < ALIAS_SHARE else entity
        template = rng.choice(event.howto if kind == "skill" else event.ask)
        text = _fill(template, rng, q=name)
        text = text[0].upper() + text[1:]
        relevant = {r.id: 2 if r.role == "answer" else 1 for r in rows if r.kind == kind}
        out.append(Query(f"q{number:04d}", kind, domain.name, story, text, relevant))
    return out


def generate(seed: int = SEED) -> tuple[list[Row], list[Query]]:
    """Make the set: every record, in a shuffled order with ids ``r00001``..., and the questions."""
    rng = random.Random(seed)
    stories: dict[str, tuple[Domain, Event, tuple[str, tuple[str, ...]], list[Row]]] = {}
    rows: list[Row] = []
    for domain in DOMAINS:
        for event in domain.events:
            for entity in domain.entities:
                story = f"{_slug(domain.name)}/{event.key}/{_slug(entity[0])}"
                story_rows = _story_rows(domain, event, entity[0], story, rng)
                stories[story] = (domain, event, entity, story_rows)
                rows.extend(story_rows)
    serial = 0
    while len(rows) < RECORDS:
        serial += 1
        rows.append(_filler_row(rng.choice(DOMAINS), rng, serial, routine=serial % 3 == 0))
    rng.shuffle(rows)
    for number, row in enumerate(rows, start=1):
        row.id = f"r{number:05d}"
    queries = _queries(stories, rng)
    by_id = {row.id: row for row in rows}
    query_stems = content_stems([q.text for q in queries])
    record_stems = dict(zip(by_id, content_stems([row.text() for row in rows]), strict=True))
    for query, stems in zip(queries, query_stems, strict=True):
        query.overlap = max(len(stems & record_stems[rid]) for rid in query.relevant)
    return rows, queries


def content_stems(texts: Sequence[str]) -> list[set[str]]:
    """Each text's content words as memactor's text index stems them (stopwords left out)."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize = '{TOKENIZE}')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.executemany("INSERT INTO t (rowid, body) VALUES (?, ?)", enumerate(texts))
    stop = set().union(*content_stems_raw(conn, sorted(STOPWORDS)))
    found: list[set[str]] = [set() for _ in texts]
    for term, doc in conn.execute("SELECT term, doc FROM v"):
        if term not in stop:
            found[doc].add(term)
    conn.close()
    return found


def content_stems_raw(conn: sqlite3.Connection, words: Sequence[str]) -> list[set[str]]:
    """The stems of ``words`` (one set per word), through a scratch table on ``conn``."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS s USING fts5(body, tokenize = '{TOKENIZE}')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS sv USING fts5vocab(s, 'instance')")
    conn.executemany("INSERT INTO s (rowid, body) VALUES (?, ?)", enumerate(words))
    found: list[set[str]] = [set() for _ in words]
    for term, doc in conn.execute("SELECT term, doc FROM sv"):
        found[doc].add(term)
    return found


_SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "da", "ve", "zu", "ho")
_SUFFIXES = ("api", "db", "svc", "job", "feed", "team", "corp", "module")


def padding(count: int, seed: int = SEED) -> Iterator[Row]:
    """``count`` more records (ids ``p000001``...), never relevant, to measure at scale.

    Two in three are stories' records about entities no question names (made-up names such as
    ``kalori-api``): the same events in the same words, as a large memory holds about many other services,
    customers and colleagues. The rest are distractor and routine notes about such entities.
    """
    rng = random.Random(seed + 1)
    for serial in range(1, count + 1):
        domain = rng.choice(DOMAINS)
        entity = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + "-" + rng.choice(_SUFFIXES)
        if serial % 3:
            row = rng.choice(_story_rows(domain, rng.choice(domain.events), entity, "", rng))
            row.role, row.story = "distractor", None
            if row.kind == "skill":
                row.fields["name"] += f"-{serial}"
        else:
            row = _filler_row(domain, rng, serial + 1_000_000, routine=serial % 2 == 0, entity=entity)
        row.id = f"p{serial:06d}"
        yield row


def stats_markdown(rows: Sequence[Row], queries: Sequence[Query]) -> str:
    """The statistics table README.md quotes."""
    kinds = Counter(row.kind for row in rows)
    roles = Counter(row.role for row in rows)
    overlap = Counter(min(q.overlap, 2) for q in queries)
    asked = Counter(q.kind for q in queries)
    sizes = Counter(len(q.relevant) for q in queries)

    def share(n: int) -> str:
        return f"{overlap[n]} ({100 * overlap[n] / len(queries):.0f}%)"

    lines = [
        "| | |",
        "|---|---|",
        f"| records | {len(rows)}: {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))} |",
        f"| records by role | {', '.join(f'{k} {v}' for k, v in sorted(roles.items()))} |",
        f"| domains | {len(DOMAINS)}: {', '.join(d.name for d in DOMAINS)} |",
        f"| queries | {len(queries)}: {', '.join(f'{k} {v}' for k, v in sorted(asked.items()))} |",
        f"| relevant records per query | {', '.join(f'{k}: {v} queries' for k, v in sorted(sizes.items()))} |",
        f"| queries sharing 0 content words with an answer | {share(0)} |",
        f"| sharing 1 | {share(1)} |",
        f"| sharing 2 or more | {share(2)} |",
    ]
    return "\n".join(lines) + "\n"


def write(directory: Path, seed: int = SEED) -> tuple[list[Row], list[Query]]:
    """Generate the set and write ``records.jsonl`` and ``queries.jsonl`` into ``directory``."""
    rows, queries = generate(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (("records.jsonl", [r.line() for r in rows]), ("queries.jsonl", [q.line() for q in queries])):
        with (directory / name).open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)
    return rows, queries


def main(argv: list[str] | None = None) -> int:
    """Write the set (``--dir``, default the committed folder) and print its statistics."""
    parser = argparse.ArgumentParser(prog="python -m bench.recall_data", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    rows, queries = write(args.dir, args.seed)
    print(stats_markdown(rows, queries), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
