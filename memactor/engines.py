"""Which engine serves a target: a PostgreSQL URL goes to `memactor.postgres`, anything else is a SQLite file.

The one place that names the engines. The actor layer reaches an engine only through the object this
returns (`memactor.engine.Engine`), so a second engine plugs in here, not in the writer or the read pool.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .engine import Engine, EngineOptions
from .errors import InvalidInputError, UnsupportedBackendError
from .sqlite.engine import SqliteEngine

__all__ = ["engine_for", "open_engine"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_engine(target: str | os.PathLike[str], options: EngineOptions | None = None) -> Engine[Any, Any]:
    """The engine for ``target``, not yet prepared or connected (no I/O happens here).

    Args:
        target: A SQLite file's path, or a ``postgresql://`` (or ``postgres://``) URL.
        options: What the engine needs besides its target.

    Raises:
        UnsupportedBackendError: a PostgreSQL URL, but the ``postgres`` extra is not installed.
        InvalidInputError: the target or an option is not one the engine accepts.
    """
    options = options or EngineOptions()
    if isinstance(target, str) and target.startswith(POSTGRES_SCHEMES):
        try:
            # Imported only when asked for: SQLite users need neither the module nor its driver.
            postgres = importlib.import_module("memactor.postgres")
        except ImportError as exc:
            raise UnsupportedBackendError(
                f"PostgreSQL needs the postgres extra ({exc}): pip install 'memactor[postgres]'"
            ) from exc
        engine: Engine[Any, Any] = postgres.PostgresEngine(target, options)
        return engine
    return SqliteEngine(os.fspath(target), options)


# What makes an object an engine (`memactor.engine.Engine`) for `memactor.open`, beside its ``target`` and ``name``.
_ENGINE_METHODS = ("prepare", "release", "connect_writer", "apply_batch", "connect_reader", "run_query", "close")


def engine_for(target: str | os.PathLike[str] | Engine[Any, Any], options: EngineOptions) -> Engine[Any, Any]:
    """The engine `memactor.open` uses: one picked by `open_engine` for a path or URL, or an engine object as given.

    Raises:
        InvalidInputError: ``target`` is neither a path, a URL nor an engine object, or an engine object came
            with options it must bring itself.
        UnsupportedBackendError: a PostgreSQL URL, but the ``postgres`` extra is not installed.
    """
    if isinstance(target, (str, os.PathLike)):
        return open_engine(target, options)
    if not all(callable(getattr(target, name, None)) for name in _ENGINE_METHODS):
        raise InvalidInputError(
            f"open() takes a file path, a postgresql:// URL or an engine object, not {type(target).__name__}"
        )
    if options.max_size is not None or options.allow_foreign_tables or options.replicas:
        raise InvalidInputError("an engine object brings its own options: pass max_size and the like to the engine")
    return target
