"""`connect_or_start`: one socket per file, one server however many clients start at once, idle exit,
restart after SIGKILL, a private runtime directory."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import pytest

import memactor
from memactor import Episode
from memactor.errors import AlreadyOpenError, ConnectionLostError
from memactor.net.autostart import connect_or_start, connect_or_start_sync, runtime_dir, socket_path
from tests.spawned import serve_pids

pytestmark = pytest.mark.anyio

CLIENT = Path(__file__).with_name("autostart_client.py")


def wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_every_spelling_of_a_file_has_one_socket(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(place)
    (place / "sub").mkdir()
    (place / "link.db").symlink_to(place / "memory.db")
    first = socket_path("memory.db")  # created by the call: a file needs to exist to have an identity
    assert (place / "memory.db").exists()
    os.link(place / "memory.db", place / "hard-link.db")
    spellings = [
        place / "memory.db",
        "./memory.db",
        place / "sub" / ".." / "memory.db",
        "link.db",
        "sub/../link.db",
        "hard-link.db",
    ]
    assert {socket_path(spelling) for spelling in spellings} == {first}
    assert socket_path("other.db") != first
    assert first.parent == place / "run" / "memactor"


def test_the_runtime_dir_is_private(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert stat.S_IMODE(os.lstat(runtime_dir()).st_mode) == 0o700
    open_dir = place / "open"
    (open_dir / "memactor").mkdir(parents=True, mode=0o755)
    os.chmod(open_dir / "memactor", 0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(open_dir))
    with pytest.raises(PermissionError, match="mode 0700"):
        socket_path(place / "memory.db")
    planted = place / "planted"
    planted.mkdir()
    (planted / "memactor").symlink_to(place / "run")  # a symlink, even to a private directory, is refused
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(planted))
    with pytest.raises(PermissionError, match="owned by you"):
        runtime_dir()
    if os.getuid() == 0:  # only root can give a directory away
        foreign = place / "foreign"
        (foreign / "memactor").mkdir(parents=True, mode=0o700)
        os.chown(foreign / "memactor", 12345, -1)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(foreign))
        with pytest.raises(PermissionError, match="owner uid 12345"):
            runtime_dir()
    # Without XDG_RUNTIME_DIR: a per-user directory in the temporary directory.
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(place))
    assert runtime_dir() == place / f"memactor-{os.getuid()}"
    assert stat.S_IMODE(os.lstat(runtime_dir()).st_mode) == 0o700


def test_eight_clients_starting_at_once_share_one_server(place: Path) -> None:
    database = place / "memory.db"
    (place / "link.db").symlink_to(database)
    fifo = place / "go"
    os.mkfifo(fifo)
    spellings = [str(database), "memory.db", "link.db", "./link.db"]
    clients = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), spellings[n % len(spellings)], str(fifo), "100"],
            cwd=place,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    wait_for(lambda: len(list(place.glob("go.*.ready"))) == 8, "the clients to be ready", 60)
    with open(fifo, "wb"):  # releases every client at once; open until all are done, so none can miss it
        results = [client.communicate(timeout=120) for client in clients]
    for client, (_, stderr) in zip(clients, results, strict=True):
        assert client.returncode == 0, stderr
        assert "AlreadyOpenError" not in stderr
    summaries = [json.loads(stdout) for stdout, _ in results]
    assert len({summary["url"] for summary in summaries}) == 1
    assert len(serve_pids(database)) == 1
    log = socket_path(database).with_suffix(".log").read_text()
    # One server was started: no client spawned one that lost at the writer lock.
    assert log.count("memactor: serving") == 1, log
    assert "already open" not in log, log
    acked = {record_id for summary in summaries for record_id in summary["ids"]}
    assert len(acked) == 800

    async def present() -> set[str]:
        async with memactor.open(database, readonly=True) as memory:
            return {episode.id for episode in await memory.episodes.get_many(sorted(acked))}

    assert anyio.run(present, backend="asyncio") == acked


async def test_a_server_leaves_once_idle_and_not_before(place: Path) -> None:
    database = place / "memory.db"
    async with await connect_or_start(database, idle_exit=1.0) as mem:
        await mem.episodes.add(Episode(task="before the idle period"))
        (pid,) = serve_pids(database)
        await anyio.sleep(2.5)  # longer than idle_exit, with a client connected: the server stays
        await mem.episodes.add(Episode(task="after it"))
        assert serve_pids(database) == [pid]
    await anyio.to_thread.run_sync(lambda: wait_for(lambda: not serve_pids(database), "the idle server to exit"))
    assert not socket_path(database).exists()
    async with memactor.open(database, readonly=True) as memory:
        assert await memory.episodes.count() == 2


async def test_a_killed_server_is_restarted_and_nothing_acknowledged_is_lost(place: Path) -> None:
    database = place / "memory.db"
    acked: list[str] = []
    async with await connect_or_start(database, idle_exit=None) as mem:

        async def write(writer: int) -> None:
            for n in range(60):
                acked.append(await mem.episodes.add(Episode(task=f"writer {writer} write {n}")))

        async with anyio.create_task_group() as group:
            for writer in range(4):
                group.start_soon(write, writer)
            while len(acked) < 40:
                await anyio.sleep(0.01)
            (killed,) = serve_pids(database)
            os.kill(killed, signal.SIGKILL)
        assert len(acked) == 240
        (restarted,) = serve_pids(database)
        assert restarted != killed
        assert {episode.id for episode in await mem.episodes.get_many(acked)} == set(acked)


def test_a_server_that_cannot_start_is_reported_with_its_log(place: Path) -> None:
    database = place / "memory.db"
    database.touch()
    os.link(database, place / "second-name.db")  # the server refuses a file with two hard links
    with pytest.raises(ConnectionLostError, match="hard links"):
        with connect_or_start_sync(database, start_timeout=30):
            pass


async def test_a_file_written_by_a_foreign_server_is_refused_clearly(place: Path) -> None:
    database = place / "memory.db"
    foreign = subprocess.Popen(
        [sys.executable, "-m", "memactor", "serve", str(database), "--listen", f"unix://{place}/f.sock", "--detach"],
        stderr=subprocess.PIPE,
    )
    assert foreign.wait(timeout=30) == 0, foreign.stderr.read() if foreign.stderr else ""
    if foreign.stderr:
        foreign.stderr.close()
    with pytest.raises(AlreadyOpenError, match="serves no socket memactor can find"):
        await connect_or_start(database, start_timeout=2)
