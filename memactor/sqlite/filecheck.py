"""What a path leads to, checked before memactor opens it: a memory, a new one, or something to refuse.

Each refusal is a `NotAMemoryError` whose message says what to do, raised before anything is written:
without this check a missing directory surfaced as the lock file's `FileNotFoundError`, a file that is not
SQLite as `sqlite3.DatabaseError` on the writer's first pragma, an empty file opened read-only as "no such
table" on the first query, and another application's database was silently given memactor's tables and
switched to WAL.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse

from ..errors import NotAMemoryError
from .schema import SCHEMA_VERSION, foreign_tables, own_tables

__all__ = ["check_file"]

_SHOWN = 5  # foreign tables named in a message


def check_file(path: str, *, readonly: bool, allow_foreign_tables: bool = False) -> None:
    """Refuse ``path`` unless it is a memactor memory, or (for writing) a new or empty file.

    Args:
        path: The database file as the user gave it.
        readonly: The handle will only read: the file must exist and hold a memory already.
        allow_foreign_tables: Share a SQLite file with another application's tables.

    Raises:
        NotAMemoryError: the path is refused; the message says why and what to do.
    """
    if os.path.isdir(path):
        raise NotAMemoryError(f"{path} is a directory; give the path of a memory file, e.g. {path}/memory.db")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise NotAMemoryError(f"the directory {directory} does not exist; create it first, or fix the path {path}")
    if not os.path.exists(path):
        if readonly:
            raise NotAMemoryError(f"{path} does not exist; open it once without readonly=True to create it")
        return
    if not readonly and os.stat(path).st_nlink > 1:
        # The writer's lock refuses it with its own message; reading the file here, through a name other
        # than the one a live writer uses, would look for a WAL beside the wrong name.
        return
    try:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise NotAMemoryError(f"cannot open {path} for reading ({exc}); check its permissions") from exc
    try:
        foreign = foreign_tables(conn)
        ours = own_tables(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.OperationalError as exc:  # e.g. a WAL file whose directory this user may not write
        raise NotAMemoryError(f"cannot read {path} ({exc}); check its and its directory's permissions") from exc
    except sqlite3.DatabaseError as exc:
        raise NotAMemoryError(
            f"{path} is not a SQLite database ({exc}); give the path of a memory file, or a new one"
        ) from exc
    finally:
        conn.close()
    if foreign and not allow_foreign_tables:
        shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
        raise NotAMemoryError(
            f"{path} is another application's SQLite database (tables {shown}); memactor will not add its"
            " tables to it nor switch it to WAL mode. Use a file of its own, or pass allow_foreign_tables=True"
            " (memactor serve: --allow-foreign-tables) to share this one"
        )
    if 0 < version <= SCHEMA_VERSION and not ours:  # a newer one is the writer's `SchemaError`
        raise NotAMemoryError(
            f"{path} has user_version {version}, set by another application, and no memactor tables; memactor"
            " keeps its schema version there, so it cannot share this file: use a file of its own"
        )
    if readonly and not version and not ours:
        raise NotAMemoryError(f"{path} holds no memory yet; open it once without readonly=True to create one")
