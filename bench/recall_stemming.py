"""Recall@10 of text search before and after stemming, on a small labelled set made here (a quick check,
not the full labelled set).

The set: 500 agent-memory records, each naming four topics (a lemma in a random word form: "deployed",
"deployment", ...), and 50 queries, each naming three topics of one target record in other word forms
than the record uses, plus one synonym that no tokenizer can match. A query's relevant records are those
naming all three of its topics. So the set measures exactly what a tokenizer can do about word forms and
accents; meaning (synonyms) is left to embeddings.

Each tokenizer indexes the same records in an in-memory FTS5 table; queries are built by memactor's own
`memactor.sqlite.fts.fts_match` and ranked by bm25 alone. "+*" appends ``*`` to the query's last word
(prefix matching for a trailing partial word), on full-word queries and on queries whose last word is cut to
its first 4 letters ("cut"). A second query set ("any") lets each query word take any form, the record's own
included, as an agent's words sometimes do.

Measured here, recall@10 for seeds 7 / 8 / 9 (remove_diacritics alone changed nothing on this set):

    tokenizer                                     other               other+*             any
    unicode61 (before)                            0.01 / 0.01 / 0.02  0.01 / 0.01 / 0.02  0.33 / 0.22 / 0.34
    porter unicode61 remove_diacritics 2 (after)  0.89 / 0.82 / 0.75  0.91 / 0.84 / 0.77  0.92 / 0.86 / 0.93
    porter, last word cut to 4 letters:           0.82 / 0.75 / 0.74 without *, 0.94 / 0.86 / 0.83 with *

Prefix matching is left out: on full-word queries it gained one query in 50 per seed (within noise), and it
only clearly helps a query whose last word is cut, which agents, writing whole sentences, rarely send.

    python -m bench.recall_stemming [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sqlite3

from memactor.sqlite.fts import fts_match

TOPICS: tuple[tuple[str, ...], ...] = (
    ("deploy", "deploys", "deployed", "deploying", "deployment", "deployments"),
    ("roll back", "rolled back", "rolling back", "rollback", "rollbacks"),
    ("fail", "fails", "failed", "failing", "failure", "failures"),
    ("time out", "timed out", "timeout", "timeouts"),
    ("retry", "retries", "retried", "retrying"),
    ("migrate", "migrates", "migrated", "migrating", "migration", "migrations"),
    ("index", "indexes", "indexed", "indexing"),
    ("cache", "caches", "cached", "caching"),
    ("restart", "restarts", "restarted", "restarting"),
    ("configure", "configured", "configuring", "configuration", "configurations"),
    ("authenticate", "authenticated", "authenticating", "authentication"),
    ("connect", "connects", "connected", "connecting", "connection", "connections"),
    ("schedule", "schedules", "scheduled", "scheduling", "scheduler"),
    ("compress", "compressed", "compressing", "compression"),
    ("replicate", "replicated", "replicating", "replication", "replica", "replicas"),
    ("monitor", "monitors", "monitored", "monitoring"),
    ("alert", "alerts", "alerted", "alerting"),
    ("upgrade", "upgrades", "upgraded", "upgrading"),
    ("validate", "validated", "validating", "validation"),
    ("encrypt", "encrypted", "encrypting", "encryption"),
    ("test", "tests", "tested", "testing"),
    ("build", "builds", "building", "built"),
    ("run", "runs", "running", "ran"),
    ("throttle", "throttled", "throttling"),
    ("page", "pages", "paged", "paging"),
    ("query", "queries", "queried", "querying"),
    ("backup", "backups", "backed up", "backing up"),
    ("certificate", "certificates", "certified"),
    ("rotate", "rotated", "rotating", "rotation"),
    ("scale", "scaled", "scaling"),
    ("café", "cafe", "cafés"),
    ("résumé", "resume", "resumed", "resuming"),
    ("naïve", "naive"),
    ("rôle", "role", "roles"),
    ("crash", "crashed", "crashing", "crashes"),
    ("leak", "leaked", "leaking", "leaks"),
    ("lock", "locked", "locking", "locks"),
    ("merge", "merged", "merging", "merges"),
    ("parse", "parsed", "parsing", "parser"),
    ("serialize", "serialized", "serializing", "serialization"),
)
FILLER = ("the", "after", "team", "agent", "noted", "that", "while", "during", "service", "api", "was", "again")
SYNONYMS = ("outage", "incident", "problem", "issue", "glitch", "hiccup")
TOKENIZERS = {
    "unicode61 (before)": "unicode61",
    "unicode61 remove_diacritics 2": "unicode61 remove_diacritics 2",
    "porter unicode61 remove_diacritics 2 (after)": "porter unicode61 remove_diacritics 2",
}


def make_set(seed: int, other_forms: bool = True) -> tuple[list[str], list[tuple[str, str, set[int]]]]:
    """Records, and queries as (full text, text with its last word cut, relevant record indexes).

    With ``other_forms`` False, a query word takes any form of its topic, the record's own one included.
    """
    rng = random.Random(seed)
    topics_of: list[list[int]] = []
    records: list[str] = []
    for _ in range(500):
        topics = rng.sample(range(len(TOPICS)), 4)
        topics_of.append(topics)
        words = [rng.choice(TOPICS[t]) for t in topics] + rng.sample(FILLER, 4)
        rng.shuffle(words)
        records.append(" ".join(words))
    queries = []
    for target in rng.sample(range(500), 50):
        asked = rng.sample(topics_of[target], 3)
        words = [_other_form(rng, t, records[target]) if other_forms else rng.choice(TOPICS[t]) for t in asked]
        full = " ".join([rng.choice(SYNONYMS), *words])
        cut = " ".join([rng.choice(SYNONYMS), *words[:-1], words[-1][:4]])
        relevant = {i for i, topics in enumerate(topics_of) if set(asked) <= set(topics)}
        queries.append((full, cut, relevant))
    return records, queries


def _other_form(rng: random.Random, topic: int, record: str) -> str:
    forms = [f for f in TOPICS[topic] if f not in record] or list(TOPICS[topic])
    return rng.choice(forms)


def recall_at_10(tokenize: str, records: list[str], queries: list[tuple[str, set[int]]], prefix: bool) -> float:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize = '{tokenize}')")
    conn.executemany("INSERT INTO t (rowid, body) VALUES (?, ?)", enumerate(records))
    total = 0.0
    for text, relevant in queries:
        match = fts_match(text)
        if match is not None and prefix:
            match += "*"
        rows = conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank LIMIT 10", (match,)).fetchall()
        total += len({r[0] for r in rows} & relevant) / len(relevant)
    conn.close()
    return total / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records, queries = make_set(args.seed)
    full = [(q, rel) for q, _, rel in queries]
    cut = [(c, rel) for _, c, rel in queries]
    print(f"{len(records)} records, {len(queries)} queries, seed {args.seed}: recall@10")
    _, any_form = make_set(args.seed, other_forms=False)
    free = [(q, rel) for q, _, rel in any_form]
    print("other forms: query words never in the record's form; any form: the record's form allowed")
    print(f"{'tokenizer':46} {'other':>6} {'other+*':>7} {'cut':>6} {'cut+*':>6} {'any':>6}")
    for name, tokenize in TOKENIZERS.items():
        figures = [
            recall_at_10(tokenize, records, full, prefix=False),
            recall_at_10(tokenize, records, full, prefix=True),
            recall_at_10(tokenize, records, cut, prefix=False),
            recall_at_10(tokenize, records, cut, prefix=True),
            recall_at_10(tokenize, records, free, prefix=False),
        ]
        print(f"{name:46} " + " ".join(f"{f:6.3f}" for f in figures))


if __name__ == "__main__":
    main()
