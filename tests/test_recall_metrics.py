"""The recall benchmark's figures against cases computed by hand."""

from __future__ import annotations

import pytest

from bench.recall_metrics import percentile, recall_at, reciprocal_rank, summarise

RANKED = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("relevant", "k", "expected"),
    [
        ({"a"}, 1, 1.0),  # the first one counts at k = 1
        ({"b"}, 1, 0.0),  # the second one does not
        ({"b", "d", "x"}, 2, 1 / 3),  # b at rank 2 is in, d at rank 4 is not, x is never found
        ({"b", "d", "x"}, 4, 2 / 3),  # d at rank exactly k counts
        ({"b", "d", "x"}, 3, 1 / 3),  # d at rank k + 1 does not
        ({"e"}, 5, 1.0),
        ({"e"}, 10, 1.0),  # k beyond the list
        ({"x", "y"}, 10, 0.0),
        (set(), 5, 0.0),  # nothing relevant: 0, not a division by zero
    ],
)
def test_recall_at_k(relevant: set[str], k: int, expected: float) -> None:
    assert recall_at(RANKED, relevant, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("relevant", "expected"),
    [({"a"}, 1.0), ({"b"}, 1 / 2), ({"c", "e"}, 1 / 3), ({"e"}, 1 / 5), ({"x"}, 0.0), (set(), 0.0)],
)
def test_reciprocal_rank_counts_ranks_from_one(relevant: set[str], expected: float) -> None:
    assert reciprocal_rank(RANKED, relevant) == pytest.approx(expected)


def test_recall_ignores_repeated_ids_and_grades() -> None:
    # Grades are a mapping's values: recall and MRR count the relevant ids, whatever their grade.
    assert recall_at(["a", "a", "b"], {"a": 2, "b": 1}, 2) == pytest.approx(0.5)
    assert reciprocal_rank(["x", "b"], {"a": 2, "b": 1}) == pytest.approx(0.5)


def test_summarise_averages_over_queries() -> None:
    results = [
        (["a", "b", "c", "d", "e", "f"], {"f": 2, "z": 1}),  # R@5 0, R@10 1/2, RR 1/6
        (["b", "a"], {"a": 2}),  # R@5 1, R@10 1, RR 1/2
    ]
    assert summarise(results) == pytest.approx({"recall_at_5": 0.5, "recall_at_10": 0.75, "mrr": (1 / 6 + 1 / 2) / 2})


def test_percentile_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 99) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 99) == 99.0
    assert percentile([float(v) for v in range(1, 101)], 50) == 50.0
    assert percentile([7.0], 1) == 7.0
    assert percentile([], 50) is None
