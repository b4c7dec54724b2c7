"""One analysed suite of the report and its display tables, shared by the markdown and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import figures, stats, tables
from reports.budget import Terms
from reports.scores import POLICY


@dataclass
class SuiteSection:
    name: str
    slug: str
    coverage: pd.DataFrame
    per_task: pd.DataFrame
    terms: dict[str, Terms] = field(default_factory=dict)
    """task -> what its ranking holds equal (common budget, evaluation grid)."""
    unranked: list[str] = field(default_factory=list)
    """Agents the report was told to show only at their own budget (`--unranked`)."""
    tasks: list[str] = field(default_factory=list)
    """The tasks of the aggregates: every ranked agent has primary scores on them."""
    left_out: list[str] = field(default_factory=list)
    no_constants: list[str] = field(default_factory=list)
    aggregates: dict[str, dict[str, stats.Interval]] = field(default_factory=dict)
    """agent -> rliable's aggregate metrics of normalized primary scores at the common budget."""
    poi: dict[tuple[str, str], stats.Interval] = field(default_factory=dict)
    own_tasks: list[str] = field(default_factory=list)
    """The tasks of the own-budget aggregates: every agent (ranked or not) has runs on them."""
    best_iqm: dict[str, stats.Interval] = field(default_factory=dict)
    """agent -> IQM of normalized best scores at its own budget: the paper's metric, a maximum over
    evaluations, which grows with their number (the random agent's value shows by how much)."""
    final_iqm: dict[str, stats.Interval] = field(default_factory=dict)
    """agent -> IQM of normalized final-policy scores at its own budget."""
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """agent -> the distinct configuration sources its runs record (`config_source`)."""
    verdict: str = ""
    figures: dict[str, Path] = field(default_factory=dict)
    diagnostics: dict[str, Path] = field(default_factory=dict)
    """task -> its small-multiples figure of the agents' learning diagnostics."""

    @property
    def ranked(self) -> pd.DataFrame:
        return self.per_task[self.per_task["ranked"]] if not self.per_task.empty else self.per_task


FIGURE_TITLES = {
    "heatmap": "Normalized score at the common budget, per task and agent (★ winner, = not separated from the leader)",
    "dots": "Per task: every run's normalized score at the common budget (bar: median)",
    "aggregates": "Aggregate metrics at the common budget, with 95% stratified-bootstrap CIs",
    "poi": "Probability of improvement at the common budget",
    "profiles": "Performance profiles at the common budget",
    "efficiency": "Sample efficiency: IQM of normalized evaluation scores over env steps (each run drawn up "
    "to its last evaluation; dotted where some runs have stopped; vertical line: the common budget)",
    "raw": "Per task, raw best scores: tasks without normalization constants",
    "curves": "Learning curves per task (vertical line: the common budget)",
    "compute": "Score at the common budget vs wall-clock per run",
}
DIAGNOSTICS_NOTE = (
    "Each agent's own health numbers at every evaluation, computed inside the training program "
    "(one line per run): the RTRRL family reports policy entropy, TD error, mean value, "
    "CT-RNN saturation (|h| > 0.95), time constants at the clamp and parameter norms; PPO reports "
    "entropy, approximate KL, clip fraction, value loss and explained variance."
)

BEST_IQM_TITLE = "IQM, best score (own budget)"
FINAL_IQM_TITLE = "IQM, final policy (own budget)"


def _ci(iv: stats.Interval | None) -> str:
    return tables.ci(iv.point, iv.low, iv.high) if iv is not None else "–"


def aggregate_frame(sec: SuiteSection) -> pd.DataFrame:
    """The aggregates as numbers (CSV): the ranking's metrics, then the own-budget IQMs."""
    rows = []
    for agent in sorted(set(sec.aggregates) | set(sec.best_iqm)):
        row: dict[str, Any] = {"agent": agent, "ranked": agent in sec.aggregates}
        for m in stats.METRICS:
            iv = sec.aggregates.get(agent, {}).get(m, stats.Interval(np.nan, np.nan, np.nan))
            row[m], row[f"{m}_low"], row[f"{m}_high"] = iv.point, iv.low, iv.high
        for name, d in (("best_iqm", sec.best_iqm), ("final_iqm", sec.final_iqm)):
            iv = d.get(agent, stats.Interval(np.nan, np.nan, np.nan))
            row[name], row[f"{name}_low"], row[f"{name}_high"] = iv.point, iv.low, iv.high
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate_display(sec: SuiteSection) -> pd.DataFrame:
    """The ranking's aggregate metrics of ranked agents."""
    agents = sorted(sec.aggregates)
    return pd.DataFrame(
        {
            "agent": agents,
            **{figures.METRIC_TITLES[m]: [_ci(sec.aggregates[a][m]) for a in agents] for m in stats.METRICS},
        }
    )


