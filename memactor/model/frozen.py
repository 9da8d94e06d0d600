"""Read-only JSON values: how a record holds its ``metadata`` and an update its ``changes``.

Records are values: what was validated is what gets written. A record therefore keeps its own copy of the
metadata it was given, made of `FrozenDict` and `FrozenList`, which refuse every change. They are subclasses
of ``dict`` and ``list`` so that code written for plain JSON keeps working: they compare equal to dicts and
lists with the same content, ``json.dumps`` and msgpack encode them, ``isinstance(m, dict)`` holds. To change
metadata, build a new value (``{**record.metadata, "k": v}``, ``record.metadata.copy()``) and a new record.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["EMPTY", "FrozenDict", "FrozenList", "freeze"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: a record's metadata cannot change after it was built"
        " (copy it, e.g. {**record.metadata, 'key': value}, and build a new record)"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every change; ``copy()`` and ``|`` return a plain, mutable ``dict``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduction rebuilds a dict subclass item by item through __setitem__.
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


class FrozenList(list[Any]):
    """A ``list`` that refuses every change; ``copy()`` and ``+`` return a plain, mutable ``list``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"


# Most records carry no metadata: they all share this one.
EMPTY = FrozenDict()


def freeze(value: Any) -> Any:
    """Return ``value`` with every dict and list (or tuple) in it copied into its frozen form, unchecked.

    Only for values that were validated when first stored or encoded (rows, trusted frames, a server's
    results); user input goes through `memactor.model.validate.check_metadata`, which checks and freezes it.
    """
    kind = type(value)
    if kind is dict or kind is FrozenDict:
        if not value:
            return EMPTY
        frozen = FrozenDict(value)
        for key, item in frozen.items():
            if type(item) in _CONTAINERS:
                dict.__setitem__(frozen, key, freeze(item))
        return frozen
    if kind in _CONTAINERS:
        frozen_list = FrozenList(value)
        for index, item in enumerate(frozen_list):
            if type(item) in _CONTAINERS:
                list.__setitem__(frozen_list, index, freeze(item))
        return frozen_list
    return value


# Exact types: the values given to `freeze` were decoded from JSON or msgpack, or built by this module.
_CONTAINERS = frozenset({dict, list, tuple, FrozenDict, FrozenList})
