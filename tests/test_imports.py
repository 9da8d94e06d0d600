"""Imports flow one way, low to high (STYLE.md), checked by parsing every module with `ast`.

Like trio's test of its `_core` boundary: a module may import only modules of a lower layer. The sync SQL
layer stays free of anything async, and msgpack stays behind the codec.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import memactor

PACKAGE = Path(memactor.__file__).parent

# Low to high. A module may import only modules of a strictly lower layer.
LAYERS: list[set[str]] = [
    {"errors"},
    {"frozen"},
    {"validate"},
    {"records"},
    {"commands"},
    {"codec"},
    {"schema", "rows", "failures"},
    {"filters", "ranking"},
    {"queries"},
    {"mutations"},
    {"apply", "read", "writeconn"},
    {"aio", "lane", "stats", "filelock"},
    {"writer", "readpool"},
    {"backend"},
    {"stores"},
    {"batch"},
    {"memory"},
    {"blocking"},
    {"demo_agents"},
]
CORE = {name: level for level, names in enumerate(LAYERS) for name in names}
# The top: entry points that may import anything of the package, including modules outside the core.
TOP = {"demo", "cli", "__main__", "__init__"}
SYNC_SQL = ["apply", "failures", "read", "rows", "schema", "writeconn"]
ASYNC_MODULES = {"anyio", "asyncio", "aiosqlite", "trio", "sniffio"}


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


@cache
def imports_of(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """The memactor modules and the top-level third-party/stdlib modules that ``module`` imports anywhere."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"{module}.py")
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                if top == "memactor":
                    internal.add(rest.partition(".")[0] or "__init__")
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top, _, rest = (node.module or "").partition(".")
                if top == "memactor":
                    internal.update([rest.partition(".")[0]] if rest else [a.name for a in node.names])
                else:
                    external.add(top)
            elif node.level == 1:
                internal.update([node.module.partition(".")[0]] if node.module else [a.name for a in node.names])
    return frozenset(internal), frozenset(external)


def test_the_layer_map_names_real_modules() -> None:
    assert set(CORE) | TOP <= set(modules())


@pytest.mark.parametrize("module", sorted(CORE))
def test_core_modules_import_only_lower_layers(module: str) -> None:
    internal, _ = imports_of(module)
    outside = sorted(name for name in internal if name not in CORE)
    assert not outside, f"{module} imports {outside}, which are outside the core layers"
    upward = sorted(name for name in internal if CORE[name] >= CORE[module])
    assert not upward, f"{module} (layer {CORE[module]}) imports {upward} of the same or a higher layer"


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
    if module in ("apply", "read", "schema"):
        assert "sqlite3" in external


def test_the_parser_sees_relative_and_absolute_imports() -> None:
    internal, external = imports_of("memory")
    assert {"writer", "readpool", "stores", "batch", "errors"} <= internal
    assert "asyncio" in external
    assert "codec" in imports_of("__init__")[0]