def own_budget_display(sec: SuiteSection) -> pd.DataFrame:
    """Each agent at its own budget: the paper's best-score IQM and the final policy's."""
    agents = sorted(set(sec.best_iqm) | set(sec.final_iqm))
    return pd.DataFrame(
        {
            "agent": agents,
            BEST_IQM_TITLE: [_ci(sec.best_iqm.get(a)) for a in agents],
            FINAL_IQM_TITLE: [_ci(sec.final_iqm.get(a)) for a in agents],
        }
    )


def poi_display(sec: SuiteSection) -> pd.DataFrame:
    agents = sorted(sec.aggregates)
    rows = []
    for a in agents:
        row = {"P(row > column)": a}
        for b in agents:
            iv = sec.poi.get((a, b))
            row[b] = "–" if iv is None else tables.ci(iv.point, iv.low, iv.high)
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_display(cov: pd.DataFrame) -> pd.DataFrame:
    return cov.drop(columns=["suite"])


def constants_line(constants: dict[str, Any] | None) -> str:
    if constants is None:
        return "No normalization constants were found: normalized statistics are left out."
    p = constants.get("floor_protocol", {})
    line = (
        f"Normalization constants version {constants['version']} (floor = `{p.get('agent', 'random')}` agent "
        f"measured with the runner, seeds {p.get('seeds')}; ceiling = analytic maximum or a documented "
        f"reference; see `rtrrl_data/normalization.json`)."
    )
    user = constants.get("user_constants")
    if user:
        line += f" User constants for {', '.join(user['tasks'])} from `{Path(user['file']).name}` (`--constants`)."
    return line


NO_CONSTANTS_NOTE = (
    "raw scores only (their own figure); they are left out of the normalized figures and aggregates, and "
    "their failed/diverged runs are not scored. Measure a floor with `rtrrl-bench normalization --measure "
    "--task ID --plugin MODULE --write FILE` and build the report with `--constants FILE`."
)


GLOSSARY = (
    "IQM: the mean of the middle half of all runs' normalized scores (0 = random, 1 = ceiling); P(X > Y): "
    "the probability that a run of X scores above a run of Y on a task drawn at random; Holm: each task's "
    "tests of the leader against every other agent, corrected for making several; optimality gap: how far "
    "the runs fall short of the ceiling on average; CIs: 95% stratified bootstrap."
)
OWN_BUDGET_NOTE = (
    "Every agent at the budget it ran, unranked agents included. The best score is the paper's metric: the "
    "maximum over a run's evaluations, so it grows with their number (compare with the `random` agent's, "
    "which is noise alone); the final policy is scored once, on fresh episodes, at the end of the run. "
    "Not a ranking: agents here may differ in budget and number of evaluations."
)
PAPER_NOTE = (
    "The paper's cells next to our best scores at our own budget (the paper's metric). ⚠ marks our median "
    f"outside the cell's tolerance: {tables.PAPER_SPREAD:g} paper stds, at least "
    f"{tables.PAPER_MIN_TOLERANCE:.0%} of the task's normalization range. A cell is *trivial* when both "
    "medians sit at the floor or both at the ceiling, and *cannot fail* when the tolerance covers the "
    "task's whole range; only *informative* cells count as evidence of a reproduction. The paper trained "
    "up to 50M env steps with patience 20: compare only runs with a comparable budget. Cells without our "
    "runs are left out here; `tables/paper_comparison.csv` has all of them."
)


def how_to_read(constants: dict[str, Any] | None, opts: Any) -> list[tuple[str, str]]:
    """The report's reading guide, as (label, text) pairs for the markdown and the page."""
    from reports.budget import PRIMARY_TEXT

    return [
        (
            "Ranking",
            "every ranking (verdict, aggregates, probability of improvement, per-task winners, heatmap) compares "
            "agents at a common budget per task: each run is cut at the smallest `max_env_steps` among the ranked "
            f"agents and scored by {PRIMARY_TEXT}. A run that stopped early (patience) keeps its last evaluation.",
        ),
        (
            "Own budget",
            "below the ranking, each agent at the budget it ran, with the paper's best score (a maximum over "
            "evaluations) and the final policy's score; not a ranking.",
        ),
        (
            "Normalized",
            "(score − floor) / (ceiling − floor): 0 = random agent, 1 = ceiling. "
            + tables.md_escape(constants_line(constants)),
        ),
        ("Failure policy", f"{POLICY}."),
        (
            "Aggregates",
            f"rliable's IQM, median, mean and optimality gap with 95% percentile CIs from {opts.reps:,} stratified "
            "bootstrap resamples (tasks resampled independently, runs within a task with replacement); only over "
            "tasks every ranked agent has scores on. Probability of improvement, performance profiles, "
            f"sample-efficiency curves and per-task IQMs use {opts.reps_small:,} resamples.",
        ),
        (
            "Winner",
            "the leader (highest mean score) beats every other ranked agent in a two-sided permutation test of mean "
            f"scores (exact for small samples), Holm-corrected within the task, at α = {tables.ALPHA}; agents the "
            "tests do not separate from the leader are a tie (`a = b`). With 3 seeds per agent no test can reach "
            "it (the smallest exact p is 0.1): run ≥ 5 seeds for claims.",
        ),
    ]
