"""`memactor.model.validate`: every check refuses bad values with `InvalidInputError` naming the field."""

from __future__ import annotations

import math

import pytest

from memactor.errors import InvalidInputError
from memactor.model.frozen import FrozenDict, FrozenList
from memactor.model.validate import (
    INT64_MAX,
    INT64_MIN,
    MAX_LIMIT,
    check_float,
    check_id,
    check_id_tuple,
    check_int,
    check_limit,
    check_metadata,
    check_optional_bool,
    check_optional_float,
    check_optional_text,
    check_text,
    check_text_tuple,
)


def test_invalid_input_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="field"):
        check_text("field", 3)


def test_check_text() -> None:
    assert check_text("t", "") == ""
    assert check_text("t", "héllo") == "héllo"
    with pytest.raises(InvalidInputError, match="t must not be empty"):
        check_text("t", "  ", required=True)
    with pytest.raises(InvalidInputError, match="must be a str"):
        check_text("t", b"bytes")
    with pytest.raises(InvalidInputError, match="not valid Unicode"):
        check_text("t", "lone \ud800 surrogate")


def test_check_optional_text() -> None:
    assert check_optional_text("t", None) is None
    assert check_optional_text("t", "x") == "x"
    with pytest.raises(InvalidInputError):
        check_optional_text("t", 1)


@pytest.mark.parametrize("good", ["a", "0123abcdef", "agent-1.x:y@z/w+q=r_s", "x" * 128])
def test_check_id_accepts(good: str) -> None:
    assert check_id("id", good) == good


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "semi;colon", "quote'", "ümlaut", 7, None, b"id"])
def test_check_id_refuses(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="id"):
        check_id("id", bad)


def test_check_text_tuple_and_id_tuple() -> None:
    assert check_text_tuple("tags", ["a", "b"]) == ("a", "b")
    assert check_text_tuple("tags", ()) == ()
    with pytest.raises(InvalidInputError, match="tags"):
        check_text_tuple("tags", "ab")
    with pytest.raises(InvalidInputError, match=r"tags\[1\]"):
        check_text_tuple("tags", ["a", 2])
    assert check_id_tuple("ids", ["a", "b"]) == ("a", "b")
    with pytest.raises(InvalidInputError, match=r"ids\[0\]"):
        check_id_tuple("ids", ["bad id"])
    with pytest.raises(InvalidInputError):
        check_id_tuple("ids", {"a"})


def test_check_float() -> None:
    assert check_float("x", 1) == 1.0 and isinstance(check_float("x", 1), float)
    assert check_float("x", 0.5, low=0.0, high=1.0) == 0.5
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidInputError, match="finite"):
            check_float("x", bad)
    with pytest.raises(InvalidInputError, match="within"):
        check_float("x", 1.5, low=0.0, high=1.0)
    with pytest.raises(InvalidInputError, match="64 bits"):
        check_float("x", 2**64)
    for bad in (True, "1.0", None):
        with pytest.raises(InvalidInputError, match="number"):
            check_float("x", bad)
    assert check_optional_float("x", None) is None
    with pytest.raises(InvalidInputError):
        check_optional_float("x", math.nan)


def test_check_int() -> None:
    assert check_int("n", 0) == 0
    assert check_int("n", INT64_MAX) == INT64_MAX
    with pytest.raises(InvalidInputError):
        check_int("n", INT64_MAX + 1)
    with pytest.raises(InvalidInputError):
        check_int("n", -1)
    assert check_int("n", INT64_MIN, low=INT64_MIN) == INT64_MIN
    for bad in (True, 1.0, "1"):
        with pytest.raises(InvalidInputError, match="must be an int"):
            check_int("n", bad)


def test_check_optional_bool_refuses_ints() -> None:
    assert check_optional_bool("b", None) is None
    assert check_optional_bool("b", False) is False
    with pytest.raises(InvalidInputError):
        check_optional_bool("b", 1)


def test_check_limit_bounds() -> None:
    assert check_limit(1) == 1 and check_limit(MAX_LIMIT) == MAX_LIMIT == 10_000
    for bad in (0, MAX_LIMIT + 1, -5, 2.0, True):
        with pytest.raises(InvalidInputError, match="limit"):
            check_limit(bad)


def test_check_metadata_accepts_strict_json() -> None:
    value = {"a": [1, 2.5, None, True, "s", {"b": []}], "c": {}, "big": INT64_MAX, "small": INT64_MIN}
    checked = check_metadata("metadata", value)
    # A read-only copy, equal to what was given: records keep what was checked, whatever happens to `value`.
    assert checked == value and checked is not value
    assert type(checked) is FrozenDict and type(checked["a"]) is FrozenList


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "text",
        {1: "int key"},
        {"x": math.nan},
        {"x": [math.inf]},
        {"x": 2**64},
        {"x": -(2**63) - 1},
        {"x": b"bytes"},
        {"x": {1, 2}},
        {"x": object()},
        {"x": "\udfff"},
    ],
)
def test_check_metadata_refuses_what_is_not_strict_json(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="metadata"):
        check_metadata("metadata", bad)


def test_check_metadata_bounds_the_depth() -> None:
    deep: object = "leaf"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InvalidInputError, match="deeper"):
        check_metadata("metadata", {"x": deep})
