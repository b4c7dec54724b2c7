"""`summary.json`: the report's result as data, for other tools and tests.

Per suite: the common budget, the verdict, per agent its primary-score IQM with CI at that budget
(and its own-budget IQMs), its configuration source and the ranked tasks it was chosen on, per
task the winner and the top group, and the paper cells by class. Everything comes from the
sections the pages are built from, so the file can never disagree with them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from reports import headline, stats, tables
from reports.budget import PRIMARY_TEXT, WINDOW
from reports.sections import SuiteSection
from reports.verdict import tuned_on

FORMAT = "rtrrl-bench/summary/v1"


def _interval(iv: stats.Interval | None) -> dict[str, float | None] | None:
    if iv is None:
        return None
    return {"point": _num(iv.point), "low": _num(iv.low), "high": _num(iv.high)}


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _agent(sec: SuiteSection, agent: str) -> dict[str, Any]:
    g = sec.ranked[sec.ranked["agent"] == agent] if not sec.ranked.empty else sec.ranked
    seeds = g["links"].explode().dropna().map(lambda x: x[0]).tolist() if not g.empty else []
    sources = sec.sources.get(agent, [])
    return {
        "ranked": agent in set(sec.ranked["agent"]) if not sec.ranked.empty else False,
        "iqm": _interval(sec.aggregates.get(agent, {}).get("iqm")),
        "own_budget": {
            "best_iqm": _interval(sec.best_iqm.get(agent)),
            "final_iqm": _interval(sec.final_iqm.get(agent)),
        },
        "config_source": sources,
        "tuned_on_ranked_tasks": sorted({t for s in sources for t in tuned_on(s, g["task"], seeds)}),
    }


def _task(sec: SuiteSection, task: str, g: pd.DataFrame) -> dict[str, Any]:
    t = sec.terms.get(task)
    ranked = g[g["ranked"]]
    return {
        "common_budget": t.budget if t else None,
        "evaluation_grid": t.interval if t else None,
        "window": list(t.points) if t else [],
        "winner": next(iter(ranked.loc[ranked["winner"], "agent"]), None),
        "top": sorted(ranked.loc[ranked["top"], "agent"]),
        "result": tables.task_result(ranked) if not ranked.empty else None,
        "normalized_iqm": {r["agent"]: _num(r["norm_iqm"]) for _, r in ranked.iterrows()},
    }


def suite_summary(sec: SuiteSection, paper_df: pd.DataFrame) -> dict[str, Any]:
    budgets = sorted({t.budget for t in sec.terms.values()})
    agents = sorted(set(sec.per_task["agent"])) if not sec.per_task.empty else []
    paper = pd.DataFrame()
    if not paper_df.empty:
        paper = paper_df[(paper_df["ours_runs"] > 0) & (paper_df["suite"] == sec.name)]
        paper = paper[np.isfinite(paper["paper_median"].astype(float))]
    return {
        "common_budget": budgets[0] if len(budgets) == 1 else None,
        "common_budget_range": [budgets[0], budgets[-1]] if budgets else None,
        "limited_by": sorted({a for t in sec.terms.values() for a in t.limited_by}),
        "unranked": sec.unranked,
        "verdict": sec.verdict,
        "aggregate_tasks": sec.tasks,
        "agents": {a: _agent(sec, a) for a in agents},
        "probability_of_improvement": {f"{a} > {b}": _interval(iv) for (a, b), iv in sorted(sec.poi.items())},
        "tasks": {str(task): _task(sec, str(task), g) for task, g in sec.per_task.groupby("task", sort=True)}
        if not sec.per_task.empty
        else {},
        "reproduction": headline.reproduction_counts(paper) if not paper.empty else None,
    }


def summary(sections: list[SuiteSection], paper_df: pd.DataFrame, constants: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "normalization_version": (constants or {}).get("version"),
        "primary_score": f"{PRIMARY_TEXT} (window: the last {WINDOW:.0%})",
        "suites": {sec.name: suite_summary(sec, paper_df) for sec in sections if not sec.per_task.empty},
    }


def dumps(doc: dict[str, Any]) -> str:
    """Deterministic text (sorted keys, no NaN: missing numbers are null)."""
    return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
