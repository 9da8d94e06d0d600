"""Every example in README.md and docs/*.md runs as written, so none can rot.

Each ```python block runs with this interpreter, each ```sh / ```bash / ```shell block with ``bash -e`` (with
this interpreter's ``bin`` first on PATH, so ``memactor`` and ``python`` are the ones under test), in a fresh
directory of its own, with a private runtime directory, home and data directory; servers it leaves behind are
killed. Then it runs again in the same directory, as a reader trying it twice would: examples must be
re-runnable. ```json blocks must parse, and every ``memactor mcp`` command line (in JSON configs and shell blocks)
must parse with the real ``memactor mcp`` argument parser.

Markers, an HTML comment on the line before a block (visible in the source, invisible when rendered):

- ``<!-- continues -->``: the block builds on the previous block of the page (same language): it runs
  concatenated after it.
- ``<!-- not run: REASON -->``: the block must not run here (it installs the package, runs this test suite, or
  needs a paid or absent service). Few blocks may carry it, and each says why.

Examples see no ``MEMACTOR_*`` variable of the test's environment, except that a block naming
``MEMACTOR_PG_URL`` (the PostgreSQL page's) gets the PostgreSQL server of the PostgreSQL tests (CI's, or a
throwaway one started as `tests.postgres.server` does) in ``MEMACTOR_PG_URL`` and ``MEMACTOR_PG_REPLICA_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_LANGUAGES = {"python": "python", "sh": "shell", "bash": "shell", "shell": "shell"}
# Blocks that are shown, not run: output, formulas, configs checked below, diagrams.
SHOWN_LANGUAGES = {"text", "json"}
# Each `not run` block is one example nobody proves; keep them few.
MAX_NOT_RUN = 8
TIMEOUT_S = 240.0

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*(not run|continues)\s*(?::(.*?))?-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    marker: str | None  # "not run", "continues" or None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start = index
        end = next((i for i in range(start + 1, len(lines)) if lines[i].rstrip() == "```"), None)
        assert end is not None, f"{page.relative_to(ROOT)}:{start + 1}: a code block that never closes"
        before = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = _MARKER.match(before.strip())
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                language=fence.group(1),
                code="\n".join(lines[start + 1 : end]) + "\n",
                marker=marker.group(1) if marker else None,
                reason=(marker.group(2) or "").strip() if marker else "",
            )
        )
        index = end + 1
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in _blocks(page)]
RUNNABLE = [b for b in ALL_BLOCKS if b.language in RUN_LANGUAGES and b.marker != "not run"]


def _chain(block: Block) -> list[Block]:
    """The block and the blocks it continues, oldest first."""
    page = [b for b in ALL_BLOCKS if b.page == block.page]
    position = page.index(block)
    chain = [block]
    while chain[0].marker == "continues":
        position -= 1
        assert position >= 0, f"{chain[0].where}: `continues` on the first block of its page"
        previous = page[position]
        assert RUN_LANGUAGES.get(previous.language) == RUN_LANGUAGES[block.language], (
            f"{chain[0].where}: `continues` a block of another language ({previous.where})"
        )
        assert previous.marker != "not run", f"{chain[0].where}: `continues` a block that is not run"
        chain.insert(0, previous)
    return chain


def _leftovers(place: Path) -> list[int]:
    """Processes (a detached server, say) started from ``place`` or naming it on their command line."""
    pids = []
    needle = os.fsencode(str(place))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cwd == str(place) or cwd.startswith(f"{place}/") or needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _kill_leftovers(place: Path) -> None:
    for pid in _leftovers(place):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _environment(place: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MEMACTOR_") and key not in ("OPENAI_API_KEY", "PYTHONSTARTUP")
    }
    for name in ("home", "data"):
        (place / name).mkdir(exist_ok=True)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),  # this checkout's memactor, whatever is installed
        HOME=str(place / "home"),
        XDG_DATA_HOME=str(place / "data"),
        XDG_RUNTIME_DIR=os.environ["XDG_RUNTIME_DIR"],  # the `place` fixture's private one
    )
    env.update(extra)
    return env


def _places(chain: list[Block]) -> list[str]:
    """Where each line of the chain's code is in its page (``page:line``), in order."""
    return [
        f"{block.page.relative_to(ROOT)}:{block.line + offset}"
        for block in chain
        for offset in range(1, len(block.code.splitlines()) + 1)
    ]


def _located(output: str, places: list[str]) -> str:
    """The output with each line of the example it names (a traceback's, bash's) followed by its page and line."""

    def place(match: re.Match[str]) -> str:
        number = int(match.group(2))
        return f"{match.group(0)} [{places[number - 1]}]" if 0 < number <= len(places) else match.group(0)

    return re.sub(r"(example\.py\", line|example\.sh: line) (\d+)", place, output)


def _numbered(chain: list[Block]) -> str:
    """The chain's code with each line's place in its page, for the failure message."""
    lines = [text for block in chain for text in block.code.splitlines()]
    return "\n".join(f"{where:<28} {text}" for where, text in zip(_places(chain), lines, strict=True))


