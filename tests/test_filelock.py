"""One writer per file: a second writing process is refused while the first lives, even after a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import memactor
from memactor import Fact

pytestmark = pytest.mark.anyio

HOLDER = textwrap.dedent(
    """
    import sys, time
    import memactor
    with memactor.open_sync(sys.argv[1], durability="normal") as mem:
        mem.facts.add(memactor.Fact(content="from the first writer"))
        print("ready", flush=True)
        time.sleep(120)
    """
)

TRY_OPEN = textwrap.dedent(
    """
    import sys
    import memactor
    try:
        with memactor.open_sync(sys.argv[1]) as mem:
            print("opened", mem.facts.count(), flush=True)
    except memactor.AlreadyOpenError as exc:
        print("refused", exc, flush=True)
    """
)


@pytest.fixture
def holder(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.stderr.read() if process.stderr else line
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


async def test_a_second_writer_is_refused_while_the_first_lives_and_admitted_after_sigkill(
    db_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(memactor.AlreadyOpenError, match=f"pid {holder.pid}"):
        async with memactor.open(db_path):
            pass
    # Readers are welcome while the writer lives.
    async with memactor.open(db_path, readonly=True) as reader:
        assert await reader.facts.count() == 1
    os.kill(holder.pid, signal.SIGKILL)
    assert holder.wait(timeout=10) == -signal.SIGKILL
    async with memactor.open(db_path) as mem:
        # The acknowledged write of the killed process survived it.
        assert [h.record.content for h in await mem.facts.search("first writer")] == ["from the first writer"]
        await mem.facts.add(Fact(content="from the second writer"))
        assert await mem.facts.count() == 2


async def test_another_process_is_refused_while_this_one_writes(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await mem.facts.add(Fact(content="x"))
        result = subprocess.run(
            [sys.executable, "-c", TRY_OPEN, str(db_path)], capture_output=True, text=True, timeout=60, check=True
        )
        assert result.stdout.startswith("refused"), result.stdout + result.stderr
        assert str(os.getpid()) in result.stdout
    result = subprocess.run(
        [sys.executable, "-c", TRY_OPEN, str(db_path)], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "opened 1", result.stdout + result.stderr


# --- one writer per file, whatever its name -------------------------------------------------------------


def spellings(db_path: Path) -> dict[str, Path]:
    """Other names of ``db_path``'s file: a symlink, a relative path, a path through ``..``."""
    db_path.touch()
    link = db_path.parent / "link.db"
    link.symlink_to(db_path)
    sub = db_path.parent / "sub"
    sub.mkdir()
    return {
        "symlink": link,
        "relative": Path(os.path.relpath(db_path)),
        "dotdot": sub / ".." / db_path.name,
    }


@pytest.mark.parametrize("spelling", ["symlink", "relative", "dotdot"])
async def test_another_name_of_the_file_is_refused_in_this_process(db_path: Path, spelling: str) -> None:
    other = spellings(db_path)[spelling]
    async with memactor.open(db_path) as mem:
        with pytest.raises(memactor.AlreadyOpenError, match="already open for writing"):
            async with memactor.open(other):
                pass
        await mem.facts.add(Fact(content="still writing"))
    async with memactor.open(other) as again:  # free again once the first handle closed
        assert await again.facts.count() == 1


@pytest.mark.parametrize("spelling", ["symlink", "relative", "dotdot"])
async def test_another_name_of_the_file_is_refused_in_another_process(db_path: Path, spelling: str) -> None:
    other = spellings(db_path)[spelling]
    async with memactor.open(db_path):
        result = subprocess.run(
            [sys.executable, "-c", TRY_OPEN, str(other)], capture_output=True, text=True, timeout=60, check=True
        )
        assert result.stdout.startswith("refused"), result.stdout + result.stderr


async def test_a_hard_link_is_refused_in_this_process(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await mem.facts.add(Fact(content="x"))
        link = db_path.parent / "hard.db"
        os.link(db_path, link)
        # The resolved paths differ; the device and inode do not.
        with pytest.raises(memactor.AlreadyOpenError, match="in this process"):
            async with memactor.open(link):
                pass


async def test_a_file_with_two_hard_links_is_refused_for_writing(db_path: Path) -> None:
    async with memactor.open(db_path) as mem:
        await mem.facts.add(Fact(content="x"))
    os.link(db_path, db_path.parent / "hard.db")
    # Another process could write through the other name, with a WAL of its own beside it.
    for name in (db_path, db_path.parent / "hard.db"):
        with pytest.raises(memactor.InvalidInputError, match="2 hard links"):
            async with memactor.open(name):
                pass
    async with memactor.open(db_path, readonly=True) as reader:
        assert await reader.facts.count() == 1


async def test_a_second_handle_on_the_same_path_is_refused_in_this_process(db_path: Path) -> None:
    async with memactor.open(db_path):
        with pytest.raises(memactor.AlreadyOpenError):
            async with memactor.open(db_path):
                pass
