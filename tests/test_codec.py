"""`memactor.codec`: example-based round trips and refusals (the hypothesis properties live elsewhere)."""

from __future__ import annotations

import tracemalloc

import msgpack
import pytest

from memactor import CodecError, Episode, Fact, Skill, codec
from memactor.model.commands import AddRecords, Batch, DeleteRecord, Ping, RecordUse, SetQuota, UpdateRecord
from memactor.model.frozen import FrozenList

EXAMPLES = [
    AddRecords((Episode(task="t", steps=("a",), success=True, reward=1.5, metadata={"k": [1, {"x": None}]}),)),
    AddRecords((Fact(content="c", source_episode_ids=("e1",)), Fact(content="d", confidence=1.0))),
    AddRecords((Skill(name="n", uses=3, successes=2, last_used_at=12.5, tags=("x",)),)),
    UpdateRecord("fact", "f1", {"content": "new", "tags": ["a"], "metadata": {"n": [1, 2]}}, 3, 100.0),
    UpdateRecord("episode", "e1", {"success": None}, None, 1.0),
    DeleteRecord("skill", "s1"),
    RecordUse("s1", False, 5.0),
    Batch((DeleteRecord("episode", "e1"), RecordUse("s1", True, 1.0))),
    Batch(()),
    SetQuota(1_000_000),
    SetQuota(None),
    Ping(),
]


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_round_trip(command: object) -> None:
    data = codec.encode(command)  # type: ignore[arg-type]
    assert isinstance(data, bytes)
    assert codec.decode(data) == command
    assert codec.decode(bytearray(data)) == command
    assert codec.decode(memoryview(data)) == command


def test_metadata_lists_come_back_as_lists() -> None:
    command = UpdateRecord("fact", "f1", {"metadata": {"l": [1, [2]]}}, None, 1.0)
    decoded = codec.decode(codec.encode(command))
    assert isinstance(decoded, UpdateRecord)
    assert decoded.changes["metadata"]["l"] == [1, [2]]
    # Read-only lists: equal to the lists users wrote, and what JSON and msgpack encode as arrays.
    assert isinstance(decoded.changes["metadata"]["l"], list)
    assert type(decoded.changes["metadata"]["l"]) is FrozenList


def test_tags_are_stable() -> None:
    # Tags are part of the wire format: a change here breaks every stored log and every server peer.
    tags = {type(c).__name__: msgpack.unpackb(codec.encode(c))[0] for c in EXAMPLES}
    assert tags == {
        "AddRecords": 1,
        "UpdateRecord": 2,
        "DeleteRecord": 3,
        "RecordUse": 4,
        "Batch": 5,
        "SetQuota": 6,
        "Ping": 7,
    }
    record_tags = [msgpack.unpackb(codec.encode(c))[1][0][0] for c in EXAMPLES[:3]]
    assert record_tags == [1, 2, 3]


def test_encode_refuses_what_is_not_a_command() -> None:
    with pytest.raises(CodecError, match="str"):
        codec.encode("not a command")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used in msgpack
        msgpack.packb(5),
        msgpack.packb([]),
        msgpack.packb(["1"]),
        msgpack.packb([True]),
        msgpack.packb([99]),
        msgpack.packb([3, "skill"]),  # too few fields
        msgpack.packb([3, "skill", "s1", "extra"]),
        msgpack.packb([3, "widget", "s1"]),  # unknown kind
        msgpack.packb([3, "skill", "bad id"]),
        msgpack.packb([4, "s1", 1, 1.0]),  # success must be a bool
        msgpack.packb([1, []]),  # no records
        msgpack.packb([1, [[9, "x"]]]),  # unknown record tag
        msgpack.packb([1, [[2, "x"]]]),  # wrong field count
        msgpack.packb([1, "not an array"]),
        msgpack.packb([5, [[6, None]]]),  # a batch cannot hold SetQuota
        msgpack.packb([6, 0]),
        msgpack.packb([2, "fact", "f1", {}, None, 1.0]),  # no changes
        msgpack.packb([2, "fact", "f1", {"version": 3}, None, 1.0]),
        msgpack.packb([2, "fact", "f1", {1: 2}, None, 1.0], strict_types=False),
        msgpack.packb([7]) + b"trailing",
    ],
)
def test_decode_refuses_bad_bytes_with_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        codec.decode(data)


def test_decode_refuses_what_is_not_bytes() -> None:
    with pytest.raises(CodecError, match="bytes"):
        codec.decode("text")  # type: ignore[arg-type]


def test_codec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        codec.decode(b"")


def test_decoded_records_are_validated() -> None:
    wire = msgpack.unpackb(codec.encode(EXAMPLES[1]))
    wire[1][0][-2] = float("nan")  # Fact.confidence
    with pytest.raises(CodecError, match="confidence"):
        codec.decode(msgpack.packb(wire))


def _empty_maps(count: int) -> bytes:
    # One msgpack array of `count` empty maps: one byte each on the wire, a dict each in Python.
    return b"\xdd" + count.to_bytes(4, "big") + b"\x80" * count


def _decode_traced(function: object, data: bytes) -> tuple[int, BaseException | None]:
    """The peak of memory allocated while ``function(data)`` ran, and what it raised."""
    tracemalloc.start()
    try:
        function(data)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - returned to the test, which checks it
        return tracemalloc.get_traced_memory()[1], exc
    finally:
        tracemalloc.stop()
    return 0, None


@pytest.mark.parametrize("function", [codec.decode, codec.unpack], ids=["decode", "unpack"])
def test_a_frame_of_tiny_containers_is_refused_before_it_grows_large(function: object) -> None:
    # Unbounded, a MiB of empty maps becomes some 80 MiB of dicts before anything can look at them; a server
    # decodes what any authenticated client sends, so that would be a 64x lever on its memory.
    data = _empty_maps(1 << 20)
    peak, error = _decode_traced(function, data)
    assert peak < 12 * len(data), f"decoding {len(data)} bytes peaked at {peak} bytes"
    assert isinstance(error, CodecError) and "one array or map per" in str(error)


def test_real_frames_stay_well_inside_the_container_budget() -> None:
    records = tuple(
        Episode(task=f"t{i}", steps=("a",), tags=("x",), metadata={"k": [1, {"y": []}], "z": {}}) for i in range(2000)
    )
    command = AddRecords(records)
    assert codec.decode(codec.encode(command)) == command
    batch = Batch(tuple(RecordUse(f"s{i}", True, 1.0) for i in range(2000)))
    assert codec.decode(codec.encode(batch)) == batch
