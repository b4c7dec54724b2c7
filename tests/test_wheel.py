"""An installed wheel (not the editable checkout) carries everything the code reads at run time:
the reference JSON in `rtrrl_data`, the result schema and the leaderboard template."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # builds a wheel (~30 s)

PROBE = """
import json, sys
import rtrrl_data, reports.load as load, benchmarks.normalization as norm
target = sys.argv[1]
for path in (load.DATA_DIR, load.SCHEMA_PATH, norm.PATH):
    assert str(path).startswith(target), path
assert load.load_reference("paper_tables.json")["tables"]
assert len(norm.load()["tasks"]) > 80
import importlib.resources
assert importlib.resources.files("reports").joinpath("templates/leaderboard.html.j2").is_file()
assert str(importlib.resources.files("reports")).startswith(target)
print("ok")
"""


def test_installed_wheel_reads_its_own_data(tmp_path):
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # a copy without build outputs: setuptools' build/ would otherwise carry files of an older layout
    skip = shutil.ignore_patterns(".git", ".nox", ".venv", "build", "*.egg-info", "results", "__pycache__")
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("rtrrl_bench-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    env = {**os.environ, "PYTHONPATH": str(target)}  # ahead of the editable checkout on sys.path
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(target)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
