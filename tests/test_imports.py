"""Imports flow one way, low to high (STYLE.md), checked by parsing every module with `ast`.

Like trio's test of its `_core` boundary. Two levels: a subpackage may import only from subpackages of a lower
layer (and from itself), and within the core a module may import only modules of a strictly lower layer. Every
module of the package must appear in the map, so a new module cannot skip the check. The sync SQL layer stays
free of anything async, and msgpack stays behind the codec.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import memactor

PACKAGE = Path(memactor.__file__).parent

# Subpackages (and top-level modules), low to high: each may import only what is on a lower line, or itself.
PACKAGE_LAYERS: list[set[str]] = [
    {"errors"},
    {"model"},
    {"codec", "embed"},
    {"engine"},
    {"sqlite", "postgres"},
    {"engines"},
    {"actor"},
    {"net", "demo"},
    {"mcp", "langgraph", "ops"},
    {"cli", "__init__"},
    {"__main__"},
]
PACKAGE_LAYER = {name: level for level, names in enumerate(PACKAGE_LAYERS) for name in names}

# Modules, low to high. A module may import only modules of a strictly lower line.
LAYERS: list[set[str]] = [
    {"errors"},
    {"model.frozen", "model.stats"},
    {"model.validate"},
    {"model.items"},
    {"model.itemfilter"},
    {"model.itemops"},
    {"model.records", "model.filters", "model.ann"},
    {"model.commands", "model.ranking", "model.vcache"},
    {"codec", "model.queries", "embed.protocol"},
    {"model.vrank"},
    {"embed.adapters", "embed.coalesce", "embed.openai_compat"},
    {"embed.spec", "engine"},
    {"postgres.rows", "postgres.pgvec"},
    {
        "sqlite.itemschema",
        "sqlite.fts",
        "sqlite.textindex",
        "postgres.replicas",
        "postgres.failures",
        "postgres.itemschema",
        "postgres.vschema",
    },
    {"postgres.schema", "postgres.items", "postgres.itemfilter"},
    {"postgres.vectors"},
    {"postgres.vswitch"},
    {
        "sqlite.schema",
        "sqlite.rows",
        "sqlite.failures",
        "sqlite.filelock",
        "sqlite.items",
        "postgres.mutations",
        "postgres.connect",
        "postgres.locks",
        "postgres.where",
        "postgres.textquery",
    },
    {"postgres.vsql"},
    {"postgres.itemread", "postgres.vsearch"},
    {"sqlite.itemread", "sqlite.vectors", "sqlite.vsearch", "sqlite.filecheck", "postgres.apply", "postgres.read"},
    {"sqlite.vswitch"},
    {"sqlite.mutations", "postgres.engine"},
    {"sqlite.apply", "sqlite.read", "sqlite.writeconn"},
    {"sqlite.engine"},
    {"engines"},
    {"actor.aio", "actor.lane"},
    {"actor.writer", "actor.readpool", "actor.backend"},
    {"actor.stores", "actor.items", "actor.reindex", "actor.batchembed"},
    {"actor.batch"},
    {"actor.memory"},
    {"actor.opening"},
    {"actor.blocking"},
    {"net.budget", "net.endpoint", "net.wire", "net.payloads", "net.scope", "demo.agents"},
    {"net.frames", "net.guard", "net.sessions", "net.streams"},
    {"net.channel", "net.connection"},
    {"net.client", "net.server"},
    {
        "net.daemon",
        "demo.run",
        "mcp.params",
        "mcp.graph",
        "mcp.refschema",
        "langgraph.convert",
        "langgraph.home",
        "ops.progress",
        "ops.jsonl",
        "ops.target",
    },
    {"ops.walk"},
    {
        "net.autostart",
        "mcp.auth",
        "mcp.errors",
        "mcp.render",
        "langgraph.answer",
        "ops.stats",
        "ops.export",
        "ops.importer",
    },
    {"net.reindexcmd"},
    {"ops.backup", "ops.search", "ops.upgrade"},
    {"ops.check"},
    {"mcp.guard", "mcp.reads", "mcp.reference", "langgraph.store"},
    {"mcp.tools", "langgraph"},
    {"mcp.command"},
    {"mcp.graphfile", "ops.command"},
    {"cli", "__init__"},
    {"__main__"},
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
SYNC_SQL = sorted(m for m in LAYER if m.startswith(("sqlite.", "postgres.")))
ASYNC_MODULES = {"anyio", "asyncio", "aiosqlite", "trio", "sniffio"}


def modules() -> list[str]:
    """Every module of the package as a dotted name relative to it; a subpackage's `__init__` as its name."""
    names = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        names.append(".".join(parts))
    return sorted(names)


