"""The terms of a ranking: every agent of a task scored at one common budget, by a score that does
not grow with the number of evaluations.

An agent must not rank higher because it was given more env steps, or evaluated more often. Per
task, the ranked agents' runs are cut at the smallest budget among them (their `max_env_steps`),
read on one evaluation grid (multiples of the coarsest agent's evaluation interval, so that every
agent contributes the same number of evaluations), and each run is scored by the mean of its
evaluations in the last tenth of that budget. A mean, unlike the paper's maximum over
evaluations, does not grow with the number of evaluations (docs/reports.md has the measurement).

A run's value at a grid point is its last evaluation at or before that point: a run that stopped
early (patience) is frozen, so its last evaluation stands for its policy at every later point.
Failed and diverged runs follow the report's failure policy (the task's floor).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports.scores import PENALIZED, normalize

WINDOW = 0.1
"""The primary score averages the evaluations in the last tenth of the common budget (at least one)."""

PRIMARY_TEXT = (
    "the mean of a run's evaluations (the paper's metric, no maximum) in the last 10% of the common "
    "budget, on a common evaluation grid"
)


@dataclass(frozen=True)
class Terms:
    """What one task's ranking holds equal."""

    budget: int
    """Common env-step budget: the smallest `max_env_steps` among the ranked agents' runs."""
    interval: int
    """Spacing of the common evaluation grid: the largest evaluation interval among those runs."""
    points: tuple[int, ...]
    """The grid points whose evaluations a run's primary score averages (empty: the curves do not
    allow a common score, as when an agent's first evaluation comes after the common budget)."""
    limited_by: tuple[str, ...]
    """The agents whose own budget is the common budget."""


def window(budget: int, interval: int) -> tuple[int, ...]:
    """Grid points k * interval <= budget inside the last WINDOW of the budget (at least the last one)."""
    if interval <= 0 or budget < interval:
        return ()
    grid = interval * np.arange(1, budget // interval + 1, dtype=np.int64)
    inside = grid[grid > (1.0 - WINDOW) * budget]
    return tuple(int(g) for g in (inside if len(inside) else grid[-1:]))


def value_at(steps: np.ndarray, scores: np.ndarray, points: tuple[int, ...]) -> float:
    """The mean over `points` of the run's last evaluation at or before each point; NaN where a point
    comes before the run's first evaluation or a score is not finite."""
    if not points or len(steps) == 0:
        return np.nan
    idx = np.searchsorted(steps, np.asarray(points), side="right") - 1
    if (idx < 0).any():
        return np.nan
    return float(np.mean(scores[idx]))


def terms_of(task_runs: pd.DataFrame) -> Terms:
    """The terms of one task's ranking, from its ranked runs (`budget`, `eval_interval` columns)."""
    budgets = task_runs["budget"].astype(float)
    # a file without a recorded budget (hand-made): a completed run spent its budget
    budgets = budgets.where(np.isfinite(budgets), task_runs["env_steps"].where(task_runs["status"] == "completed"))
    known = budgets[np.isfinite(budgets)]
    if len(known):
        budget = int(known.min())
    else:  # no run records its budget and none completed: the longest run stands for it
        steps = task_runs.loc[task_runs["status"] != "failed", "env_steps"].astype(float)
        if not len(steps) or steps.max() <= 0:
            return Terms(0, 0, (), ())
        budget = int(steps.max())
    interval = int(task_runs["eval_interval"].astype(float).max())
    limited = tuple(sorted(set(task_runs.loc[budgets == budget, "agent"])))
    return Terms(budget, interval, window(budget, interval), limited)


def at_common_budget(
    runs: pd.DataFrame, constants: dict[str, Any] | None, unranked: Collection[str] = ()
) -> tuple[pd.DataFrame, dict[tuple[str, str], Terms]]:
    """`runs` with `ranked`, `primary` (raw) and `norm_primary` added, and each (suite, task)'s terms.

    Agents in `unranked` are left out of the terms and get no primary score: they are shown only
    at their own budget.
    """
    tasks_c = (constants or {}).get("tasks", {})
    out = runs.copy()
    out["ranked"] = ~out["agent"].isin(list(unranked))
    out["primary"] = np.nan
    out["norm_primary"] = np.nan
    terms: dict[tuple[str, str], Terms] = {}
    for (suite, task), g in out[out["ranked"]].groupby(["suite", "task"], sort=True):
        t = terms_of(g)
        terms[(str(suite), str(task))] = t
        c = tasks_c.get(task)
        for i, r in g.iterrows():
            if r["status"] in PENALIZED:
                raw = c["floor"] if c is not None else np.nan
            else:
                raw = value_at(r["curve_steps"], r["curve_scores"], t.points)
            out.at[i, "primary"] = raw
            out.at[i, "norm_primary"] = normalize(raw, c)
    return out, terms
