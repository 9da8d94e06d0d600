"""`batch()`: collect writes in a block and send them as one atomic command when it ends.

Inside the block nothing is sent: methods only build commands, so ids are known at once (they are
generated client-side) and a later command of the batch can refer to an earlier one's record. If the
block raises, nothing is sent at all; otherwise all its commands commit together or none does.

With an embedder, the batch's adds and text-changing updates get their vectors when the block ends, before
the batch is sent (`memactor.actor.batchembed`), and they are stored in the batch's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from ..embed.coalesce import Coalescer
from ..errors import ConflictError, InvalidInputError
from ..model.commands import Batch, Command, DeleteRecord
from ..model.records import Episode, Fact, Skill
from ..model.validate import check_id
from .backend import Backend
from .batchembed import Prepared, prepare, stored_versions
from .items import BatchItemStore
from .stores import add_command, update_command, use_command

__all__ = ["BatchBuilder", "BatchContext"]

R = TypeVar("R", Episode, Fact, Skill)
# How often a batch is prepared again when records it updates keep changing while its vectors are computed.
_ATTEMPTS = 8


class Batching(Backend, Protocol):
    """A handle whose batches may carry vectors: `memactor.Memory` or `memactor.RemoteMemory`."""

    embedding: Coalescer | None


class BatchStore(Generic[R]):
    """The write methods of one store, recording commands instead of sending them."""

    def __init__(self, kind: str, record_type: type[R], commands: list[Command]) -> None:
        self._kind = kind
        self._record_type: type[R] = record_type
        self._commands = commands

    def add(self, record: R) -> str:
        """Add ``record`` with the batch; returns its id now."""
        self._commands.append(add_command(self._record_type, (record,)))
        return record.id

    def add_many(self, records: Iterable[R]) -> list[str]:
        """Add ``records`` with the batch; returns their ids now."""
        command = add_command(self._record_type, records)
        self._commands.append(command)
        return [record.id for record in command.records]

    def update(self, record_id: str, *, expect_version: int | None = None, **changes: Any) -> None:
        """Update a record with the batch (see `Store.update`)."""
        self._commands.append(update_command(self._kind, record_id, expect_version, changes))

    def delete(self, record_id: str) -> None:
        """Delete a record with the batch."""
        self._commands.append(DeleteRecord(self._kind, check_id("id", record_id)))


class SkillBatchStore(BatchStore[Skill]):
    """Batch methods of the skill store."""

    def record_use(self, skill_id: str, success: bool) -> None:
        """Count one use of a skill with the batch."""
        self._commands.append(use_command(skill_id, success))


class BatchBuilder:
    """What ``async with mem.batch() as b`` gives: ``b.episodes``, ``b.facts``, ``b.skills``, ``b.items``.

    Attributes:
        results: After the block committed, one result per command, in order.
    """

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.episodes = BatchStore("episode", Episode, self.commands)
        self.facts = BatchStore("fact", Fact, self.commands)
        self.skills = SkillBatchStore("skill", Skill, self.commands)
        self.items = BatchItemStore(self.commands)
        self.results: list[Any] = []


class BatchContext:
    """The async context manager returned by ``Memory.batch()``."""

    def __init__(self, backend: Batching) -> None:
        self._backend = backend
        self._builder = BatchBuilder()
        self._entered = False

    async def __aenter__(self) -> BatchBuilder:
        if self._entered:
            raise InvalidInputError("a batch() can be entered once")
        self._entered = True
        return self._builder

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Send the batch as one command if the block ended normally.

        Raises:
            CommandError: a command of the batch was rejected; none of them was applied.
            EmbedderError: the embedder failed to make the batch's vectors; nothing was sent.
        """
        if exc_type is not None or not self._builder.commands:
            return
        embedding = self._backend.embedding
        if embedding is None:
            self._builder.results = await self._backend.execute(Batch(tuple(self._builder.commands)))
            return
        for _ in range(_ATTEMPTS):
            prepared = await prepare(self._backend, embedding, self._builder.commands)
            try:
                self._builder.results = await self._backend.execute(Batch(prepared.commands))
                return
            except ConflictError:
                if await self._unchanged(prepared):
                    raise  # the batch's own conflict, not a record another writer changed meanwhile
        raise ConflictError(
            f"batch of {len(self._builder.commands)} commands: records it updates kept changing while their"
            " vectors were computed; nothing was written: try again"
        )

    async def _unchanged(self, prepared: Prepared) -> bool:
        now = await stored_versions(self._backend, list(prepared.read))
        return all((None if record is None else record.version) == prepared.read[key] for key, record in now.items())
