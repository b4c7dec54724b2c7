"""From validated result files to one tidy table of runs, normalized, with one failure policy.

Normalized score = (score − floor) / (ceiling − floor): 0 is the random agent, 1 the ceiling
(`rtrrl_data/normalization.json`, versioned; adding an agent never moves it).

FAILURE POLICY (one rule, applied in every statistic and stated in the report): a run that
failed (exception) or diverged (non-finite numbers) counts as the task's random floor — raw
score = floor, normalized score 0 — for both its best and its final score. Such a run did not
produce a usable policy; dropping it would flatter an unstable agent, scoring it below random
would punish a crash more than a useless policy. A task without constants has no floor, so
there its failed and diverged runs are left out of the statistics and the tables say so.
Runs that were planned but never written are "missing": counted in coverage, never scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.load import Loaded

SCORED = ("completed", "early-stopped")
PENALIZED = ("diverged", "failed")
STATUSES = ("completed", "early-stopped", "diverged", "failed")
POLICY = (
    "failed and diverged runs count as the task's random floor (raw score = floor, "
    "normalized score 0) in every statistic; planned runs without a file are missing, not scored"
)


def run_table(loaded: Loaded, constants: dict[str, Any] | None, report_dir: Path | None = None) -> pd.DataFrame:
    """One row per run. `best`/`final` are raw with the failure policy applied; `norm_*` normalized."""
    tasks = (constants or {}).get("tasks", {})
    rows = []
    for run, path in zip(loaded.runs, loaded.paths):
        c = tasks.get(run["task"])
        status = run["status"]
        best, final = run["best_score"], run["final_score"]
        if status in PENALIZED:
            best = final = None
            if c is not None:
                best, final = c["floor"], c.get("floor_final", c["floor"])
        timing = run["timing"] or {}
        prov = run["provenance"]
        budget = run["config"].get("budget") or {}
        cv = run["curve"]
        steps = np.asarray(cv["env_steps"], dtype=np.int64)
        row = {
            "suite": run["suite"],
            "task": run["task"],
            "agent": run["agent"],
            "seed": run["seed"],
            "status": status,
            "stop_reason": run["stop_reason"],
            "message": run["message"],
            "best": _num(best),
            "final": _num(final),
            "best_raw": _num(run["best_score"]),
            "final_raw": _num(run["final_score"]),
            "best_step": run["best_step"],
            "env_steps": run["env_steps"],
            "budget": budget.get("max_env_steps", np.nan),
            "eval_interval": budget.get("eval_interval", _interval(steps)),
            "curve_steps": steps,
            "curve_scores": np.array([np.nan if s is None else s for s in cv["eval_score"]], dtype=float),
            "num_evals": run["num_evals"],
            "steps_per_s": timing.get("steps_per_s", np.nan),
            "run_s": timing.get("run_s", np.nan),
            "compile_s": timing.get("compile_s", np.nan),
            "block_size": timing.get("block_size", 1),
            "source": run.get("config_source"),
            "git_commit": prov["git_commit"],
            "git_dirty": prov["git_dirty"],
            "device": prov["device"],
            "host": prov["host"],
            "platform": prov["platform"],
            "config_hash": run["config_hash"],
            "hyperparameters": run["config"].get("agent", {}).get("hyperparameters"),
            "path": str(path),
            "link": _link(path, report_dir),
        }
        row["norm_best"] = normalize(row["best"], c)
        row["norm_curve"] = (
            (row["curve_scores"] - c["floor"]) / (c["ceiling"] - c["floor"])
            if c is not None
            else np.full(len(steps), np.nan)
        )
        row["norm_final"] = normalize(row["final"], c, final=True)
        rows.append(row)
    cols = ["suite", "task", "agent", "seed", "status", "best", "final", "norm_best", "norm_final"]
    df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=cols)
    return df.sort_values(["suite", "task", "agent", "seed"], kind="stable").reset_index(drop=True)


def _interval(steps: np.ndarray) -> int:
    """A run's evaluation interval where its config does not record one: its first evaluation's step."""
    return int(steps[0]) if len(steps) else 0


def _num(x: Any) -> float:
    return np.nan if x is None else float(x)


def _link(path: Path, report_dir: Path | None) -> str:
    """Relative link from the report to the raw file (the report moves with its results dir)."""
    if report_dir is None:
        return Path(path).as_posix()
    import os

    return Path(os.path.relpath(Path(path).resolve(), Path(report_dir).resolve())).as_posix()


def normalize(x: float, c: dict[str, Any] | None, final: bool = False) -> float:
    if c is None or x is None or not np.isfinite(x):
        return np.nan
    floor = c.get("floor_final", c["floor"]) if final else c["floor"]
    return (x - floor) / (c["ceiling"] - floor)


def coverage(loaded: Loaded, runs: pd.DataFrame) -> pd.DataFrame:
    """planned / completed / early-stopped / diverged / failed / missing per (suite, task, agent)."""
    have: dict[tuple[str, str, str], dict[str, int]] = {}
    seen: set[tuple[str, str, str, int]] = set()
    for r in runs.itertuples():
        cell = have.setdefault((r.suite, r.task, r.agent), dict.fromkeys(STATUSES, 0))
        cell[r.status] += 1
        seen.add((r.suite, r.task, r.agent, r.seed))
    planned: dict[tuple[str, str, str], int] = {}
    missing: dict[tuple[str, str, str], int] = {}
    for suite, plan in loaded.planned.items():
        for task, agent, seed in plan:
            key = (suite, task, agent)
            planned[key] = planned.get(key, 0) + 1
            have.setdefault(key, dict.fromkeys(STATUSES, 0))
            if (suite, task, agent, seed) not in seen:
                missing[key] = missing.get(key, 0) + 1
    rows = []
    for key in sorted(have):
        counts = have[key]
        rows.append(
            {
                "suite": key[0],
                "task": key[1],
                "agent": key[2],
                "planned": planned.get(key, sum(counts.values())),
                **counts,
                "missing": missing.get(key, 0),
            }
        )
    return pd.DataFrame(rows, columns=["suite", "task", "agent", "planned", *STATUSES, "missing"])


def score_matrices(runs: pd.DataFrame, column: str = "norm_best") -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Per agent, a (runs, tasks) matrix padded with NaN, over the tasks *every* agent has scores on.

    Tasks some agent lacks are left out of aggregates (returned second) so that agents are never
    compared on different task sets.
    """
    scored = runs[np.isfinite(runs[column].astype(float))]
    agents = sorted(scored["agent"].unique())
    all_tasks = sorted(runs["task"].unique())
    tasks = [t for t in all_tasks if all(((scored["task"] == t) & (scored["agent"] == a)).any() for a in agents)]
    left_out = [t for t in all_tasks if t not in tasks]
    out: dict[str, np.ndarray] = {}
    for a in agents:
        cols = [scored[(scored["agent"] == a) & (scored["task"] == t)][column].to_numpy(float) for t in tasks]
        n = max((len(c) for c in cols), default=0)
        m = np.full((n, len(tasks)), np.nan)
        for j, c in enumerate(cols):
            m[: len(c), j] = c
        out[a] = m
    return out, tasks, left_out


