"""Items: JSON documents stored under a (namespace tuple, key) address, the shape LangGraph's stores use.

A namespace is a tuple of labels, most general first (``("users", "u1", "memories")``). Labels are non-empty
strings without dots, so the database keeps a namespace as its labels joined with ``"."``: a namespace and
every namespace below it are then one contiguous range of that column (``"a.b"`` and ``"a.b." <= path <
"a.b/"``), which an index answers with a range scan. The first label is the namespace's root: a scoped
token's namespaces are roots (`memactor.net.scope`).

An `Item` is a value like the records: its ``value`` is a frozen copy (`memactor.model.frozen`) of a
strict-JSON object. Times are seconds since the epoch; ``ttl`` is in seconds too (LangGraph speaks
minutes: its adapter converts).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from .frozen import FrozenDict
from .validate import check_float, check_int, check_metadata

__all__ = [
    "MAX_KEY_CHARS",
    "MAX_LABEL_CHARS",
    "MAX_NAMESPACE_DEPTH",
    "Item",
    "check_item_key",
    "check_namespace",
    "check_ttl",
    "join_namespace",
    "split_namespace",
    "value_text",
]

MAX_LABEL_CHARS = 256
MAX_NAMESPACE_DEPTH = 32
MAX_KEY_CHARS = 1024
# A TTL beyond a thousand years is a mistake, not a lifetime (and would overflow nothing, but read oddly).
MAX_TTL_S = 1000 * 365 * 86_400.0
SEPARATOR = "."


def check_namespace(name: str, value: object, *, allow_empty: bool = False, wildcard: bool = False) -> tuple[str, ...]:
    """Return ``value`` as a tuple of labels if it is a valid namespace.

    Args:
        name: What the value is, for the error message.
        value: A tuple (or list) of labels: non-empty strings without dots, at most 256 characters each.
        allow_empty: Accept ``()`` (a search prefix that covers everything).
        wildcard: Accept ``"*"`` as a label (a match condition of `ListNamespaces`).

    Raises:
        InvalidInputError: not a tuple of valid labels.
    """
    if not isinstance(value, (tuple, list)):
        raise InvalidInputError(f"{name} must be a tuple of strings, not {type(value).__name__}")
    labels = tuple(value)
    if not labels and not allow_empty:
        raise InvalidInputError(f"{name} must have at least one label")
    if len(labels) > MAX_NAMESPACE_DEPTH:
        raise InvalidInputError(f"{name} has {len(labels)} labels; the limit is {MAX_NAMESPACE_DEPTH}")
    for label in labels:
        if type(label) is not str:
            raise InvalidInputError(f"{name} labels must be strings, not {type(label).__name__}")
        if not label or SEPARATOR in label or len(label) > MAX_LABEL_CHARS:
            raise InvalidInputError(
                f"{name} label {label[:80]!r} is invalid: labels are 1-{MAX_LABEL_CHARS} characters without dots"
            )
        if label == "*" and not wildcard:
            raise InvalidInputError(f"{name}: '*' is a wildcard, allowed only in list_namespaces conditions")
        if not label.isascii() and not _encodable(label):
            raise InvalidInputError(f"{name} label {label[:80]!r} is not valid Unicode text (a lone surrogate)")
    return labels


def check_item_key(value: object) -> str:
    """Return ``value`` if it is an item key: a string of 1-1024 characters."""
    if type(value) is not str:
        raise InvalidInputError(f"an item key must be a str, not {type(value).__name__}")
    if not value or len(value) > MAX_KEY_CHARS:
        raise InvalidInputError(f"an item key must be 1-{MAX_KEY_CHARS} characters, not {len(value)}")
    if not value.isascii() and not _encodable(value):
        raise InvalidInputError(f"item key {value[:80]!r} is not valid Unicode text (a lone surrogate)")
    return value


def check_ttl(value: object) -> float | None:
    """Return ``value`` if it is None or a time to live in seconds, positive and finite."""
    if value is None:
        return None
    ttl = check_float("ttl", value)
    if not 0 < ttl <= MAX_TTL_S:
        raise InvalidInputError(f"ttl must be seconds in (0, {MAX_TTL_S:.0f}], not {value!r}")
    return ttl


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def join_namespace(namespace: tuple[str, ...]) -> str:
    """The stored form of a namespace: its labels joined with dots (which no label contains)."""
    return SEPARATOR.join(namespace)


def split_namespace(path: str) -> tuple[str, ...]:
    """The namespace tuple of a stored path (the inverse of `join_namespace`)."""
    return tuple(path.split(SEPARATOR))


def value_text(value: Any) -> str:
    """The text a query searches in a value: its string leaves (not its keys), one per line, in order."""
    return "\n".join(_strings(value))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


@dataclass(frozen=True, slots=True)
class Item:
    """One stored JSON document.

    Attributes:
        namespace: Its namespace, a tuple of labels.
        key: Its key within the namespace.
        value: The document: a read-only dict (`memactor.model.frozen.FrozenDict`).
        created_at: When it was first put (seconds since the epoch); a replacement keeps it.
        updated_at: When it was last put.
        version: 1 when first put, one more with every replacement.
        ttl: Its time to live in seconds, or None if it never expires.
        expires_at: When it expires unless read (a read with ``refresh_ttl`` pushes it back), or None.
    """

    namespace: tuple[str, ...]
    key: str
    value: Mapping[str, Any]
    created_at: float
    updated_at: float
    version: int
    ttl: float | None = None
    expires_at: float | None = None

    def __post_init__(self) -> None:
        # Items come from rows the writer stored or from a server's answer: the value is frozen, not re-checked.
        if type(self.value) is not FrozenDict:
            object.__setattr__(self, "value", check_metadata("value", self.value))
        object.__setattr__(self, "namespace", tuple(self.namespace))
        check_int("version", self.version, low=1)
