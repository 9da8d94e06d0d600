"""Codec properties: every command round-trips exactly through `encode` / `decode`, and any bytes either
decode to a valid command or raise `CodecError`; hostile values (NaN, +-inf, -0.0, huge ints, lone
surrogates, control characters, deep nesting, big strings) either round-trip exactly or are refused
with a typed memactor error, never anything else.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from memactor import CodecError, Episode, Fact, InvalidInputError, MemactorError, Skill, codec
from memactor.model.commands import AddRecords, Batch, DeleteRecord, Ping, RecordUse, SetQuota, UpdateRecord

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=(HealthCheck.too_slow,))

INT64 = st.integers(-(2**63), 2**63 - 1)
all_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
control_text = st.text(st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u2028\u2029\ufeff\x00"), max_size=10)
texts = all_text | control_text
required = texts.filter(lambda s: s.strip())
ids = st.from_regex(r"[A-Za-z0-9_.:@/+=-]{1,128}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [-0.0, 0.0, 5e-324, -1.7976931348623157e308]
)
json_leaf = st.none() | st.booleans() | INT64 | finite | texts
json_value = st.recursive(
    json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3), max_leaves=12
)
metadata = st.dictionaries(texts, json_value, max_size=4)
stamps = st.none() | finite
common = {
    "id": ids,
    "namespace": required,
    "agent_id": st.none() | texts,
    "tags": st.lists(texts, max_size=3).map(tuple),
    "metadata": metadata,
    "created_at": stamps,
    "updated_at": stamps,
    "version": st.integers(0, 2**63 - 1),
}
episodes = st.builds(
    Episode,
    task=required,
    steps=st.lists(texts, max_size=3).map(tuple),
    outcome=texts,
    success=st.none() | st.booleans(),
    reward=st.none() | finite,
    importance=st.floats(0, 1),
    **common,
)
facts = st.builds(
    Fact,
    content=required,
    confidence=st.floats(0, 1),
    source_episode_ids=st.lists(ids, max_size=3).map(tuple),
    **common,
)


@st.composite
def skills(draw: Any) -> Skill:
    uses = draw(st.integers(0, 2**63 - 1))
    return draw(
        st.builds(
            Skill,
            name=required,
            description=texts,
            steps=st.lists(texts, max_size=3).map(tuple),
            code=texts,
            uses=st.just(uses),
            successes=st.integers(0, uses),
            last_used_at=stamps,
            **common,
        )
    )


records = episodes | facts | skills()
kinds = st.sampled_from(["episode", "fact", "skill"])
# Update changes as they travel: JSON-like, lists for sequences (the codec has no tuple type).
changes = st.dictionaries(
    st.sampled_from(["task", "outcome", "tags", "metadata", "importance", "note"]), json_value, min_size=1, max_size=3
)
simple_commands = st.one_of(
    st.builds(AddRecords, st.lists(records, min_size=1, max_size=3).map(tuple)),
    st.builds(UpdateRecord, kinds, ids, changes, st.none() | st.integers(1, 2**63 - 1), finite),
    st.builds(DeleteRecord, kinds, ids),
    st.builds(RecordUse, ids, st.booleans(), finite),
)
commands = st.one_of(
    simple_commands,
    st.builds(Batch, st.lists(simple_commands, max_size=4).map(tuple)),
    st.builds(SetQuota, st.none() | st.integers(1, 2**63 - 1)),
    st.just(Ping()),
)


def exact(value: Any) -> Any:
    """A form of ``value`` where -0.0 differs from 0.0 and a tuple from a list: `repr` does both."""
    return repr(value)


@SETTINGS
@given(commands)
def test_every_command_round_trips_exactly(command: Any) -> None:
    frame = codec.encode(command)
    assert isinstance(frame, bytes)
    decoded = codec.decode(frame)
    assert decoded == command
    assert exact(decoded) == exact(command)
    assert codec.encode(decoded) == frame


@SETTINGS
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xc1")  # the one byte msgpack never uses
@example(msgpack.packb([1, [[1, "x"]]]))
def test_any_bytes_decode_or_raise_codec_error(data: bytes) -> None:
    try:
        command = codec.decode(data)
    except CodecError:
        return
    assert codec.decode(codec.encode(command)) == command


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4) | st.integers(), c, max_size=3),
    max_leaves=20,
)


@SETTINGS
@given(st.integers(0, 9) | st.integers(), msgpack_values)
def test_wrongly_typed_frames_raise_codec_error(tag: int, body: Any) -> None:
    """Frames with a known or unknown tag and arbitrary (wrongly typed) fields: a command or CodecError."""
    for frame_value in ([tag, body], [tag, *body] if isinstance(body, list) else [tag], body):
        try:
            data = msgpack.packb(frame_value, use_bin_type=True, strict_types=False)
        except (ValueError, OverflowError, TypeError):
            continue
        try:
            command = codec.decode(data)
        except CodecError:
            continue
        assert codec.decode(codec.encode(command)) == command


@SETTINGS
@given(commands, st.data())
def test_truncated_and_corrupted_frames_raise_codec_error(command: Any, data: Any) -> None:
    frame = codec.encode(command)
    cut = data.draw(st.integers(0, max(0, len(frame) - 1)))
    with pytest.raises(CodecError):
        codec.decode(frame[:cut])
    position = data.draw(st.integers(0, len(frame) - 1))
    corrupted = bytearray(frame)
    corrupted[position] ^= data.draw(st.integers(1, 255))
    try:
        decoded = codec.decode(bytes(corrupted))
    except CodecError:
        return
    assert codec.decode(codec.encode(decoded)) == decoded
    with pytest.raises(CodecError):
        codec.decode(frame + b"\x00")  # trailing bytes are not one frame


def nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


HOSTILE_VALUES: list[tuple[str, Any]] = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("-inf", -math.inf),
    ("-0.0", -0.0),
    ("2**63", 2**63),
    ("-(2**63)-1", -(2**63) - 1),
    ("2**64", 2**64),
    ("-(2**63)", -(2**63)),
    ("2**63-1", 2**63 - 1),
    ("10**100", 10**100),
    ("lone high surrogate", "a\ud800b"),
    ("lone low surrogate", "\udfff"),
    ("NUL", "a\x00b"),
    ("controls", "".join(map(chr, range(32))) + "\x7f"),
    ("bidi and BOM", "\u202e\ufeff\u2028"),
    ("astral", "\U0001f600\U0010ffff"),
    ("big string", "x" * (4 * 1024 * 1024)),
    ("too big string", "x" * (16 * 1024 * 1024 + 1)),
    ("nesting 30", nest(15)),
    ("nesting 40", nest(20)),
    ("nesting 500", nest(250)),
    ("bytes", b"\x00\xff"),
    ("set", {1, 2}),
    ("object", object()),
    ("int key", {1: "x"}),
    ("bool", True),
    ("None", None),
    ("empty", ""),
    ("blank", " \t\n"),
]

# Where a hostile value can be put, as a function of the value.
PLACES = {
    "episode.task": lambda v: AddRecords((Episode(task=v),)),
    "episode.reward": lambda v: AddRecords((Episode(task="t", reward=v),)),
    "episode.importance": lambda v: AddRecords((Episode(task="t", importance=v),)),
    "episode.steps": lambda v: AddRecords((Episode(task="t", steps=(v,)),)),
    "episode.tags": lambda v: AddRecords((Episode(task="t", tags=(v,)),)),
    "fact.metadata.value": lambda v: AddRecords((Fact(content="c", metadata={"k": v}),)),
    "fact.metadata.key": lambda v: AddRecords((Fact(content="c", metadata={v: 1}),)),
    "fact.confidence": lambda v: AddRecords((Fact(content="c", confidence=v),)),
    "fact.created_at": lambda v: AddRecords((Fact(content="c", created_at=v),)),
    "skill.name": lambda v: AddRecords((Skill(name=v),)),
    "skill.uses": lambda v: AddRecords((Skill(name="n", uses=v),)),
    "skill.version": lambda v: AddRecords((Skill(name="n", version=v),)),
    "skill.namespace": lambda v: AddRecords((Skill(name="n", namespace=v),)),
    "skill.agent_id": lambda v: AddRecords((Skill(name="n", agent_id=v),)),
    "skill.id": lambda v: AddRecords((Skill(name="n", id=v),)),
    "update.changes": lambda v: UpdateRecord("fact", "x1", {"metadata": {"k": v}}, None, 1.0),
    "update.change name": lambda v: UpdateRecord("fact", "x1", {v: 1}, None, 1.0),
    "update.expect_version": lambda v: UpdateRecord("fact", "x1", {"content": "c"}, v, 1.0),
    "update.at": lambda v: UpdateRecord("fact", "x1", {"content": "c"}, None, v),
    "delete.id": lambda v: DeleteRecord("fact", v),
    "delete.kind": lambda v: DeleteRecord(v, "x1"),
    "use.success": lambda v: RecordUse("x1", v, 1.0),
    "use.at": lambda v: RecordUse("x1", True, v),
    "quota": lambda v: SetQuota(v),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_hostile_values_round_trip_exactly_or_fail_typed(place: str) -> None:
    for label, value in HOSTILE_VALUES:
        try:
            command = PLACES[place](value)
        except TypeError as exc:
            # Only Python's own unhashable-key error may escape construction: it happens in the test's dict.
            assert "unhashable" in str(exc), f"{place} <- {label}: {exc!r}"
            continue
        except MemactorError as exc:
            assert isinstance(exc, (InvalidInputError, CodecError)), f"{place} <- {label}: {exc!r}"
            continue
        try:
            frame = codec.encode(command)
        except CodecError:
            continue
        decoded = codec.decode(frame)
        assert exact(decoded) == exact(command), f"{place} <- {label} did not round-trip"


def test_raw_hostile_values_in_frames_raise_codec_error() -> None:
    """The same values smuggled straight into frames, past the constructors' checks."""
    good = msgpack.unpackb(codec.encode(AddRecords((Episode(task="t"),))), use_list=True)
    record = good[1][0]
    checked = 0
    for index in range(1, len(record)):
        for label, value in HOSTILE_VALUES:
            if label in ("set", "object", "too big string", "big string", "lone high surrogate", "lone low surrogate"):
                continue
            mutated = [*record]
            mutated[index] = value
            try:
                data = msgpack.packb([1, [mutated]], use_bin_type=True)
            except (ValueError, TypeError, OverflowError):
                continue
            try:
                decoded = codec.decode(data)
            except CodecError:
                checked += 1
                continue
            assert codec.decode(codec.encode(decoded)) == decoded
            checked += 1
    # Lone surrogates cannot even be packed by msgpack; their UTF-8-like bytes must not decode either.
    with pytest.raises(CodecError):
        codec.decode(b"\x92\x03\xa3\xed\xa0\x80")  # [3, "<surrogate as CESU bytes>"]
    assert checked > 100