def curves_table(loaded: Loaded) -> pd.DataFrame:
    """Long table of every evaluation: raw score, env steps, wall time (the learning-curve figure)."""
    rows = []
    for run in loaded.runs:
        cv = run["curve"]
        for step, wall, score in zip(cv["env_steps"], cv["wall_time"], cv["eval_score"]):
            rows.append(
                {
                    "suite": run["suite"],
                    "task": run["task"],
                    "agent": run["agent"],
                    "seed": run["seed"],
                    "status": run["status"],
                    "env_steps": step,
                    "wall_time": wall,
                    "eval_score": np.nan if score is None else float(score),
                }
            )
    cols = ["suite", "task", "agent", "seed", "status", "env_steps", "wall_time", "eval_score"]
    return pd.DataFrame(rows, columns=cols)


def diagnostics_table(loaded: Loaded) -> pd.DataFrame:
    """Long table of the agents' learning diagnostics: one row per (run, evaluation, diagnostic).

    Files of schema v1 have none and add no rows."""
    rows = []
    for run in loaded.runs:
        cv = run["curve"]
        for name, values in sorted(cv.get("diagnostics", {}).items()):
            for step, v in zip(cv["env_steps"], values):
                rows.append(
                    {
                        "suite": run["suite"],
                        "task": run["task"],
                        "agent": run["agent"],
                        "seed": run["seed"],
                        "env_steps": step,
                        "diagnostic": name,
                        "value": np.nan if v is None else float(v),
                    }
                )
    return pd.DataFrame(rows, columns=["suite", "task", "agent", "seed", "env_steps", "diagnostic", "value"])


def efficiency_curves(
    runs: pd.DataFrame, tasks: list[str], points: int = 40
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Normalized evaluation scores (no maximum over evaluations) of every run at common env-step
    checkpoints, each run only from its first to its last evaluation: a run is never drawn past
    the steps it trained. Failed and diverged runs follow the failure policy (0 while they ran).

    Returns the checkpoints, per agent a (points, runs, tasks) array padded with NaN, and per agent
    whether every one of its runs is present at each checkpoint.
    """
    ok = runs[runs["task"].isin(tasks) & np.isfinite(runs["norm_best"].astype(float))]
    evaluated = ok[ok["curve_steps"].map(len) > 0]
    if evaluated.empty:
        return np.zeros(0), {}, {}
    first = int(min(s[0] for s in evaluated["curve_steps"]))
    last = int(max(s[-1] for s in evaluated["curve_steps"]))
    grid = np.unique(np.linspace(first, max(last, first), points).round().astype(np.int64))
    out: dict[str, np.ndarray] = {}
    complete: dict[str, np.ndarray] = {}
    for agent, g in ok.groupby("agent"):
        per_task = []
        for t in tasks:
            cols = []
            for r in g[g["task"] == t].itertuples():
                steps = r.curve_steps
                if len(steps) == 0:
                    cols.append(np.full(len(grid), np.nan))
                    continue
                idx = np.searchsorted(steps, grid, side="right") - 1
                live = (idx >= 0) & (grid <= steps[-1])
                if r.status in PENALIZED:
                    vals = np.zeros(len(grid))
                else:
                    vals = r.norm_curve[np.clip(idx, 0, None)]
                cols.append(np.where(live, vals, np.nan))
            per_task.append(cols)
        n = max((len(c) for c in per_task), default=0)
        arr = np.full((len(grid), n, len(tasks)), np.nan)
        present = np.ones(len(grid), dtype=bool)
        for j, cols in enumerate(per_task):
            for i, col in enumerate(cols):
                arr[:, i, j] = col
                present &= np.isfinite(col)
        out[str(agent)] = arr
        complete[str(agent)] = present
    return grid, out, complete
