"""The CLI as users call it: runs, resume, kill and re-run, and every user-error path."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports.load import load_results

FAST = [
    "--max-steps",
    "4000",
    "--eval-interval",
    "2000",
    "--set",
    "eval.eval_steps=200",
    "--set",
    "eval.final_episodes=2",
]


def _files(out: Path):
    """Every file a run left in `out`, but the runners' coordination state (`.rtrrl-bench/`)."""
    return sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".rtrrl-bench" not in p.parts
    )


def test_run_then_rerun_does_no_work(cli, tmp_path):
    out = tmp_path / "res"
    code, _, err = cli("run", "--suite", "smoke", "--out", str(out), *FAST)
    assert code == 0, err
    files = _files(out)
    plans = [f for f in files if f.startswith("smoke/plan_")]
    assert len(plans) == 1, "the planned runs are recorded for the report's coverage table"
    plan = json.loads((out / plans[0]).read_text())
    assert {(r["task"], r["agent"], r["seed"]) for r in plan["runs"]} == {
        (t, "random", s) for t in ("CartPole-v1", "MemoryChain-4") for s in (0, 1)
    }
    files.remove(plans[0])
    files.remove("speeds.json")  # the units' speeds, for --dry-run's projection (tests/test_calibration.py)
    assert files == [f"smoke/{t}/random/seed_{s}.json" for t in ("CartPole-v1", "MemoryChain-4") for s in (0, 1)]
    files.append("speeds.json")
    mtimes = {f: (out / f).stat().st_mtime_ns for f in files}
    code, _, err = cli("run", "--suite", "smoke", "--out", str(out), *FAST)
    assert code == 0 and "0 runs to do" in err and "4 already done" in err
    assert {f: (out / f).stat().st_mtime_ns for f in files} == mtimes


def test_changed_config_reruns_and_moves_the_old_file_aside(cli, tmp_path):
    out = tmp_path / "res"
    base = ["run", "--suite", "smoke", "--task", "MemoryChain-4", "--seeds", "1", "--out", str(out), *FAST]
    assert cli(*base)[0] == 0
    old = json.loads((out / "smoke/MemoryChain-4/random/seed_0.json").read_text())
    code, _, err = cli(*base, "--set", "random.num_envs=2")
    assert code == 0 and "1 existing files to redo" in err
    new = json.loads((out / "smoke/MemoryChain-4/random/seed_0.json").read_text())
    assert new["config"]["agent"]["hyperparameters"]["num_envs"] == 2 and new["config_hash"] != old["config_hash"]
    aside = [p for p in (out / "smoke/MemoryChain-4/random").iterdir() if ".stale-" in p.name]
    assert len(aside) == 1 and json.loads(aside[0].read_text()) == old


def test_corrupt_file_is_redone(cli, tmp_path):
    out = tmp_path / "res"
    base = ["run", "--suite", "smoke", "--task", "CartPole-v1", "--seeds", "1", "--out", str(out), *FAST]
    assert cli(*base)[0] == 0
    f = out / "smoke/CartPole-v1/random/seed_0.json"
    good = f.read_text()
    f.write_text(good[:100])
    code, _, err = cli(*base)
    assert code == 0 and "corrupt" in err
    new, old = json.loads(f.read_text())["curve"], json.loads(good)["curve"]
    assert new["eval_score"] == old["eval_score"] and new["train_return"] == old["train_return"], (
        "same seed, same numbers"
    )


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=pytest.mark.slow)])  # worker processes: `slow`
def test_failed_runs_exit_1_and_the_grid_goes_on(cli, tmp_path, jobs):
    out = tmp_path / "res"
    args = [
        "run",
        "--suite",
        "smoke",
        "--agent",
        "test-boom",
        "--agent",
        "random",
        "--plugin",
        "fault_agents",
        "--jobs",
        jobs,
        "--out",
        str(out),
        *FAST,
    ]
    code, _, err = cli(*args)
    assert code == 1
    loaded = load_results(out)
    assert sorted((r["task"], r["agent"], r["status"]) for r in loaded.runs) == sorted(
        (t, a, "completed" if a == "random" else "failed")
        for t in ("CartPole-v1", "MemoryChain-4")
        for a in ("random", "test-boom")
        for _ in (0, 1)
    )
    assert all("RuntimeError: boom" in r["message"] for r in loaded.runs if r["status"] == "failed")
    code, _, err = cli(*args)
    assert code == 1 and "4 runs to do" in err and "4 already done" in err, "failed runs are retried"


