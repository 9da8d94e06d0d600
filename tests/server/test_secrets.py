"""Secrets stay off the command line: tokens from a private file or the environment, never echoed in errors."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import memactor
from memactor import Episode
from memactor.errors import InvalidInputError
from memactor.net.daemon import TOKENS_ENV, read_tokens

SECRET = "s3cr3t-value-0123456789abcdef"


@pytest.mark.parametrize(
    "spec",
    [
        SECRET,  # no colon: the whole spec, secret included, lands where the name goes
        f"{SECRET}:short",
        f"admin:{SECRET}:ro:a,b:c,d",
        f"admin:{SECRET}: , ",
    ],
)
def test_a_malformed_spec_never_shows_its_secret(spec: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        read_tokens([spec])
    assert SECRET not in str(caught.value) and "--token #1" in str(caught.value)


def test_a_token_file_open_to_other_users_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# comment\nadmin:{SECRET}\n")
    path.chmod(0o644)
    with pytest.raises(InvalidInputError, match="chmod 600"):
        read_tokens(files=[str(path)])
    path.chmod(0o600)
    assert [token.grant.name for token in read_tokens(files=[str(path)])] == ["admin"]


def test_a_malformed_line_in_a_token_file_names_the_line_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"admin:{'x' * 20}\n{SECRET}\n")
    path.chmod(0o600)
    with pytest.raises(InvalidInputError, match="line 2") as caught:
        read_tokens(files=[str(path)])
    assert SECRET not in str(caught.value)


def test_tokens_from_the_environment() -> None:
    environ = {TOKENS_ENV: f"admin:{SECRET}\nreader:{'r' * 20}:ro", "OTHER": f"agent:{'a' * 20}:team-a"}
    names = sorted(token.grant.name for token in read_tokens(env_vars=["OTHER"], environ=environ))
    assert names == ["admin", "agent", "reader"]
    with pytest.raises(InvalidInputError, match="MISSING"):
        read_tokens(env_vars=["MISSING"], environ={})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_over_tcp_with_the_secret_only_in_the_environment(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, TOKENS_ENV: f"admin:{SECRET}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "memactor", "serve", str(db_path), "--listen", url, "--durability", "normal"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 30)
        line = process.stderr.readline() if ready else ""
        assert "serving" in line, line
        # What every local user sees in ps: the command line holds no secret.
        assert SECRET.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        monkeypatch.setenv("MEMACTOR_TOKEN", SECRET)  # the client takes its token from here when not given
        with memactor.connect_sync(url, retry_window=10) as client:
            client.episodes.add(Episode(task="authenticated through the environment"))
            assert client.episodes.count() == 1
        monkeypatch.setenv("MEMACTOR_TOKEN", "wrong-secret-0123456789")
        with pytest.raises(memactor.AccessDeniedError):
            with memactor.connect_sync(url, retry_window=10):
                pass
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