def _run(command: list[str], place: Path, log_path: Path, extra: dict[str, str]) -> int | str:
    """Run one example in ``place/work``; its exit status, or why it has none. Kills what it leaves running."""
    try:
        # A file, not a pipe: a detached server inherits the output and would hold a pipe open after the block.
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=place / "work",
                env=_environment(place, extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                return process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return f"no end within {TIMEOUT_S:.0f} s"
    finally:
        _kill_leftovers(place)


@pytest.fixture(scope="session")
def postgres_env() -> Iterator[dict[str, str]]:
    """The PostgreSQL tests' server (CI's, or one started for this session) as the variables examples read."""
    from tests.postgres.server import pg_server_from_env_or_script  # psycopg: only when an example needs it

    for server in pg_server_from_env_or_script():
        yield {"MEMACTOR_PG_URL": server.url, "MEMACTOR_PG_REPLICA_URL": server.replica_url or server.url}


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_example_runs_and_runs_again(block: Block, place: Path, request: pytest.FixtureRequest) -> None:
    chain = _chain(block)
    needs_postgres = any("MEMACTOR_PG_URL" in b.code for b in chain)
    extra: dict[str, str] = request.getfixturevalue("postgres_env") if needs_postgres else {}
    work = place / "work"
    work.mkdir()
    if RUN_LANGUAGES[block.language] == "python":
        script, command = work / "example.py", [sys.executable, "example.py"]
    else:
        # bash -e stops at the first failing command; the trap says which line that was.
        trap = """trap 'echo "example.sh: line $LINENO: exit status $?" >&2' ERR; . ./example.sh"""
        script, command = work / "example.sh", ["bash", "-e", "-c", trap]
    script.write_text("".join(b.code for b in chain), encoding="utf-8")
    # The second run is a reader's second try, in the same directory, with what the first one left there.
    for attempt in ("first", "second"):
        log_path = place / f"{attempt}.log"
        status = _run(command, place, log_path, extra)
        output = _located(log_path.read_text(encoding="utf-8", errors="replace"), _places(chain))
        assert status == 0, (
            f"{block.where}: the {block.language} example failed on its {attempt} run ({status})\n"
            f"--- output ---\n{output}\n--- code ---\n{_numbered(chain)}"
        )


def test_every_block_is_run_or_says_why_not() -> None:
    languages = set(RUN_LANGUAGES) | SHOWN_LANGUAGES
    unknown = [f"{b.where} ({b.language or 'no language'})" for b in ALL_BLOCKS if b.language not in languages]
    assert not unknown, f"blocks of no known language (tag each as one of {sorted(languages)}): {unknown}"
    not_run = [b for b in ALL_BLOCKS if b.marker == "not run"]
    assert all(b.reason for b in not_run), [b.where for b in not_run if not b.reason]
    assert all(b.language in RUN_LANGUAGES for b in not_run), [b.where for b in not_run]
    assert len(not_run) <= MAX_NOT_RUN, f"{len(not_run)} blocks are not run: {[b.where for b in not_run]}"
    assert len(RUNNABLE) >= 10  # the collector found the examples


def _mcp_parser() -> argparse.ArgumentParser:
    pytest.importorskip("mcp")  # `memactor mcp` is the `mcp` extra
    from memactor.mcp.command import add_arguments

    parser = argparse.ArgumentParser(prog="memactor mcp", exit_on_error=False)
    add_arguments(parser)
    return parser


def _parse_mcp(parser: argparse.ArgumentParser, args: list[str], where: str) -> None:
    try:
        _, unknown = parser.parse_known_args(args)
    except SystemExit as exc:  # --help prints and exits 0
        if exc.code:
            pytest.fail(f"{where}: `memactor mcp {shlex.join(args)}` does not parse")
        return
    except argparse.ArgumentError as exc:
        pytest.fail(f"{where}: `memactor mcp {shlex.join(args)}` does not parse: {exc}")
    if unknown:
        pytest.fail(f"{where}: `memactor mcp {shlex.join(args)}` does not parse: unknown {shlex.join(unknown)}")


JSON_BLOCKS = [b for b in ALL_BLOCKS if b.language == "json"]


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=[b.where for b in JSON_BLOCKS])
def test_json_config_parses(block: Block) -> None:
    try:
        config = json.loads(block.code)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{block.where}: not JSON: {exc}")
    servers = config.get("mcpServers") or config.get("servers") or {}
    assert servers, f"{block.where}: no mcpServers / servers object"
    parser = _mcp_parser()
    for server in servers.values():
        assert Path(server["command"]).name == "memactor", f"{block.where}: the command is not memactor"
        assert server["args"][:1] == ["mcp"], f"{block.where}: the arguments do not start with mcp"
        _parse_mcp(parser, server["args"][1:], block.where)


def _logical_lines(code: str) -> list[tuple[int, str]]:
    """Shell lines with their backslash continuations joined, each with the number of its first line."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(code.splitlines(), start=1):
        start, text = pending if pending is not None else (number, "")
        text += line
        if line.endswith("\\"):
            pending = (start, text[:-1] + " ")
            continue
        pending = None
        lines.append((start, text))
    if pending is not None:
        lines.append(pending)
    return lines


def test_mcp_command_lines_parse() -> None:
    parser = _mcp_parser()
    seen = 0
    for block in ALL_BLOCKS:
        if RUN_LANGUAGES.get(block.language) != "shell":
            continue
        for offset, line in _logical_lines(block.code):
            words = shlex.split(line, comments=True)
            for index, word in enumerate(words[:-1]):
                if Path(word).name == "memactor" and words[index + 1] == "mcp":
                    rest = words[index + 2 :]
                    end = next((i for i, w in enumerate(rest) if w in ("&&", "||", ";", "|", "&")), len(rest))
                    _parse_mcp(parser, rest[:end], f"{block.page.relative_to(ROOT)}:{block.line + offset}")
                    seen += 1
    assert seen >= 3
