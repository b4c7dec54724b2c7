"""Runners sharing a results directory: claims in one process (two `Claims` are two runners, since
`flock` locks belong to open files), then real `rtrrl-bench run` processes side by side and after
a `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_data import make_run

from benchmarks.claims import STATE_DIR, Claims
from benchmarks.config import config_hash
from benchmarks.plan import make_plan
from benchmarks.storage import write_result


@pytest.fixture
def unit(tmp_path):
    """One unit of four seeds (nothing runs: claims only need its names and config)."""
    plan = make_plan(tmp_path, "smoke", ["CartPole-v1"], ["random"], [0, 1, 2, 3])
    return plan.units[0]


def _claims_on_disk(out: Path, state: str = "claimed") -> list[str]:
    """Runs the claims table holds in `state`."""
    path = out / STATE_DIR / "claims.json"
    table = json.loads(path.read_text()) if path.is_file() else {}
    return sorted(k for k, e in table.items() if e["state"] == state)


def test_a_run_is_claimed_by_one_runner_at_a_time(tmp_path, unit):
    with Claims(tmp_path, "a") as a, Claims(tmp_path, "b") as b:
        first = a.claim(unit)
        assert first.unit == unit and not first.held
        second = b.claim(unit)
        assert second.unit is None and sorted(second.held) == [0, 1, 2, 3]
        assert {h.pid for h in second.held.values()} == {os.getpid()}
        a.release(unit, written=False)
        assert b.claim(unit).unit == unit, "released runs can be claimed"
        assert a.claim(unit).unit is None
    assert _claims_on_disk(tmp_path) == [], "leaving releases every claim"


def test_a_unit_is_cut_down_to_the_runs_nobody_holds(tmp_path, unit):
    import dataclasses

    with Claims(tmp_path) as a, Claims(tmp_path) as b:
        a.claim(dataclasses.replace(unit, seeds=(1, 2)))
        got = b.claim(unit)
        assert got.unit is not None and got.unit.seeds == (0, 3)
        assert sorted(got.held) == [1, 2]


def test_a_run_finished_meanwhile_is_not_claimed(tmp_path, unit):
    seed = 2
    done = make_run(unit.suite, unit.task.id, unit.label, seed, 20.0)
    done = done.model_copy(update={"config_hash": config_hash(unit.run_config(seed))})
    write_result(unit.path(tmp_path, seed), done)
    with Claims(tmp_path) as c:
        got = c.claim(unit)
    assert got.done == [seed] and got.unit is not None and got.unit.seeds == (0, 1, 3)


def test_runs_another_runner_wrote_are_skipped_before_their_files_are_seen(tmp_path, unit):
    """On NFS a client may trust a cached "no such file" for a minute: the claims table, read under
    the lock, is what tells a runner that another one has written a run (failure records too)."""
    with Claims(tmp_path, "a") as a, Claims(tmp_path, "b") as b:
        a.claim(unit)
        a.release(unit, written=True)  # no result file exists: only the table knows
        got = b.claim(unit)
        assert got.unit is None and got.done == [0, 1, 2, 3]
    with Claims(tmp_path, "c") as c:  # no runner of that time is left: the marks are dropped
        assert _claims_on_disk(tmp_path, "written") == []
        assert c.claim(unit).unit == unit


def test_a_runner_file_is_locked_before_other_runners_can_see_it(tmp_path):
    with Claims(tmp_path, "a") as a:
        files = list((tmp_path / STATE_DIR / "runners").iterdir())
        assert [f.name for f in files] == [f"{a._name}.json"], "no staging file left, only the locked one"
        assert a._runner(a._name)[1] is True
        assert json.loads(files[0].read_text())["command"] == "a"


def test_claims_of_a_dead_runner_are_taken_over(tmp_path, unit):
    dead = Claims(tmp_path, "dead").__enter__()
    dead.claim(unit)
    os.close(dead._fd)  # what the kernel does at kill -9: the lock goes, the files stay
    with Claims(tmp_path) as c:
        assert sum(c.stale.values()) == 4, "entering clears a dead runner's claims"
        assert [h.pid for h in c.stale] == [os.getpid()]
        assert c.claim(unit).unit == unit
    assert list((tmp_path / STATE_DIR / "runners").iterdir()) == [], "the dead runner's file is gone too"


def test_a_runner_dying_mid_grid_is_taken_over_at_claim_time(tmp_path, unit):
    with Claims(tmp_path) as alive:
        dying = Claims(tmp_path).__enter__()
        dying.claim(unit)
        assert alive.claim(unit).unit is None
        os.close(dying._fd)
        got = alive.claim(unit)
        assert got.unit == unit and sorted(got.taken_over) == [0, 1, 2, 3]


def test_dry_run_says_which_runs_another_runner_holds(cli, tmp_path, unit):
    code, _, err = cli("run", "--suite", "smoke", "--seeds", "4", "--out", str(tmp_path), "--dry-run")
    assert code == 0 and "another runner" not in err
    with Claims(tmp_path, "other") as other:
        other.claim(unit)
        code, _, err = cli("run", "--suite", "smoke", "--seeds", "4", "--out", str(tmp_path), "--dry-run")
    assert code == 0 and f"4 of these runs are being computed by another runner now (pid {os.getpid()} " in err


# ---- real processes ---------------------------------------------------------------------------


def _run(out: Path, *extra: str, **popen) -> subprocess.Popen:
    args = ["--suite", "smoke", "--out", str(out), "--no-progress", *extra]
    env = {**os.environ, "NPROC": "1", "RTRRL_BENCH_COMPILE_CACHE": str(out.parent / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.cli", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _wait_for_claim(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not _claims_on_disk(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "no claim appeared"
        time.sleep(0.1)


def _results(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("seed_*.json*") if STATE_DIR not in p.parts)


def _computed(stderr: str) -> set[tuple[str, str]]:
    """(task, seeds) of the units a runner's progress lines say it computed."""
    out = set()
    for line in stderr.splitlines():
        if line.startswith("[") and "] " in line and " seeds " in line:
            words = line.split("] ", 1)[1].split()
            out.add((words[0], words[3].rstrip(":")))
    return out


