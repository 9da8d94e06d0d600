"""The wire format: ``encode(command) -> bytes`` and ``decode(bytes) -> command``.

A frame is a msgpack array ``[tag, field, ...]`` with one stable integer tag per command; records are
``[kind_tag, field, ...]`` in dataclass field order. Tags are never reused: add new ones at the end.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Callable
from typing import Any

import msgpack

from .errors import CodecError, MemactorError
from .model.commands import (
    AddRecords,
    Batch,
    Command,
    DeleteItem,
    DeleteRecord,
    Ping,
    PutItem,
    RecordUse,
    SetEmbedder,
    SetQuota,
    StageVectors,
    StoreVectors,
    SwapEmbedder,
    SweepItems,
    TouchItems,
    UpdateRecord,
)
from .model.frozen import freeze
from .model.records import Episode, Fact, Record, Skill, unchecked_builder

__all__ = ["decode", "decode_frame", "encode", "ext", "pack", "unpack"]

_COMMAND_TAGS: dict[type[Any], int] = {
    AddRecords: 1,
    UpdateRecord: 2,
    DeleteRecord: 3,
    RecordUse: 4,
    Batch: 5,
    SetQuota: 6,
    Ping: 7,
    PutItem: 8,
    DeleteItem: 9,
    TouchItems: 10,
    SweepItems: 11,
    SetEmbedder: 12,
    StoreVectors: 13,
    StageVectors: 14,
    SwapEmbedder: 15,
}
_RECORD_TAGS: dict[type[Any], int] = {Episode: 1, Fact: 2, Skill: 3}
_COMMAND_TYPES = {tag: cls for cls, tag in _COMMAND_TAGS.items()}
_RECORD_TYPES = {tag: cls for cls, tag in _RECORD_TAGS.items()}
_RECORD_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _RECORD_TAGS}
_RECORD_GETTERS = {cls: operator.attrgetter(*names) for cls, names in _RECORD_FIELDS.items()}


def encode(command: Command) -> bytes:
    """Encode a command as one msgpack frame.

    Args:
        command: Any command from `memactor.model.commands`.

    Returns:
        The frame's bytes.

    Raises:
        CodecError: ``command`` is not a command or holds a value msgpack cannot encode.
    """
    try:
        return _packer().pack(_to_wire(command))  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode {type(command).__name__}: {exc}") from exc


_local = threading.local()


def _packer() -> msgpack.Packer:
    # packb builds a Packer per call, half of a small frame's encoding time; a Packer is not thread-safe.
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer(use_bin_type=True)
        return _local.packer


def decode(data: bytes, *, validate: bool = True) -> Command:
    """Decode one frame made by `encode`.

    Args:
        data: The frame's bytes.
        validate: Check every record field as if constructed in process. Only the writer passes False,
            for frames its own handle encoded from records that were validated when they were built.

    Returns:
        The command.

    Raises:
        CodecError: the bytes are not a well-formed frame, name an unknown tag, or hold invalid values.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"decode takes bytes, not {type(data).__name__}")
    try:
        if validate:
            wire = _unpack_bounded(data, use_list=False)
        else:
            wire = msgpack.unpackb(data, raw=False, use_list=False, strict_map_key=True)
        return _command_from_wire(wire, validate)
    except CodecError:
        raise
    except (MemactorError, ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise CodecError(f"bytes do not decode to a command: {type(exc).__name__}: {exc}") from exc


def _to_wire(command: Any) -> list[Any]:
    tag = _COMMAND_TAGS.get(type(command))
    if tag is None:
        raise TypeError(f"{type(command).__name__} is not a command")
    match command:
        case AddRecords(records=records, vectors=None):
            return [tag, [_record_to_wire(r) for r in records]]
        case AddRecords(records=records, vectors=tuple() as vectors):
            return [tag, [_record_to_wire(r) for r in records], list(vectors)]
        case UpdateRecord(vector=None):
            # Without a vector, the frame is the one memactor wrote before vectors existed.
            return [tag, *(getattr(command, f.name) for f in dataclasses.fields(command))][:-1]
        case Batch(commands=commands):
            return [tag, [_to_wire(c) for c in commands]]
        case _:
            return [tag, *(getattr(command, f.name) for f in dataclasses.fields(command))]


def _record_to_wire(record: Record) -> list[Any]:
    return [_RECORD_TAGS[type(record)], *_RECORD_GETTERS[type(record)](record)]


def _command_from_wire(wire: object, validate: bool = True) -> Command:
    if not isinstance(wire, tuple) or not wire or not isinstance(wire[0], int) or isinstance(wire[0], bool):
        raise CodecError("a frame must be an array that starts with an integer tag")
    cls = _COMMAND_TYPES.get(wire[0])
    if cls is None:
        raise CodecError(f"unknown command tag {wire[0]}")
    fields = wire[1:]
    if cls is AddRecords:
        vectors: Any = None
        if len(fields) == 2:
            fields, vectors = fields[:1], fields[-1]
            if not isinstance(vectors, tuple):
                raise CodecError("AddRecords.vectors must be an array")
        return AddRecords(tuple(_record_from_wire(r, validate) for r in _one_array(fields)), vectors)
    if cls is Batch:
        return Batch(tuple(_command_from_wire(c, validate) for c in _one_array(fields)))
    expected = len(dataclasses.fields(cls))
    if cls is UpdateRecord and len(fields) == expected - 1:
        fields = (*fields, None)  # no vector
    if len(fields) != expected:
        raise CodecError(f"{cls.__name__} takes {expected} fields, not {len(fields)}")
    if cls is UpdateRecord:
        kind, record_id, changes, expect_version, at, vector = fields
        return UpdateRecord(kind, record_id, changes, expect_version, at, vector)  # it checks and freezes them
    return cls(*fields)  # type: ignore[no-any-return]


def _one_array(fields: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(fields) != 1 or not isinstance(fields[0], tuple):
        raise CodecError("expected one array field")
    return fields[0]


def _record_from_wire(wire: object, validate: bool = True) -> Record:
    if not isinstance(wire, tuple) or not wire:
        raise CodecError("a record must be a non-empty array")
    cls = _RECORD_TYPES.get(wire[0])
    if cls is None:
        raise CodecError(f"unknown record tag {wire[0]!r}")
    names = _RECORD_FIELDS[cls]
    if len(wire) - 1 != len(names):
        raise CodecError(f"{cls.__name__} takes {len(names)} fields, not {len(wire) - 1}")
    if validate:
        # The record checks its metadata and copies it into its frozen form (arrays decode as tuples).
        return cls(**dict(zip(names, wire[1:], strict=True)))  # type: ignore[no-any-return]
    # Validation is most of a decode's cost, and the record was validated when it was built.
    return _UNCHECKED[cls](wire)


# Trusted frames skip validation; their wire arrays start with the record's tag, hence offset 1.
_UNCHECKED = {cls: unchecked_builder(cls, {"metadata": freeze}, offset=1) for cls in _RECORD_TAGS}


# The server protocol (`memactor.net.wire`, `memactor.net.payloads`) frames its messages with these, so msgpack
# stays behind this module. They raise msgpack's own errors; callers map them to `CodecError`.


def pack(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """msgpack-encode ``value`` (``default`` encodes what msgpack cannot)."""
    return msgpack.packb(value, use_bin_type=True, default=default)  # type: ignore[no-any-return]


def unpack(
    data: bytes,
    *,
    use_list: bool = False,
    ext_hook: Callable[[int, bytes], Any] | None = None,
    max_items: int | None = None,
) -> Any:
    """msgpack-decode ``data``; arrays as tuples unless ``use_list``; ``ext_hook`` decodes extension types.

    ``max_items`` caps the entries of any one array or map (msgpack's own cap is ``len(data)``), so a
    small message cannot declare a container far larger than what it is allowed to carry.
    """
    limits: dict[str, Any] = {}
    if max_items is not None:
        limits = {"max_array_len": max_items, "max_map_len": max_items}
    if ext_hook is not None:
        limits["ext_hook"] = ext_hook
    return _unpack_bounded(data, use_list=use_list, **limits)


# Bytes of input per array or map, at least, in anything decoded from outside the process. An empty map is one
# byte of msgpack but some 64 bytes of Python, so without a bound an 8 MiB frame of empty maps becomes 512 MiB
# before any check can look at it. Real frames hold far fewer containers: an episode is one array with three
# small ones inside, and at least 40 bytes.
BYTES_PER_CONTAINER = 8


class _ContainerBudget:
    """Counts the arrays and maps msgpack builds for one frame and stops the decode past the budget."""

    __slots__ = ("left",)

    def __init__(self, size: int) -> None:
        self.left = size // BYTES_PER_CONTAINER + 64

    def __call__(self, container: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise CodecError(
                f"a frame may hold at most one array or map per {BYTES_PER_CONTAINER} bytes; this one holds more"
            )
        return container


def _unpack_bounded(data: bytes, *, use_list: bool, **options: Any) -> Any:
    budget = _ContainerBudget(len(data))
    return msgpack.unpackb(
        data, raw=False, use_list=use_list, strict_map_key=True, list_hook=budget, object_hook=budget, **options
    )


def ext(code: int, data: bytes) -> Any:
    """A msgpack extension value of type ``code`` (for a ``default`` hook)."""
    return msgpack.ExtType(code, data)


def decode_frame(frame: bytes, trusted: bool) -> Command | CodecError:
    """Decode one command frame for a group commit: its `CodecError` is returned, not raised, so that one bad
    frame fails alone (what `decode` does not map, a bug in a frame's bytes, becomes a `CodecError` too).

    Args:
        frame: The encoded command.
        trusted: The frame was encoded in this process (`decode` skips validation).
    """
    try:
        return decode(frame, validate=not trusted)
    except CodecError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - `decode` maps what it expects; anything else is this frame's
        return CodecError(f"bytes do not decode to a command: {type(exc).__name__}: {exc}")
