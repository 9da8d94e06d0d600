"""The three stores, `episodes`, `facts` and `skills`: typed methods that build commands and queries.

A store validates every argument before anything is sent, so a bad call fails in its caller with
`InvalidInputError` and never reaches the writer's mailbox.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncGenerator, Iterable
from typing import Any, ClassVar, Generic, TypeVar, cast

from ..embed.coalesce import Coalescer
from ..embed.protocol import TEXT_FIELDS, record_text, to_blobs
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..model.commands import AddRecords, Command, DeleteRecord, RecordUse, UpdateRecord
from ..model.filters import Filters
from ..model.queries import SEARCH_MODES, Count, Get, GetByName, Page, Search
from ..model.ranking import SearchWeights
from ..model.records import Episode, Fact, Hit, Skill
from ..model.validate import check_id, check_limit, check_query_text, check_text
from .backend import Backend
from .readpool import LaneAffinity, same_lane

__all__ = ["EpisodeStore", "FactStore", "SkillStore", "Store", "add_command", "update_command"]

R = TypeVar("R", Episode, Fact, Skill)
# A valid record of each kind, to validate update changes by applying them to it. The skill's `uses` is at its
# maximum so a `successes` change alone passes here; the writer checks it against the stored record's `uses`.
_PROTOTYPES = {"episode": Episode("x"), "fact": Fact("x"), "skill": Skill("x", uses=2**63 - 1)}
# Built once: weights are frozen, and validating them on every search is wasted work.
_DEFAULT_WEIGHTS = SearchWeights()
# Stream pages fetched per read: several per thread hop, since one hop per page cost ~40% at 100 rows.
_PAGES_PER_READ = 4
# How often an update with a vector is tried when other updates of its record keep landing first.
_UPDATE_ATTEMPTS = 8


def add_command(record_type: type[R], records: Iterable[R]) -> AddRecords:
    """Build the command that adds ``records``, refusing records of another kind."""
    records = _as_tuple("records", records)
    for record in records:
        if type(record) is not record_type:
            raise InvalidInputError(f"expected {record_type.__name__}, got {type(record).__name__}")
    return AddRecords(records)


def _as_tuple(name: str, values: Iterable[Any]) -> tuple[Any, ...]:
    # A str is iterable too, but its characters are not ids or records.
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{name} must be an iterable (not a {type(values).__name__})")
    return tuple(values)


def update_command(kind: str, record_id: str, expect_version: int | None, changes: dict[str, Any]) -> UpdateRecord:
    """Build an update command, validating ``changes`` against the record type first."""
    check_id("id", record_id)
    command = UpdateRecord(kind, record_id, changes, expect_version, time.time())  # a frozen copy of changes
    try:
        dataclasses.replace(_PROTOTYPES[kind], **command.changes)
    except TypeError as exc:
        raise InvalidInputError(f"update of {kind} {record_id}: {exc}") from None
    return command


class Store(Generic[R]):
    """Methods common to every kind of memory."""

    kind: ClassVar[str]
    record_type: type[R]

    def __init__(self, backend: Backend, embedding: Coalescer | None = None) -> None:
        self._backend = backend
        self._embedding = embedding

    async def _with_vectors(self, command: AddRecords) -> AddRecords:
        # Embedded before the command enters the mailbox, never inside the writer's transaction.
        if self._embedding is None:
            return command
        matrix = await self._embedding.embed([record_text(record) for record in command.records])
        return AddRecords(command.records, to_blobs(matrix))

    async def add(self, record: R) -> str:
        """Store one record (idempotent for a retried record with the same id and content).

        Returns:
            The record's id.

        Raises:
            InvalidInputError: ``record`` is not of this store's kind.
            ConflictError: the id exists with other content, or (skills) the name is taken.
        """
        command = await self._with_vectors(add_command(self.record_type, (record,)))
        ids: list[str] = await self._backend.execute(command)
        return ids[0]

    async def add_many(self, records: Iterable[R]) -> list[str]:
        """Store several records atomically: all of them or none.

        Returns:
            Their ids, in order.

        Raises:
            InvalidInputError: empty, or a record of another kind.
            ConflictError: as for `add`; then none is stored.
        """
        command = await self._with_vectors(add_command(self.record_type, records))
        return cast(list[str], await self._backend.execute(command))

    async def get(self, record_id: str) -> R:
        """Fetch one record.

        Raises:
            NotFoundError: no record has this id.
        """
        found = await self._backend.query(Get(self.kind, (check_id("id", record_id),)))
        if not found:
            raise NotFoundError(f"{self.kind} {record_id} not found")
        return cast(R, found[0])

    async def get_many(self, record_ids: Iterable[str]) -> list[R]:
        """Fetch several records; ids that do not exist are left out.

        Returns:
            The records found, in the order their ids were given (duplicates once).
        """
        return cast(list[R], await self._backend.query(Get(self.kind, _as_tuple("record_ids", record_ids))))

    async def update(self, record_id: str, *, expect_version: int | None = None, **changes: Any) -> R:
        """Change fields of a record; its version goes up by one.

        Args:
            record_id: The record to change.
            expect_version: If given, change it only if it is still at this version.
            **changes: New values for fields (not ``id``, ``created_at``, ``updated_at`` or ``version``).

        Returns:
            The updated record.

        Raises:
            NotFoundError: no record has this id.
            ConflictError: ``expect_version`` is stale, or (skills) the new name is taken.
            InvalidInputError: an unknown field or an invalid value.
        """
        command = update_command(self.kind, record_id, expect_version, changes)
        if self._embedding is None or not TEXT_FIELDS[self.kind].intersection(command.changes):
            return cast(R, await self._backend.execute(command))
        return await self._update_with_vector(command)

    async def _update_with_vector(self, command: UpdateRecord) -> R:
        """Send the update with the vector of the record it makes, computed from the version it changes.

        The command is pinned to that version: if another update lands first, the writer refuses this one
        (a vector of a text that is no longer the record's must never be stored) and it is computed again.
        """
        assert self._embedding is not None
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self.get(command.id)
            pinned = command.expect_version if command.expect_version is not None else current.version
            try:
                updated = dataclasses.replace(current, **command.changes)
            except TypeError as exc:
                raise InvalidInputError(f"update of {self.kind} {command.id}: {exc}") from None
            matrix = await self._embedding.embed([record_text(updated)])
            attempt = dataclasses.replace(command, expect_version=pinned, vector=to_blobs(matrix)[0])
            try:
                return cast(R, await self._backend.execute(attempt))
            except ConflictError:
                if command.expect_version is not None or (await self.get(command.id)).version == current.version:
                    raise  # the caller's own expectation, or a conflict that is not a newer version
        raise ConflictError(
            f"update of {self.kind} {command.id}: the record kept changing while its vector was computed; try again"
        )

    async def delete(self, record_id: str) -> bool:
        """Delete a record. Works even when the store is at its ``max_size`` quota.

        Returns:
            True if it existed.
        """
        return cast(bool, await self._backend.execute(DeleteRecord(self.kind, check_id("id", record_id))))

    async def search(
        self,
        query: str | None = None,
        *,
        limit: int = 10,
        weights: SearchWeights | None = None,
        mode: str | None = None,
        **filters: Any,
    ) -> list[Hit]:
        """Find records by text, ranked by the blended score (see `Hit`), or the newest first without text.

        Args:
            query: Free text; any word may match. Operators and quotes in it are treated as plain text.
                Empty or whitespace-only text is no text: the newest records first, as without a query.
            limit: At most this many hits, 1..10,000.
            mode: ``"text"`` (words, stemmed), ``"vector"`` (meaning: cosine similarity of embeddings) or
                ``"hybrid"`` (both, fused by rank; see `Hit`). The default is ``"hybrid"`` when the memory
                was opened with an embedder, ``"text"`` otherwise.
            weights: Weights of the score's parts; the defaults of `SearchWeights` otherwise.
            **filters: ``namespace``, ``agent_id``, ``tags`` (all of), ``since``, ``until``, and
                ``success`` (episodes), ``min_confidence`` (facts) or ``name`` (skills).

        Raises:
            InvalidInputError: a bad limit, filter, mode or query type, or ``"vector"`` / ``"hybrid"`` without
                an embedder.
        """
        if mode is None:
            mode = "text" if self._embedding is None else "hybrid"
        elif mode not in SEARCH_MODES:
            raise InvalidInputError(f"mode must be one of {list(SEARCH_MODES)}, not {mode!r}")
        elif mode != "text" and self._embedding is None:
            raise InvalidInputError(
                f"mode={mode!r} needs an embedder: open the memory with embedder=..., or search with mode='text'"
            )
        query = check_query_text(query)  # empty or blank text is no text: nothing to embed
        vector = None
        if mode != "text" and query is not None:
            assert self._embedding is not None
            vector = to_blobs(await self._embedding.embed([query]))[0]
        search = Search(
            self.kind,
            query,
            Filters.for_kind(self.kind, filters),
            limit,
            weights or _DEFAULT_WEIGHTS,
            time.time(),
            mode,
            vector,
        )
        return cast(list[Hit], await self._backend.query(search))

    async def stream(self, batch_size: int = 100, **filters: Any) -> AsyncGenerator[list[R], None]:
        """Yield every matching record in id order (oldest first), ``batch_size`` at a time.

        Each read is its own short transaction (keyset pagination), so a long stream never pins the WAL;
        records added meanwhile may appear, and none that existed when it began is missed or repeated.
        Every read of one stream goes to the same read lane, hence (with replicas) to the same replica, or to
        the primary for a read that replica cannot yet answer with the handle's own writes; the handle's other
        reads still share the lanes.
        """
        check_limit(batch_size)
        affinity = LaneAffinity()
        page = Page(
            self.kind, Filters.for_kind(self.kind, filters), None, batch_size * self._pages_per_read(batch_size)
        )
        while True:
            with same_lane(affinity):  # around the read only: the caller's own reads between pages rotate
                records: list[R] = await self._backend.query(page)
            for start in range(0, len(records), batch_size):
                yield records[start : start + batch_size]
            if len(records) < page.limit:
                return
            page = dataclasses.replace(page, after=records[-1].id)

    @staticmethod
    def _pages_per_read(batch_size: int) -> int:
        return max(1, min(_PAGES_PER_READ, 10_000 // batch_size))

    async def count(self, **filters: Any) -> int:
        """Count the records matching ``filters`` (as for `search`)."""
        return cast(int, await self._backend.query(Count(self.kind, Filters.for_kind(self.kind, filters))))


class EpisodeStore(Store[Episode]):
    """Episodic memory: what happened when a task ran."""

    kind = "episode"
    record_type = Episode


class FactStore(Store[Fact]):
    """Semantic memory: facts and patterns learned from experience."""

    kind = "fact"
    record_type = Fact


class SkillStore(Store[Skill]):
    """Procedural memory: named, reusable procedures with use counts."""

    kind = "skill"
    record_type = Skill

    async def record_use(self, skill_id: str, success: bool) -> Skill:
        """Count one use (and a success) atomically in the writer: no update is ever lost.

        Returns:
            The skill with its new counts.

        Raises:
            NotFoundError: no skill has this id.
        """
        return cast(Skill, await self._backend.execute(use_command(skill_id, success)))

    async def get_by_name(self, name: str, namespace: str = "default") -> Skill:
        """Fetch the skill with this name in ``namespace``.

        Raises:
            NotFoundError: there is none.
        """
        return cast(Skill, await self._backend.query(GetByName(check_text("name", name, required=True), namespace)))


def use_command(skill_id: str, success: bool) -> Command:
    """Build the command that counts one use of a skill."""
    return RecordUse(check_id("id", skill_id), success, time.time())
