"""A user's own tasks (registered by a `--plugin`) through the report and the normalization
command: raw-score figures and no library warnings without constants, then a floor measured into
a user-side constants file that the report reads with `--constants`, the package's table untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from report_data import make_run

from benchmarks import normalization as norm
from benchmarks.storage import result_path, write_result

TESTS = Path(__file__).parent
USER_TASKS = ("Acrobot-novel", "FourRooms")
RAW = {"Acrobot-novel": (-500.0, -80.0), "FourRooms": (0.45, 0.9)}
"""(random-like, learnt) raw best scores of the synthetic runs."""


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command as a user runs it, in a process of its own (warnings print as they would)."""
    env = {**os.environ, "NPROC": "1", "RTRRL_BENCH_COMPILE_CACHE": "none", "PYTHONPATH": str(TESTS)}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Runs of two agents on the user's tasks and on one task the package has constants for."""
    out = tmp_path_factory.mktemp("results")
    for task in (*USER_TASKS, "CartPole-vel"):
        low, high = RAW.get(task, (20.0, 400.0))
        for agent, best in (("random", low), ("rtrrl", high)):
            for seed in range(5):
                write_result(
                    result_path(out, "mine", task, agent, seed),
                    make_run("mine", task, agent, seed, best + 0.01 * seed * (high - low)),
                )
    return out


def test_tasks_without_constants_get_raw_figures_and_no_warnings(results, tmp_path):
    report = tmp_path / "report"
    done = _cli("report", "--results", str(results), "--out", str(report), "--reps", "500", "--no-screenshot")
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no matplotlib/seaborn warnings
    readme = (report / "README.md").read_text()
    assert "No normalization constants for Acrobot-novel, FourRooms" in readme
    assert "--constants FILE" in readme, "the report says how to get constants"
    figures = report / "figures" / "mine"
    assert (figures / "per_task_raw.png").is_file() and (figures / "per_task.png").is_file()
    assert (figures / "heatmap.png").is_file(), "the task with constants is ranked"
    csv = pd.read_csv(report / "tables" / "mine_per_task.csv")
    assert set(csv["task"]) == {*USER_TASKS, "CartPole-vel"}


def test_only_user_tasks_draw_no_normalized_figures(tmp_path):
    out = tmp_path / "results"
    for seed in range(3):
        write_result(
            result_path(out, "mine", "FourRooms", "rtrrl", seed), make_run("mine", "FourRooms", "rtrrl", seed, 0.5)
        )
    done = _cli("report", "--results", str(out), "--reps", "200", "--no-screenshot")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    drawn = sorted(p.name for p in (out / "report" / "figures" / "mine").glob("*.png"))
    assert drawn == ["learning_curves.png", "per_task_raw.png"]


def test_a_user_task_without_a_ceiling_is_refused_before_measuring(tmp_path):
    done = _cli(
        "normalization",
        "--measure",
        "--task",
        "FourRooms",
        "--plugin",
        "user_tasks",
        "--write",
        str(tmp_path / "c.json"),
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--ceiling FourRooms=VALUE" in done.stderr
    assert not (tmp_path / "c.json").exists()


@pytest.mark.slow  # ~18 s: measures a floor with the runner
def test_a_user_task_floor_is_measured_into_a_user_file(tmp_path):
    package_table = norm.PATH.read_bytes()
    constants, runs = tmp_path / "mine.json", tmp_path / "floor-runs"
    done = _cli(
        "normalization", "--measure", "--plugin", "user_tasks", "--task", "FourRooms",
        "--ceiling", "FourRooms=1", "--results", str(runs), "--write", str(constants),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert norm.PATH.read_bytes() == package_table, "the package's versioned table is never touched"
    doc = json.loads(constants.read_text())
    assert sorted(doc["tasks"]) == ["FourRooms"]
    four = doc["tasks"]["FourRooms"]
    assert four["ceiling"] == 1.0 and "--ceiling" in four["ceiling_source"]
    evals = [
        s
        for f in sorted(runs.rglob("FourRooms/random/seed_*.json"))
        for s in json.loads(f.read_text())["curve"]["eval_score"]
    ]
    assert len(evals) == 25 and four["floor"] == pytest.approx(sum(evals) / len(evals), rel=1e-12)
    report = _cli("report", "--results", str(runs), "--constants", str(constants), "--reps", "200", "--no-screenshot")
    assert report.returncode == 0 and report.stderr == "", report.stderr


def test_a_user_constants_file_feeds_the_report(results, tmp_path):
    four = {"floor": 0.49, "floor_std": 0.1, "floor_final": 0.38, "floor_final_std": 0.1, "floor_seeds": 5}
    four |= {"ceiling": 1.0, "ceiling_source": "given on the command line (--ceiling)"}
    constants = tmp_path / "mine.json"
    constants.write_text(json.dumps({"version": 2, "floor_protocol": {}, "tasks": {"FourRooms": four}}))
    report = tmp_path / "report"
    args = ("--results", str(results), "--out", str(report), "--reps", "500", "--no-screenshot")
    done = _cli("report", *args, "--constants", str(constants))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    readme = (report / "README.md").read_text()
    assert "User constants for FourRooms from `mine.json`" in readme
    assert "No normalization constants for Acrobot-novel:" in readme, "the task still without constants"
    assert "Over 2 tasks: CartPole-vel, FourRooms." in readme, "the user's task enters the aggregates"
    per_task = pd.read_csv(report / "tables" / "mine_per_task.csv").set_index(["task", "agent"])
    files = sorted(results.rglob("FourRooms/rtrrl/seed_*.json"))
    # every run has the same budget and grid, so the window of the common budget is the last evaluation
    last = [json.loads(f.read_text())["curve"]["eval_score"][-1] for f in files]
    by_hand = scipy.stats.trim_mean([(x - four["floor"]) / (1.0 - four["floor"]) for x in last], 0.25)
    assert per_task.loc[("FourRooms", "rtrrl"), "norm_iqm"] == pytest.approx(by_hand, rel=1e-9)
    best = [json.loads(f.read_text())["best_score"] for f in files]
    by_hand = scipy.stats.trim_mean([(b - four["floor"]) / (1.0 - four["floor"]) for b in best], 0.25)
    assert per_task.loc[("FourRooms", "rtrrl"), "best_iqm"] == pytest.approx(by_hand, rel=1e-9)
    assert np.isnan(per_task.loc[("Acrobot-novel", "rtrrl"), "norm_iqm"])

    clash = _cli("report", *args, "--constants", str(norm.PATH))
    assert clash.returncode == 2 and clash.stderr.count("\n") == 1 and "may only add tasks" in clash.stderr


def test_register_ceiling_is_for_users_tasks_only():
    with pytest.raises(ValueError, match="package"):
        norm.register_ceiling("CartPole-vel", 1.0, "mine")
    norm.register_ceiling("Not-a-package-task", 3.0, "my plugin")
    try:
        from benchmarks.tasks import Task

        assert norm.ceiling(Task("Not-a-package-task", "FourRooms-misc")).value == 3.0
    finally:
        norm.USER_CEILINGS.pop("Not-a-package-task")
