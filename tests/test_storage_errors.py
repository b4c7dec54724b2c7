"""OS errors on a results directory as a user meets them: a path that became a file, a full disk,
a read-only filesystem. Each is one line naming the path and the cause, a non-zero exit, every
finished file intact, and the next invocation redoes what was not written. Also: result files
get the mode an ordinary write would."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from tmpfs import empty, fill, needs_root, tmpfs

from benchmarks.storage import atomic_write_text, read_result

FAST = ("--max-steps", "20000", "--eval-interval", "10000", "--no-progress")


def _valid(out: Path) -> list[str]:
    files = sorted(out.rglob("seed_*.json"))
    for f in files:
        read_result(f)  # raises on a corrupt file
    return [f.relative_to(out).as_posix() for f in files]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_path_that_became_a_file_stops_the_grid_in_one_line(cli, tmp_path):
    out = tmp_path / "res"
    blocker = out / "smoke" / "MemoryChain-4"  # the second unit's directory is a file
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a directory")
    code, _, err = cli("run", "--suite", "smoke", "--out", str(out), "--jobs", "1", *FAST)
    assert code == 3
    line = err.strip().splitlines()[-1]
    assert line.startswith("rtrrl-bench: error: cannot write ") and str(blocker) in line
    assert "Not a directory" in line and "Traceback" not in err
    assert _valid(out) == ["smoke/CartPole-v1/random/seed_0.json", "smoke/CartPole-v1/random/seed_1.json"]
    table = json.loads((out / ".rtrrl-bench" / "claims.json").read_text())
    assert not [k for k, e in table.items() if e["state"] == "claimed"], "claims released on the way out"
    blocker.unlink()
    old = os.umask(0o022)  # as on a shared cluster filesystem: colleagues can read the results
    try:
        code, _, err = cli("run", "--suite", "smoke", "--out", str(out), "--jobs", "1", *FAST)
    finally:
        os.umask(old)
    assert code == 0 and "2 runs to do in 1 units" in err and "2 already done" in err
    redone = [out / "smoke" / "MemoryChain-4" / "random" / f"seed_{s}.json" for s in (0, 1)]
    assert {stat.S_IMODE(f.stat().st_mode) for f in redone} == {0o644}


@pytest.mark.slow  # ~20 s; the one-line stop itself is tested above with a path that became a file
@needs_root
def test_a_full_disk_stops_the_grid_in_one_line_and_keeps_what_was_written(cli, tmp_path):
    with tmpfs(tmp_path / "fs", "256k") as fs:
        out = fs / "res"
        fill(fs, 24 * 1024)  # room for the directories, the plan, the claims and a few results, not all
        grid = ("--task", "CartPole-v1", "--seeds", "4", "--block-size", "1", "--jobs", "1")
        code, _, err = cli("run", "--suite", "smoke", "--out", str(out), *grid, *FAST)
        assert code == 3, err
        line = err.strip().splitlines()[-1]
        assert "No space left on device" in line and str(out) in line and "Traceback" not in err
        written = _valid(out)  # how many fit depends on page rounding; every one left must be valid
        assert len(written) < 4
        assert not [p for p in out.rglob("*.tmp")], "no temporary file left behind"
        empty(fs)
        code, _, err = cli("run", "--suite", "smoke", "--out", str(out), *grid, *FAST)
        assert code == 0 and f"{len(written)} already done" in err
        assert len(_valid(out)) == 4


@needs_root
def test_a_read_only_results_directory_is_refused_before_any_work(cli, tmp_path):
    with tmpfs(tmp_path / "fs", "64k", "ro") as fs:
        code, _, err = cli("run", "--suite", "smoke", "--out", str(fs / "res"), *FAST)
    assert code == 2 and "Read-only file system" in _one_line(err)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_result_files_get_the_mode_of_an_ordinary_write(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        (tmp_path / "b.json").write_text("{}")  # what an ordinary write gives
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o666 & ~umask
