"""Operations on a memory, behind the ``memactor`` command: stats, export, import, backup, check, search, upgrade.

Owns the operator's view of a memory file or a running ``memactor serve``. Reads and writes go through the
public handles (`memactor.Memory`, `memactor.RemoteMemory`) and their store API; only what that API does not
expose (file sizes, the schema version, SQLite's integrity checks, the online backup) reads the file
directly, and then only through read-only connections. May import every lower layer (errors, model, sqlite,
actor, net); nothing imports it but `memactor.cli`.
"""
