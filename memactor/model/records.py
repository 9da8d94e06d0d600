"""The three kinds of memory as frozen records, and the search `Hit`.

Records validate themselves on construction, so a record that exists is storable; lists given for tuple
fields are turned into tuples. Records are values: ``metadata`` is copied into a read-only form
(`memactor.model.frozen`) before it is checked, so nothing done to a record, or to the dict it was built from,
after it was built can change what gets written. `id` is generated client-side and time-ordered, so a
batch can refer to ids it creates and a retried add with the same id is idempotent.
"""

from __future__ import annotations

import dataclasses
import os
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from .frozen import EMPTY
from .validate import (
    check_float,
    check_id,
    check_id_tuple,
    check_int,
    check_metadata,
    check_optional_bool,
    check_optional_float,
    check_optional_text,
    check_text,
    check_text_tuple,
)

__all__ = ["Episode", "Fact", "Hit", "Record", "Skill", "new_id"]

# Fields the writer owns: an update may not set them.
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "version"})


# Ids need uniqueness, not secrecy: a PRNG seeded from the OS (and reseeded in a forked child, which would
# otherwise repeat its parent's sequence) is 9x cheaper per id than `secrets`, which reads os.urandom.
_random = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _random.seed(secrets.randbits(128)))


def new_id() -> str:
    """Return a new record id: 16 hex digits of nanoseconds since the epoch, then 16 random ones."""
    return f"{time.time_ns():016x}{_random.getrandbits(64):016x}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    id: str = field(default_factory=new_id)
    namespace: str = "default"
    agent_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    created_at: float | None = None
    updated_at: float | None = None
    version: int = 0

    KIND: ClassVar[str] = ""

    def _check_base(self) -> None:
        check_id("id", self.id)
        check_text("namespace", self.namespace, required=True)
        check_optional_text("agent_id", self.agent_id)
        _coerce(self, "tags", check_text_tuple("tags", self.tags))
        _coerce(self, "metadata", check_metadata("metadata", self.metadata))
        for name in ("created_at", "updated_at"):
            _coerce(self, name, check_optional_float(name, getattr(self, name)))
        check_int("version", self.version)

    def user_fields(self) -> dict[str, Any]:
        """The fields a user sets, without the ones the writer maintains (times and version)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("created_at", "updated_at", "version"):
            del values[name]
        return values


def _coerce(record: object, name: str, value: object) -> None:
    # Frozen dataclasses allow setting during __post_init__ through object.__setattr__ only; most values
    # come in the right type already and are left alone (records are built on every call).
    if value is not getattr(record, name):
        object.__setattr__(record, name, value)


@dataclass(frozen=True, slots=True)
class Episode(_Base):
    """What happened when a task ran.

    Attributes:
        task: What the agent set out to do (required, searchable).
        steps: The actions it took, in order (searchable).
        outcome: What came of it (searchable).
        success: Whether it worked, or None when unknown.
        reward: An optional finite score.
        importance: How much this episode should weigh in search, 0..1.
    """

    task: str
    steps: tuple[str, ...] = ()
    outcome: str = ""
    success: bool | None = None
    reward: float | None = None
    importance: float = 0.5

    KIND: ClassVar[str] = "episode"

    def __post_init__(self) -> None:
        self._check_base()
        check_text("task", self.task, required=True)
        _coerce(self, "steps", check_text_tuple("steps", self.steps))
        check_text("outcome", self.outcome)
        check_optional_bool("success", self.success)
        _coerce(self, "reward", check_optional_float("reward", self.reward))
        _coerce(self, "importance", check_float("importance", self.importance, low=0.0, high=1.0))


@dataclass(frozen=True, slots=True)
class Fact(_Base):
    """A fact or pattern learned from experience.

    Attributes:
        content: The fact itself (required, searchable).
        confidence: How sure the agents are, 0..1; weighs in search like an episode's importance.
        source_episode_ids: The episodes it was learned from.
    """

    content: str
    confidence: float = 0.5
    source_episode_ids: tuple[str, ...] = ()

    KIND: ClassVar[str] = "fact"

    def __post_init__(self) -> None:
        self._check_base()
        check_text("content", self.content, required=True)
        _coerce(self, "confidence", check_float("confidence", self.confidence, low=0.0, high=1.0))
        _coerce(self, "source_episode_ids", check_id_tuple("source_episode_ids", self.source_episode_ids))


@dataclass(frozen=True, slots=True)
class Skill(_Base):
    """A named, reusable procedure.

    Attributes:
        name: Unique within its namespace (required, searchable).
        description: What it does and when to use it (searchable).
        steps: The action sequence (searchable).
        code: Optional source code (searchable).
        uses: How often it was used (maintained by `record_use`).
        successes: How often a use succeeded.
        last_used_at: When it was last used (epoch seconds).
    """

    name: str
    description: str = ""
    steps: tuple[str, ...] = ()
    code: str = ""
    uses: int = 0
    successes: int = 0
    last_used_at: float | None = None

    KIND: ClassVar[str] = "skill"

    def __post_init__(self) -> None:
        self._check_base()
        check_text("name", self.name, required=True)
        check_text("description", self.description)
        _coerce(self, "steps", check_text_tuple("steps", self.steps))
        check_text("code", self.code)
        check_int("uses", self.uses)
        check_int("successes", self.successes, high=self.uses)
        _coerce(self, "last_used_at", check_optional_float("last_used_at", self.last_used_at))


Record: TypeAlias = Episode | Fact | Skill
RECORD_TYPES: dict[str, type[Record]] = {cls.KIND: cls for cls in (Episode, Fact, Skill)}


def unchecked_builder(
    cls: type[Record], convert: Mapping[str, Callable[[Any], Any]], offset: int = 0
) -> Callable[[Sequence[Any]], Record]:
    """Return a function that builds a ``cls`` from its field values in field order, skipping validation.

    Only for values validated when their record was first built: rows the writer stored, frames this
    process encoded. The field value at ``offset + i`` goes to the i-th field, through ``convert[name]``
    when given; values past the last field are ignored.
    """
    # Every read builds records, so this is generated as straight-line code, as dataclasses generate
    # __init__: it measured 2.2x faster than a loop of object.__setattr__ over an episode's 14 fields.
    names = [f.name for f in dataclasses.fields(cls)]
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def build(values):", "    record = new(cls)"]
    for index, name in enumerate(names):
        namespace[f"set_{name}"] = getattr(cls, name).__set__  # the slot's own setter: frozen-proof
        value = f"values[{offset + index}]"
        if name in convert:
            namespace[f"convert_{name}"] = convert[name]
            value = f"convert_{name}({value})"
        lines.append(f"    set_{name}(record, {value})")
    lines.append("    return record")
    exec("\n".join(lines), namespace)
    return namespace["build"]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result and how its score was made.

    ``score = w_relevance * relevance + w_recency * recency + w_importance * importance
    (+ w_success * success_rate for skills)``, every part within 0..1. What ``relevance`` is depends on the
    search's mode: ``"text"``, bm25 scaled so the best candidate scores 1; ``"vector"``, the cosine
    similarity (negative clipped to 0); ``"hybrid"``, weighted reciprocal rank fusion of the text and
    vector candidate lists, ``(0.5 / (10 + text_rank) + 1 / (10 + vector_rank)) * 11 / 1.5`` (a list the
    record is not in adds 0), so a record first in both scores 1.

    Attributes:
        record: The record found.
        score: The blended score; results are sorted by it, highest first.
        relevance: Relevance to the query within 0..1 (see above; 0 when searching without text).
        recency: ``0.5 ** (age / half_life)``.
        importance: The episode's importance, the fact's confidence, or 0.5 for skills.
        success_rate: For skills, ``(successes + 1) / (uses + 2)``; None otherwise.
        similarity: The cosine similarity of the record's vector to the query's, clipped to 0..1, in
            ``"vector"`` and ``"hybrid"`` mode (0 for a record without a vector); None in ``"text"`` mode.
    """

    record: Record
    score: float
    relevance: float
    recency: float
    importance: float
    success_rate: float | None = None
    similarity: float | None = None
