"""Records to rows and back: what the writer stores is what a reader rebuilds."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from memactor import Episode, Fact, Skill
from memactor.sqlite.rows import _dumps, from_row, insert_values, select_list

# Text a record accepts: any Unicode but lone surrogates (SQLite stores UTF-8).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.lists(text, max_size=6).map(tuple))
def test_tuple_columns_encode_exactly_as_the_json_encoder_does(values: tuple[str, ...]) -> None:
    # The writer quotes tuple items itself for speed; a reader decodes them with json.loads.
    encoded = _dumps(values)
    assert encoded == json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    assert tuple(json.loads(encoded)) == values


@given(
    st.lists(text.filter(str.strip), min_size=1, max_size=4).map(tuple),
    st.dictionaries(text, st.one_of(st.integers(-(2**63), 2**63 - 1), text, st.booleans(), st.none()), max_size=4),
)
def test_a_stored_row_rebuilds_the_record(steps: tuple[str, ...], metadata: dict[str, object]) -> None:
    for record in (
        Episode(task=steps[0], steps=steps, tags=steps, metadata=metadata, success=True),
        Fact(content=steps[0], source_episode_ids=(), tags=steps, metadata=metadata),
        Skill(name=steps[0], steps=steps, metadata=metadata, uses=3, successes=2),
    ):
        row = insert_values(record, now=1234.5)
        rebuilt = from_row(record.KIND, row)
        assert rebuilt.created_at == rebuilt.updated_at == 1234.5 and rebuilt.version == 1
        expected = type(record)(**{**record.user_fields(), "created_at": 1234.5, "updated_at": 1234.5, "version": 1})
        assert rebuilt == expected
        assert select_list(record.KIND).count(",") == len(row) - 1
