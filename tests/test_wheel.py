"""The wheel ships `memactor` and nothing else: no top-level `bench` package in site-packages, where it could
collide with any other `bench`. Built for real with hatchling, the project's build backend.

Installed from that wheel, ``memactor bench`` says where the benchmark suite lives instead of crashing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    (artifact,) = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return Path(artifact)


def test_the_wheel_holds_memactor_and_no_bench(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert "bench" not in tops
    assert "memactor" in tops
    assert {top for top in tops if not top.endswith(".dist-info")} == {"memactor"}


def test_memactor_bench_from_the_wheel_says_to_run_it_from_a_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel unpacked is an installed package
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", "import sys, memactor.cli; sys.exit(memactor.cli.main(['bench']))"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run `python -m bench` from a source checkout" in result.stderr
    assert "Traceback" not in result.stderr