@pytest.mark.slow  # ~30 s: spawns and kills worker processes
def test_a_dying_worker_becomes_a_failure_record_and_the_grid_goes_on(cli, tmp_path):
    out = tmp_path / "res"
    code, _, err = cli(
        "run",
        "--suite",
        "smoke",
        "--agent",
        "test-crash",
        "--agent",
        "random",
        "--plugin",
        "fault_agents",
        "--jobs",
        "2",
        "--out",
        str(out),
        *FAST,
    )
    assert code == 1, err
    runs = load_results(out).runs
    assert sorted(r["status"] for r in runs if r["agent"] == "random") == ["completed"] * 4
    crashed = [r for r in runs if r["agent"] == "test-crash"]
    assert len(crashed) == 4 and all(r["status"] == "failed" and "worker process died" in r["message"] for r in crashed)


@pytest.mark.slow  # ~20 s: two grids
def test_worker_processes_give_the_same_numbers(cli, tmp_path):
    for jobs in ("1", "2"):
        assert cli("run", "--suite", "smoke", "--jobs", jobs, "--out", str(tmp_path / jobs), *FAST)[0] == 0
    for f in (tmp_path / "1").rglob("seed_*.json"):
        a, b = json.loads(f.read_text()), json.loads((tmp_path / "2" / f.relative_to(tmp_path / "1")).read_text())
        assert a["curve"]["eval_score"] == b["curve"]["eval_score"] and a["final_score"] == b["final_score"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--suite", "nope"], "unknown suite 'nope'; valid: smoke, quick"),
        (["--task", "CartPole"], "unknown task 'CartPole'; valid: CartPole-v1"),
        (["--agent", "ppo-nope"], "unknown agent 'ppo-nope'; valid: random"),
        (["--seeds", "two"], "--seeds 'two'"),
        (["--seeds", "0"], "--seeds '0'"),
        (["--max-steps", "0"], "must be a positive integer"),
        (["--max-steps", "ten"], "'ten' is not a valid integer"),
        (["--max-steps", "3000000000"], "max_env_steps must be in [1, 2^31)"),
        (["--eval-interval", "9000", "--max-steps", "8000"], "eval_interval must be in"),
        (["--set", "random.num_envs"], "expected SCOPE.FIELD=VALUE"),
        (["--set", "random.lr=3"], "random has no setting 'lr'; valid: num_envs, unroll"),
        (["--set", "random.num_envs=many"], "random.num_envs='many'"),
        (["--set", "random.num_envs=0"], "num_envs and unroll must be at least 1"),
        (["--set", "nobody.x=1"], "unknown override scope 'nobody'"),
        (["--set", "task.obs_mask=[7]"], "not a set of distinct indices"),
        (["--set", "task.env_id=Pong-misc"], "task has no setting 'env_id'"),
        (["--set", 'task.env_params={"nope": 1}'], "has no env params ['nope']"),
        (["--config", "/nonexistent/c.toml"], "cannot read config file"),
        (["--plugin", "no_such_module"], "cannot import plugin 'no_such_module'"),
        (["--jobs", "0"], "must be a positive integer"),
        (["--block-size", "-1"], "must be a positive integer"),
        (
            ["--set", "random.num_envs=100", "--max-steps", "50", "--eval-interval", "50"],
            "consumes 100 env steps per iteration",
        ),
        (["--bogus"], "No such option '--bogus'"),
        (["--address", "auto"], "--address apply to --executor ray"),
        (["--max-retries", "1", "--ray-cpus", "2"], "--ray-cpus, --max-retries apply to --executor ray"),
        (["--executor", "ray", "--jobs", "2"], "--jobs applies to the local executor"),
        (["--executor", "slurm"], "'slurm' is not one of 'local', 'ray'"),
    ],
)
def test_user_errors_are_one_line_exit_2_nothing_written(cli, tmp_path, args, message):
    out = tmp_path / "res"
    code, stdout, err = cli("run", "--suite", "smoke", "--out", str(out), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtrrl-bench: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err + stdout
    assert not out.exists()


def test_bad_config_file_and_unwritable_out(cli, tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[budget\nmax_env_steps = 1")
    code, _, err = cli("run", "--suite", "smoke", "--config", str(bad), "--out", str(tmp_path / "r"))
    assert code == 2 and "is not valid TOML" in err and len(err.strip().splitlines()) == 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = cli("run", "--suite", "smoke", "--out", str(blocker / "sub"))
    assert code == 2 and "cannot write results to" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("report", "--results", str(tmp_path / "missing"))
    assert code == 2 and "no results directory" in err


def test_config_file_and_set_are_recorded(cli, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[budget]\nmax_env_steps = 4000\neval_interval = 2000\n[eval]\neval_steps = 100\n"
        "final_episodes = 1\n[agent.random]\nnum_envs = 3\n[task]\nmax_episode_length = 50\n"
    )
    out = tmp_path / "res"
    code, _, err = cli(
        "run",
        "--suite",
        "smoke",
        "--task",
        "CartPole-v1",
        "--seeds",
        "1",
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--set",
        "random.num_envs=2",
    )
    assert code == 0, err
    data = json.loads((out / "smoke/CartPole-v1/random/seed_0.json").read_text())
    assert data["config"]["agent"]["hyperparameters"]["num_envs"] == 2, "--set wins over the file"
    assert data["config"]["task"]["max_episode_length"] == 50
    assert data["config"]["budget"]["max_env_steps"] == 4000 and data["curve"]["env_steps"] == [2000, 4000]


def test_dry_run_and_list(cli, tmp_path):
    out = tmp_path / "res"
    code, _, err = cli("run", "--suite", "gymnax-paper", "--dry-run", "--out", str(out))
    assert code == 0 and "500 runs to do in 100 units" in err and "gymnax-paper/CartPole-vel/rtrrl seeds 0-4" in err
    assert not out.exists()
    code, stdout, _ = cli("list")
    assert code == 0
    for needle in ("gymnax-paper", "lru-paper", "MemoryChain-64", "Catch-ep1000", "num_envs"):
        assert needle in stdout


@pytest.mark.slow  # ~30 s: keeps `nox -s tests` well under 10 min
def test_killed_at_random_moments_then_resumed(tmp_path):
    """Kill the real console command at random moments; every file left is valid; a re-run finishes the grid."""
    out = tmp_path / "res"
    cmd = [Path(sys.executable).with_name("rtrrl-bench"), "run", "--suite", "smoke", "--out", str(out), *FAST]
    rng = random.Random(0)
    for _ in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = load_results(out) if out.exists() else None
        assert loaded is None or loaded.rejected == []
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = load_results(out)
    assert len(loaded.runs) == 4 and loaded.rejected == []
    assert all(r["status"] == "completed" for r in loaded.runs)


def test_compile_cache_is_used_and_recorded(tmp_path):
    """Through the console command: jax reads the cache setting once per process."""
    cache = tmp_path / "cache"
    exe = Path(sys.executable).with_name("rtrrl-bench")
    args = [
        exe,
        "run",
        "--suite",
        "smoke",
        "--task",
        "CartPole-v1",
        "--seeds",
        "1",
        "--jobs",
        "1",
        *FAST,
        "--compile-cache",
        str(cache),
    ]
    assert subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True).returncode == 0
    entries = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert any(name.startswith("jit_epoch_one") for name in entries)
    data = json.loads((tmp_path / "a/smoke/CartPole-v1/random/seed_0.json").read_text())
    assert data["timing"]["compile_cache"] == str(cache)
    assert subprocess.run([*args, "--out", str(tmp_path / "b")], capture_output=True).returncode == 0
    # every program cached by the first run was loaded, not compiled and written again (a program
    # near the cache's 0.5 s compile-time threshold may be cached only by the second run, on a busy machine)
    after = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert {name: after.get(name) for name in entries} == entries, "the second run loaded, not recompiled"
    again = json.loads((tmp_path / "b/smoke/CartPole-v1/random/seed_0.json").read_text())
    assert data["timing"]["compile_cache_hits"] == 0 and again["timing"]["compile_cache_hits"] >= 1
    assert again["curve"]["eval_score"] == data["curve"]["eval_score"]