@pytest.mark.slow
def test_two_runners_on_one_directory_share_the_grid(tmp_path):
    """Second runner starts once the first holds a claim: each unit is computed by exactly one of
    them, no finished file is moved aside, and both exit 0."""
    out = tmp_path / "res"
    grid = ("--seeds", "6", "--block-size", "1", "--max-steps", "50000", "--eval-interval", "10000")
    a = _run(out, *grid)
    _wait_for_claim(out, a)
    b = _run(out, *grid)
    (_, err_a), (_, err_b) = a.communicate(timeout=600), b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, err_a + err_b
    expected = [f"smoke/{t}/random/seed_{s}.json" for t in ("CartPole-v1", "MemoryChain-4") for s in range(6)]
    assert _results(out) == expected, "every run once, nothing moved aside"
    done_a, done_b = _computed(err_a), _computed(err_b)
    assert done_a and done_b and not done_a & done_b, (err_a, err_b)
    assert len(done_a | done_b) == 12
    assert f"left to the runner that holds them (pid {a.pid} " in err_b
    assert _claims_on_disk(out) == [] and not list((out / STATE_DIR / "runners").iterdir())


@pytest.mark.slow
def test_a_killed_runner_leaves_no_workers_and_its_runs_are_redone(tmp_path):
    out = tmp_path / "res"
    grid = ("--seeds", "2", "--max-steps", "2000000", "--eval-interval", "1000000", "--jobs", "2")
    victim = _run(out, *grid, start_new_session=True)
    _wait_for_claim(out, victim)
    end = time.monotonic() + 60
    while len(workers := _children(victim.pid)) < 2:  # the pool's workers (and its resource tracker)
        assert time.monotonic() < end, "no worker processes started"
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    for pid in workers:  # worker processes die with their runner (they would compute for nobody)
        end = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and "Z" not in _proc_state(pid):
            assert time.monotonic() < end, f"worker {pid} outlived its runner"
            time.sleep(0.1)
    assert _claims_on_disk(out), "the killed runner's claims are still on disk"
    again = _run(out, "--seeds", "2", "--max-steps", "20000", "--eval-interval", "10000")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"claims of a runner that is gone (pid {victim.pid} " in err
    assert _results(out) == [
        f"smoke/{t}/random/seed_{s}.json" for t in ("CartPole-v1", "MemoryChain-4") for s in (0, 1)
    ]
    assert [json.loads((out / f).read_text())["status"] for f in _results(out)] == ["completed"] * 4
    assert _claims_on_disk(out) == []


def _children(pid: int) -> list[str]:
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()


def _proc_state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
