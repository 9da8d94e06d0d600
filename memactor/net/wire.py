"""The server protocol's framing: length-prefixed msgpack messages, the handshake, and errors.

A frame is a 4-byte big-endian length, then a msgpack array ``[request_id, type, payload]``. Requests
carry a client-chosen id; each reply carries the id of its request, so many requests may be in flight on
one connection and replies may come back in any order. The first frame on a connection is ``HELLO``
(protocol version, token, session), answered by ``WELCOME`` or by an ``ERROR`` and a closed connection.

Payloads: ``EXECUTE`` holds ``[write_id, done_below, command]`` where ``command`` is the very bytes of
`memactor.codec.encode`; ``QUERY`` holds a query as encoded by `memactor.net.payloads`; ``STATS`` holds
nothing. ``RESULT`` holds the value (see `memactor.net.payloads`), ``ERROR`` holds ``[class name, message]``,
re-raised client-side as the same class of `memactor.errors`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .. import errors
from ..codec import pack, unpack
from ..errors import CodecError, MemactorError

__all__ = [
    "DEFAULT_MAX_FRAME",
    "HANDSHAKE_MAX_FRAME",
    "HANDSHAKE_MAX_ITEMS",
    "HEADER_SIZE",
    "PROTOCOL_VERSION",
    "FrameTooLargeError",
    "Message",
    "MessageType",
    "error_from_wire",
    "error_to_wire",
    "frame_length",
    "pack_frame",
    "unpack_message",
]

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
# The HELLO is a handful of short strings: a few KiB bounds what an unauthenticated peer can make the
# server buffer and decode, checked on the length prefix before any of the body is read.
HANDSHAKE_MAX_FRAME = 4096
# Entries of any one array or map in a HELLO (it has four keys; room for a few more in later versions).
HANDSHAKE_MAX_ITEMS = 32
HEADER_SIZE = 4
_HEADER = struct.Struct(">I")
_MAX_REQUEST_ID = 2**63 - 1
# Every class of the error tree, by name: only these names are ever re-raised as themselves.
_ERROR_CLASSES: dict[str, type[MemactorError]] = {
    name: cls
    for name in errors.__all__
    if isinstance(cls := getattr(errors, name), type) and issubclass(cls, MemactorError)
}


class MessageType(IntEnum):
    """What a frame carries."""

    HELLO = 1
    WELCOME = 2
    EXECUTE = 3
    QUERY = 4
    STATS = 5
    RESULT = 6
    ERROR = 7


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded frame."""

    request_id: int
    type: MessageType
    payload: Any


class FrameTooLargeError(CodecError):
    """Raised when a length prefix announces a frame over the limit; nothing was allocated for it."""


def pack_frame(request_id: int, kind: MessageType, payload: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Encode one message as a frame: length prefix and msgpack body.

    Args:
        request_id: The request's id (0 for the handshake and for errors about unreadable frames).
        kind: The message type.
        payload: A msgpack-native value; ``default`` encodes anything else.
        default: msgpack's hook for values it cannot encode natively.

    Raises:
        CodecError: the payload cannot be encoded.
    """
    try:
        body = pack([request_id, int(kind), payload], default)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode a {kind.name} message: {exc}") from exc
    return _HEADER.pack(len(body)) + body


def frame_length(header: bytes, limit: int) -> int:
    """Read the body length from a frame's 4-byte header.

    Raises:
        FrameTooLargeError: the length is over ``limit``.
        CodecError: the length is zero.
    """
    (length,) = _HEADER.unpack(header)
    if length > limit:
        raise FrameTooLargeError(f"frame of {length} bytes refused: the limit is {limit}")
    if length == 0:
        raise CodecError("empty frame")
    return length  # type: ignore[no-any-return]


def unpack_message(
    body: bytes,
    *,
    use_list: bool = False,
    ext_hook: Callable[[int, bytes], Any] | None = None,
    max_items: int | None = None,
) -> Message:
    """Decode a frame's body into a `Message`.

    Args:
        body: The bytes after the length prefix.
        use_list: Decode arrays as lists (results) rather than tuples (requests).
        ext_hook: How to decode msgpack extension types (results only; requests carry none).
        max_items: Most entries any one array or map may declare (None: as many as the body has bytes).

    Raises:
        CodecError: the body is not ``[request_id, type, payload]`` of a known type.
    """
    try:
        wire = unpack(body, use_list=use_list, ext_hook=ext_hook, max_items=max_items)
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises several unrelated classes for bad input
        raise CodecError(f"a frame is not a message: {type(exc).__name__}: {exc}") from exc
    if not isinstance(wire, (tuple, list)) or len(wire) != 3:
        raise CodecError("a message must be an array [request_id, type, payload]")
    request_id, kind, payload = wire
    if not isinstance(request_id, int) or isinstance(request_id, bool) or not 0 <= request_id <= _MAX_REQUEST_ID:
        raise CodecError("a request id must be an integer within 0..2**63-1")
    try:
        message_type = MessageType(kind)
    except ValueError:
        raise CodecError(f"unknown message type {kind!r}") from None
    return Message(request_id, message_type, payload)


def error_to_wire(exc: BaseException) -> list[str]:
    """The ``ERROR`` payload for ``exc``: memactor errors by class name, anything else as `MemactorError`."""
    if isinstance(exc, MemactorError):
        # The nearest class of the public tree (e.g. CodecError for the wire's own FrameTooLargeError).
        for cls in type(exc).__mro__:
            if _ERROR_CLASSES.get(cls.__name__) is cls:
                return [cls.__name__, str(exc)]
    return ["MemactorError", f"internal server error: {type(exc).__name__}"]


def error_from_wire(payload: Any) -> MemactorError:
    """Rebuild the error an ``ERROR`` payload describes, as the same class of `memactor.errors`."""
    if not isinstance(payload, (list, tuple)) or len(payload) != 2 or not all(isinstance(p, str) for p in payload):
        return CodecError(f"the server sent a malformed error: {payload!r:.200}")
    name, message = payload
    cls = _ERROR_CLASSES.get(name)
    if cls is None:
        return MemactorError(f"{name}: {message}")
    return cls(message)
