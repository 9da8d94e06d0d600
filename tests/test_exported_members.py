"""The public names of `memactor` (as httpx's tests/test_exported_members.py does)."""

from __future__ import annotations

import inspect

import memactor

EXPECTED = {
    # DESIGN section 3: the handle, the records, the error tree, the codec and the entry points.
    "open",
    "open_sync",
    "Memory",
    "Episode",
    "Item",
    "Fact",
    "Skill",
    "Hit",
    "SearchWeights",
    "Statistics",
    "new_id",
    "codec",
    "MemactorError",
    "ClosedError",
    "ServerBusyError",
    "WriterDiedError",
    "AlreadyOpenError",
    "ReadOnlyError",
    "CommandError",
    "NotFoundError",
    "ConflictError",
    "InvalidInputError",
    "StorageError",
    "StorageFullError",
    "NotAMemoryError",
    "CodecError",
    "SchemaError",
    # Server mode (issue 5): the client entry points, its handle type and its errors.
    "connect",
    "connect_sync",
    "RemoteMemory",
    "ConnectionLostError",
    "AccessDeniedError",
    # Backends: memactor runs on asyncio only and says so before taking any lock.
    "UnsupportedBackendError",
}


def test_all_is_sorted() -> None:
    assert memactor.__all__ == sorted(memactor.__all__)


def test_all_holds_the_contract_names() -> None:
    missing = EXPECTED - set(memactor.__all__)
    assert not missing


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in vars(memactor) if not name.startswith("_")}
    # Submodules imported as a side effect of importing the package are not part of the API.
    submodules = {name for name in public if inspect.ismodule(getattr(memactor, name))} - {"codec"}
    assert set(memactor.__all__) == public - submodules
    assert len(memactor.__all__) == len(set(memactor.__all__))


def test_every_exported_name_exists() -> None:
    for name in memactor.__all__:
        assert hasattr(memactor, name), name


def test_exported_names_say_they_belong_to_memactor() -> None:
    for name in memactor.__all__:
        member = getattr(memactor, name)
        if inspect.ismodule(member):
            assert member.__name__ == f"memactor.{name}"
        else:
            assert member.__module__.startswith("memactor."), name


def test_the_error_tree() -> None:
    root = memactor.MemactorError
    for name in memactor.__all__:
        member = getattr(memactor, name)
        if isinstance(member, type) and name.endswith("Error"):
            assert issubclass(member, root), name
    for sub in (memactor.NotFoundError, memactor.ConflictError, memactor.InvalidInputError):
        assert issubclass(sub, memactor.CommandError)
    assert issubclass(memactor.StorageFullError, memactor.StorageError)
    assert issubclass(memactor.NotAMemoryError, memactor.StorageError)
    assert issubclass(memactor.InvalidInputError, ValueError)
    assert issubclass(memactor.CodecError, ValueError)


def test_the_codec_is_public() -> None:
    assert callable(memactor.codec.encode) and callable(memactor.codec.decode)
