"""One analysed suite of the report and its display tables, shared by the markdown and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports import figures, stats, tables


@dataclass
class SuiteSection:
    name: str
    slug: str
    coverage: pd.DataFrame
    per_task: pd.DataFrame
    tasks: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    no_constants: list[str] = field(default_factory=list)
    aggregates: dict[str, dict[str, stats.Interval]] = field(default_factory=dict)
    final_iqm: dict[str, stats.Interval] = field(default_factory=dict)
    """agent -> IQM of normalized final-policy scores over the same tasks: the best score is a maximum
    over many noisy evaluations, and this shows how much of it the last policy keeps."""
    poi: dict[tuple[str, str], stats.Interval] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    diagnostics: dict[str, Path] = field(default_factory=dict)
    """task -> its small-multiples figure of the agents' learning diagnostics."""


FIGURE_TITLES = {
    "aggregates": "Aggregate metrics with 95% stratified-bootstrap CIs",
    "poi": "Probability of improvement",
    "profiles": "Performance profiles",
    "efficiency": "Sample efficiency: IQM over env steps",
    "bars": "Per task: normalized best validation reward (the paper's Figure 3 view)",
    "raw": "Per task, raw scores: tasks without normalization constants",
    "curves": "Learning curves per task",
    "compute": "Score vs wall-clock",
}
DIAGNOSTICS_NOTE = (
    "Each agent's own health numbers at every evaluation, computed inside the training program "
    "(one line per run): the RTRRL family reports policy entropy, TD error, mean value, "
    "CT-RNN saturation (|h| > 0.95), time constants at the clamp and parameter norms; PPO reports "
    "entropy, approximate KL, clip fraction, value loss and explained variance."
)


FINAL_IQM_TITLE = "IQM, final policy"


def aggregate_frame(sec: SuiteSection) -> pd.DataFrame:
    rows = []
    for agent, ms in sorted(sec.aggregates.items()):
        row: dict[str, Any] = {"agent": agent}
        for m in stats.METRICS:
            row[m], row[f"{m}_low"], row[f"{m}_high"] = ms[m].point, ms[m].low, ms[m].high
        if agent in sec.final_iqm:
            iv = sec.final_iqm[agent]
            row["final_iqm"], row["final_iqm_low"], row["final_iqm_high"] = iv.point, iv.low, iv.high
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate_display(sec: SuiteSection) -> pd.DataFrame:
    agents = sorted(sec.aggregates)
    columns = {
        "agent": agents,
        **{
            figures.METRIC_TITLES[m]: [
                tables.ci(iv[m].point, iv[m].low, iv[m].high) for _, iv in sorted(sec.aggregates.items())
            ]
            for m in stats.METRICS
        },
    }
    if sec.final_iqm:
        columns[FINAL_IQM_TITLE] = [
            tables.ci(iv.point, iv.low, iv.high) if (iv := sec.final_iqm.get(a)) else "–" for a in agents
        ]
    return pd.DataFrame(columns)


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
