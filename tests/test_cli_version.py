"""``memactor --version`` prints the version and exits 0."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import memactor
from memactor import cli

ROOT = Path(__file__).resolve().parent.parent


def test_version_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memactor", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"memactor {memactor.__version__}\n", "")


def test_the_version_is_the_installed_distribution_s(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"memactor {importlib.metadata.version('memactor')}\n"


def test_a_tree_never_installed_falls_back_to_the_package_s(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert cli._version() == memactor.__version__