def _path(module: str) -> Path:
    candidate = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    return candidate if candidate.exists() else PACKAGE.joinpath(*module.split("."), "__init__.py")


def _resolve(dotted: str) -> str:
    """The longest known module that ``dotted`` (relative to the package) names or lies in."""
    known = set(modules())
    parts = dotted.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts) or "__init__"


@cache
def imports_of(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """The memactor modules and the top-level third-party/stdlib modules that ``module`` imports anywhere."""
    path = _path(module)
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    here = module.split(".")[: None if is_package else -1] if module != "__init__" else []
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                if top == "memactor":
                    internal.add(_resolve(rest) if rest else "__init__")
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top, _, rest = (node.module or "").partition(".")
                if top != "memactor":
                    external.add(top)
                    continue
                base = rest.split(".") if rest else []
            else:
                base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for alias in node.names:
                internal.add(_resolve(".".join([*base, alias.name])))
    internal.discard(module)
    return frozenset(internal), frozenset(external)


def _package(module: str) -> str:
    return module.partition(".")[0]


def test_every_module_is_in_the_layer_maps() -> None:
    unmapped = [m for m in modules() if m not in LAYER and m not in PACKAGE_LAYER]
    assert not unmapped, f"add {unmapped} to LAYERS in this test, at the layer it belongs to"
    assert set(LAYER) <= set(modules()) | set(PACKAGE_LAYER)
    assert {_package(m) for m in modules()} <= set(PACKAGE_LAYER)


@pytest.mark.parametrize("module", modules())
def test_subpackages_import_only_lower_subpackages(module: str) -> None:
    internal, _ = imports_of(module)
    mine = _package(module)
    upward = sorted(
        name for name in internal if _package(name) != mine and PACKAGE_LAYER[_package(name)] >= PACKAGE_LAYER[mine]
    )
    assert not upward, f"{module} ({mine}, layer {PACKAGE_LAYER[mine]}) imports {upward} of the same or a higher layer"


@pytest.mark.parametrize("module", sorted(LAYER))
def test_modules_import_only_lower_layers(module: str) -> None:
    internal, _ = imports_of(module)
    # A subpackage's __init__ only re-exports and documents; importing one names its modules.
    internal = frozenset(name for name in internal if name in LAYER)
    upward = sorted(name for name in internal if LAYER[name] >= LAYER[module])
    assert not upward, f"{module} (layer {LAYER[module]}) imports {upward} of the same or a higher layer"


@pytest.mark.parametrize("module", modules())
def test_msgpack_is_imported_only_by_the_codec(module: str) -> None:
    _, external = imports_of(module)
    if module != "codec":
        assert "msgpack" not in external, f"{module} imports msgpack; only memactor.codec may"


def test_the_codec_does_import_msgpack() -> None:
    # Keeps the test above honest: the parser must see the one import that is allowed.
    assert "msgpack" in imports_of("codec")[1]


@pytest.mark.parametrize("module", SYNC_SQL)
def test_the_sync_sql_layer_imports_sqlite3_and_nothing_async(module: str) -> None:
    _, external = imports_of(module)
    assert not external & ASYNC_MODULES, f"{module} imports {sorted(external & ASYNC_MODULES)}"
    if module in ("sqlite.apply", "sqlite.read", "sqlite.schema", "sqlite.writeconn"):
        assert "sqlite3" in external


# The engines, and the drivers they speak through: the actor reaches them only through `memactor.engine.Engine`.
ENGINE_PACKAGES = {"sqlite", "postgres"}
DRIVERS = {"sqlite3", "psycopg", "psycopg_pool", "asyncpg", "aiosqlite"}


@pytest.mark.parametrize("module", [m for m in modules() if _package(m) == "actor"])
def test_the_actor_reaches_an_engine_only_through_the_seam(module: str) -> None:
    internal, external = imports_of(module)
    engines = sorted(name for name in internal if _package(name) in ENGINE_PACKAGES)
    assert not engines, f"{module} imports {engines}: go through the engine object (memactor.engine.Engine)"
    assert not external & DRIVERS, f"{module} imports {sorted(external & DRIVERS)}: a driver is the engine's"


def test_the_seam_test_sees_an_engine_import() -> None:
    # Keeps the test above honest: the engine picker does import the SQLite engine, and sqlite3 reaches it.
    assert "sqlite.engine" in imports_of("engines")[0]
    assert "sqlite3" in imports_of("sqlite.engine")[1]


def test_the_parser_sees_relative_and_absolute_imports() -> None:
    internal, external = imports_of("actor.memory")
    assert {"actor.writer", "actor.readpool", "actor.stores", "actor.batch", "errors"} <= internal
    assert "asyncio" in external
    assert "codec" in imports_of("__init__")[0]
