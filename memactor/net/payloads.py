"""What crosses the socket besides commands: queries, and the values that answer requests.

Queries are arrays ``[tag, field, ...]`` with one stable integer tag per query type (never reused; add
new ones at the end), filters and search weights as arrays of their fields in dataclass order. A `Page`
may carry one more element after its fields: the key of the stream it belongs to, so that the server reads
every page of one stream on one read lane (see `memactor.net.streams`). Clients send it only to a server
whose ``WELCOME`` says ``"stream_lanes": true``; a query without it is served as before.
Results are msgpack values in which records, hits and statistics are extension types, so a reply is
self-describing: ids, counts and booleans stay native, and the client rebuilds the same frozen values
`memactor.open()` returns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..codec import ext, pack, unpack
from ..errors import CodecError, MemactorError
from ..model.filters import Filters
from ..model.frozen import freeze
from ..model.items import Item
from ..model.queries import Count, Get, GetByName, GetItems, ListNamespaces, Page, Query, Search, SearchItems
from ..model.ranking import SearchWeights
from ..model.records import Episode, Fact, Hit, Record, Skill
from ..model.stats import Statistics
from ..model.validate import check_float

__all__ = ["MAX_STREAM_KEY", "decode_query", "decode_query_request", "decode_value", "encode_query", "encode_value"]

# Stream keys are msgpack's non-negative int64 range, as request ids are.
MAX_STREAM_KEY = 2**63 - 1

_QUERY_TAGS: dict[type[Any], int] = {
    Get: 1,
    Search: 2,
    Page: 3,
    Count: 4,
    GetByName: 5,
    GetItems: 6,
    SearchItems: 7,
    ListNamespaces: 8,
}
_QUERY_TYPES = {tag: cls for cls, tag in _QUERY_TAGS.items()}
_PAGE_WIRE_LENGTH = 1 + len(dataclasses.fields(Page))
_RECORD_TAGS: dict[type[Any], int] = {Episode: 1, Fact: 2, Skill: 3}
_RECORD_TYPES = {tag: cls for cls, tag in _RECORD_TAGS.items()}
_RECORD_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _RECORD_TAGS}
_EXT_RECORD, _EXT_HIT, _EXT_STATISTICS, _EXT_ITEM = 1, 2, 3, 4


def _fields(value: Any) -> list[Any]:
    return [getattr(value, f.name) for f in dataclasses.fields(value)]


def encode_query(query: Query, stream: int | None = None) -> list[Any]:
    """The wire form of ``query``: ``[tag, field, ...]``, filters and weights as arrays of fields.

    Args:
        query: The query.
        stream: For a `Page`, the key of its stream, sent after its fields (None: no key).
    """
    fields = [_fields(value) if isinstance(value, (Filters, SearchWeights)) else value for value in _fields(query)]
    key = [stream] if stream is not None and isinstance(query, Page) else []
    return [_QUERY_TAGS[type(query)], *fields, *key]


def decode_query_request(wire: Any) -> tuple[Query, int | None]:
    """Rebuild a ``QUERY`` payload: the query, validated, and its stream key (None when it has none).

    Raises:
        CodecError: as `decode_query`, or a stream key that is not an integer within 1..2**63-1.
    """
    if isinstance(wire, tuple) and len(wire) == _PAGE_WIRE_LENGTH + 1 and wire[0] == _QUERY_TAGS[Page]:
        key = wire[-1]
        if type(key) is not int or not 0 < key <= MAX_STREAM_KEY:
            shown = key if type(key) is int else type(key).__name__
            raise CodecError(f"a Page's stream key must be an integer within 1..2**63-1, not {shown}")
        return decode_query(wire[:-1]), key
    return decode_query(wire), None


def decode_query(wire: Any) -> Query:
    """Rebuild and validate a query from its wire form (decoded with arrays as tuples).

    Raises:
        CodecError: an unknown tag, a wrong shape, or an invalid value.
    """
    if not isinstance(wire, tuple) or not wire or type(wire[0]) is not int:
        raise CodecError("a query must be an array that starts with an integer tag")
    cls = _QUERY_TYPES.get(wire[0])
    if cls is None:
        raise CodecError(f"unknown query tag {wire[0]}")
    fields = list(wire[1:])
    names = [f.name for f in dataclasses.fields(cls)]
    if len(fields) != len(names):
        raise CodecError(f"{cls.__name__} takes {len(names)} fields, not {len(fields)}")
    try:
        for index, name in enumerate(names):
            if name == "filters":
                fields[index] = _build(Filters, fields[index])
            elif name == "weights":
                fields[index] = _build(SearchWeights, fields[index])
            elif name == "now":
                fields[index] = check_float("now", fields[index])
        return cls(*fields)  # type: ignore[no-any-return]
    except CodecError:
        raise
    except (MemactorError, ValueError, TypeError) as exc:
        raise CodecError(f"invalid {cls.__name__}: {exc}") from exc


def _build(cls: type[Any], wire: Any) -> Any:
    if not isinstance(wire, tuple) or len(wire) != len(dataclasses.fields(cls)):
        raise CodecError(f"{cls.__name__} must be an array of {len(dataclasses.fields(cls))} fields")
    return cls(*wire)


def encode_value(value: Any) -> Any:
    """msgpack's ``default`` hook for results: records, hits and statistics become extension types.

    Raises:
        TypeError: the value is of no type a result can hold.
    """
    if isinstance(value, (Episode, Fact, Skill)):
        fields = [getattr(value, name) for name in _RECORD_FIELDS[type(value)]]
        return ext(_EXT_RECORD, _pack([_RECORD_TAGS[type(value)], *fields]))
    if isinstance(value, Hit):
        return ext(_EXT_HIT, _pack(_fields(value)))
    if isinstance(value, Item):
        return ext(_EXT_ITEM, _pack(_fields(value)))
    if isinstance(value, Statistics):
        fields = _fields(value)
        fields[[f.name for f in dataclasses.fields(Statistics)].index("batch_size_histogram")] = list(
            value.batch_size_histogram.items()
        )
        return ext(_EXT_STATISTICS, _pack(fields))
    raise TypeError(f"a result cannot hold a {type(value).__name__}")


def _pack(value: Any) -> bytes:
    return pack(value, encode_value)


def decode_value(code: int, data: bytes) -> Any:
    """msgpack's ``ext_hook`` for results: rebuild the records, hits and statistics `encode_value` made.

    Raises:
        CodecError: an unknown extension type or a malformed value.
    """
    fields = unpack(data, use_list=True, ext_hook=decode_value)
    try:
        if code == _EXT_RECORD:
            return _record(fields)
        if code == _EXT_HIT:
            return Hit(*fields)
        if code == _EXT_ITEM:
            return _item(fields)
        if code == _EXT_STATISTICS:
            names = [f.name for f in dataclasses.fields(Statistics)]
            values = dict(zip(names, fields, strict=True))
            values["batch_size_histogram"] = {int(k): int(v) for k, v in values["batch_size_histogram"]}
            return Statistics(**values)
    except (MemactorError, ValueError, TypeError) as exc:
        raise CodecError(f"malformed result value (extension type {code}): {exc}") from exc
    raise CodecError(f"unknown result extension type {code}")


def _record(fields: list[Any]) -> Record:
    cls = _RECORD_TYPES.get(fields[0]) if fields else None
    if cls is None:
        raise CodecError("malformed record in a result")
    # The server built these records from its own rows: skip re-validating them (most of a decode's cost),
    # as `memactor.codec` does for trusted frames. Arrays are tuple fields; metadata is frozen, as the
    # server's own copy was.
    record = object.__new__(cls)
    for name, value in zip(_RECORD_FIELDS[cls], fields[1:], strict=True):
        if name == "metadata":
            value = freeze(value)
        object.__setattr__(record, name, tuple(value) if type(value) is list else value)
    return record  # type: ignore[no-any-return]


def _item(fields: list[Any]) -> Item:
    # Built from the server's own rows: the value is frozen, not validated again (as for records).
    names = [f.name for f in dataclasses.fields(Item)]
    if len(fields) != len(names) or not isinstance(fields[0], list):
        raise CodecError("malformed item in a result")
    item = object.__new__(Item)
    for name, value in zip(names, fields, strict=True):
        object.__setattr__(item, name, tuple(value) if name == "namespace" else freeze(value))
    return item
