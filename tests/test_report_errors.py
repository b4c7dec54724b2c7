"""The report under OS errors: an unreadable file in the results tree, a full disk mid-build and an
unwritable `--out` each give one line and a non-zero exit, and leave the previous report as it was."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_data import CONSTANTS, write_grid
from tmpfs import empty, fill, needs_root, tmpfs

REPORT = ("--reps", "200", "--no-screenshot")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    write_grid(out, CONSTANTS)
    return out


def _snapshot(report: Path) -> dict[str, bytes]:
    return {p.relative_to(report).as_posix(): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def previous(cli, results, tmp_path):
    """A report already built, to check that a failed build leaves it alone."""
    report = tmp_path / "report"
    code, _, err = cli("report", "--results", str(results), "--out", str(report), *REPORT)
    assert code == 0, err
    return report, _snapshot(report)


def _unreadable_link(path: Path) -> str:
    path.symlink_to(path.parent / "gone.json")
    return "No such file or directory"


def _unreadable_mode(path: Path) -> str:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path.write_text("{}")
    path.chmod(0)
    return "Permission denied"


def _unreadable_directory(path: Path) -> str:
    if os.geteuid() == 0:
        pytest.skip("root reads any directory")
    path.parent.chmod(0)
    return "Permission denied"


@pytest.mark.parametrize("make", [_unreadable_link, _unreadable_mode, _unreadable_directory])
def test_an_unreadable_results_file_stops_the_report_in_one_line(cli, results, previous, tmp_path, make):
    tree = tmp_path / "tree"
    shutil.copytree(results, tree)
    bad = tree / "demo" / "CartPole-vel" / "ppo" / "seed_40.json"
    reason = make(bad)
    report, before = previous
    try:
        code, out, err = cli("report", "--results", str(tree), "--out", str(report), *REPORT)
    finally:
        bad.parent.chmod(0o755)
    line = _one_line(err)
    assert code == 2 and out == ""
    assert reason in line and str(bad if make is not _unreadable_directory else bad.parent) in line
    assert _snapshot(report) == before


@needs_root
def test_a_full_disk_mid_build_keeps_the_previous_report(cli, results, tmp_path):
    with tmpfs(tmp_path / "fs", "2m") as fs:
        report = fs / "report"
        code, _, err = cli("report", "--results", str(results), "--out", str(report), *REPORT)
        assert code == 0, err
        before = _snapshot(report)
        fill(fs, 64 * 1024)  # less than a report needs: it fails part-way through
        code, _, err = cli("report", "--results", str(results), "--out", str(report), *REPORT)
        line = _one_line(err)
        assert code == 3 and "No space left on device" in line and str(report) in line
        assert _snapshot(report) == before
        assert sorted(p.name for p in fs.iterdir() if not p.name.startswith("filler-")) == ["report"]
        empty(fs)


@needs_root
def test_a_read_only_report_directory_is_one_line(cli, results, tmp_path):
    with tmpfs(tmp_path / "fs", "64k", "ro") as fs:
        code, _, err = cli("report", "--results", str(results), "--out", str(fs / "report"), *REPORT)
    assert code == 2 and "Read-only file system" in _one_line(err)
