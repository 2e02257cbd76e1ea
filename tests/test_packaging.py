"""What a non-editable install gets: every package of the project and the published curves beside the
suite code (``eval --suite`` compares against them), not only what an editable checkout happens to have."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from agent.suite.reference import REFERENCE_DIR
from tests.support import ROOT


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    source = tmp_path_factory.mktemp("src")
    # Build from a copy holding only what git tracks (no .venv, no runs), as a clean clone would.
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True, text=True)
    (wheel,) = out.glob("wm_agent-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_the_wheel_ships_the_published_curves_and_their_provenance(wheel_names):
    csvs = sorted(p.name for p in REFERENCE_DIR.glob("*.csv"))
    assert len(csvs) >= 7
    for name in [*csvs, "README.md"]:
        assert f"agent/suite/published/{name}" in wheel_names, name


def test_the_wheel_ships_every_module_of_the_packages(wheel_names):
    for package in ("agent", "planners", "envs"):
        for path in (ROOT / package).rglob("*.py"):
            assert path.relative_to(ROOT).as_posix() in wheel_names, path
