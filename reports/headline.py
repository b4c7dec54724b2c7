"""The headline: one compact screen per suite, the first thing a reader of a report sees.

Per task, every agent side by side (median ± std of best scores and the normalized IQM with its
CI), a winner only where the Holm-corrected test names one; then the aggregate IQM with CIs, and
how many of the paper's cells our runs reproduce. Built from the report's own tables, so it can
never disagree with them; `headline.md` in the report directory is the file a project README
can quote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports import tables
from reports.sections import SuiteSection


def _column(per_task: pd.DataFrame, agent: str, label_budget: bool) -> str:
    """An agent's column title; with its budget where the suite's agents ran on different ones."""
    if not label_budget:
        return agent
    g = per_task[per_task["agent"] == agent]
    return f"{agent} ({tables.budget_range(g['budget_min'].min(), g['budget_max'].max())})"


def task_by_agent(per_task: pd.DataFrame) -> pd.DataFrame:
    """One row per task, one column per agent: `median ± std (IQM [CI])`, the winner in bold."""
    agents = sorted(per_task["agent"].unique())
    label_budget = per_task["budget_min"].nunique() > 1 or per_task["budget_max"].nunique() > 1
    columns = {a: _column(per_task, a, label_budget) for a in agents}
    rows = []
    for task, g in per_task.groupby("task", sort=True):
        cells = {r["agent"]: r for _, r in g.iterrows()}
        row = {"task": task}
        for a in agents:
            r = cells.get(a)
            if r is None:
                row[columns[a]] = "–"
                continue
            text = tables.pm(r["best_median"], r["best_std"])
            if np.isfinite(r["norm_iqm"]):
                text += f" ({tables.ci(r['norm_iqm'], r['norm_iqm_low'], r['norm_iqm_high'])})"
            row[columns[a]] = f"**{text}**" if r["winner"] else text
        winners = g.loc[g["winner"], "agent"].tolist()
        row["winner (Holm)"] = winners[0] if winners else "–"
        rows.append(row)
    return pd.DataFrame(rows, columns=["task", *columns.values(), "winner (Holm)"])


def aggregate_line(sec: SuiteSection) -> str:
    """The suite's IQM of normalized best scores per agent, with its bootstrap CI."""
    if not sec.aggregates:
        return "No aggregate yet: no task has runs of every agent."
    parts = [
        f"`{tables.md_escape(a)}` {tables.ci(v['iqm'].point, v['iqm'].low, v['iqm'].high)}"
        for a, v in sorted(sec.aggregates.items())
    ]
    return f"IQM of normalized best scores over the {len(sec.tasks)} tasks every agent ran [95% CI]: " + ", ".join(
        parts
    )


def final_line(sec: SuiteSection) -> str:
    """The same aggregate for each run's last policy: a best score is the maximum over many noisy
    evaluations, so a large gap between the two says how much of it is selection, not skill."""
    parts = [f"`{tables.md_escape(a)}` {tables.ci(v.point, v.low, v.high)}" for a, v in sorted(sec.final_iqm.items())]
    return (
        "The same for each run's final policy (mean return of fresh episodes after training; no maximum "
        "over evaluations): " + ", ".join(parts)
    )


def paper_summary(paper_df: pd.DataFrame, suites: Sequence[str]) -> list[str]:
    """How many paper cells with our runs fall within the paper's spread, and the list of those that
    do not, grouped by agent under what is known to differ in that agent's setup from the paper's
    (the comparison's `setup`), each with its cell's own note."""
    if paper_df.empty:
        return []
    ours = paper_df[(paper_df["ours_runs"] > 0) & paper_df["suite"].isin(list(suites))]
    if ours.empty:
        return []
    comparable = ours[np.isfinite(ours["paper_median"].astype(float))]
    off = comparable[comparable["flag"] != ""]
    lines = [
        f"**Paper cells reproduced: {len(comparable) - len(off)} of {len(comparable)}** with our runs "
        f"(our median within {tables.PAPER_SPREAD:g} paper stds, or {tables.PAPER_MIN_TOLERANCE:.0%} of the "
        "task's normalization range, of the paper's median)."
    ]
    if not off.empty:
        lines += ["", "Outside the paper's spread, by agent (with what is known to differ in its setup):", ""]
        for (agent, setup), cells in off.groupby(["agent", "setup"], sort=True):
            lines.append(f"- `{tables.md_escape(agent)}`" + (f": {tables.md_escape(setup)}" if setup else ""))
            for _, r in cells.sort_values(["table", "paper_row"]).iterrows():
                line = (
                    f"  - {r['table']} {tables.md_escape(r['paper_row'])}: ours "
                    f"{tables.pm(r['ours_median'], r['ours_std'])} vs the paper's "
                    f"{tables.pm(r['paper_median'], r['paper_std'])} ({r['flag']})"
                )
                lines.append(line + (f"; {tables.md_escape(r['note'])}" if r["note"] else ""))
    return lines


def render(sections: Sequence[SuiteSection], paper_df: pd.DataFrame) -> str:
    """`headline.md`: every suite with per-task results, in the report's order."""
    lines: list[str] = []
    for sec in sections:
        if sec.per_task.empty:
            continue
        budgets = sorted(set(sec.per_task["budget_min"]) | set(sec.per_task["budget_max"]))
        runs = sorted(set(sec.per_task["runs"].astype(int)))
        n_runs = str(runs[0]) if len(runs) == 1 else f"{runs[0]}–{runs[-1]}"
        lines += [
            f"#### Suite `{tables.md_escape(sec.name)}`",
            "",
            f"Best evaluation score per run, median ± std over seeds ({n_runs} runs per cell; budget "
            f"{', '.join(tables.steps(b) for b in budgets)} env steps per run), and in "
            "brackets the normalized IQM with its 95% CI. **Bold**: the winner of the task, named only where "
            f"it beats every other agent in a permutation test, Holm-corrected, at α = {tables.ALPHA}.",
            "",
            tables.markdown_table(task_by_agent(sec.per_task)),
            aggregate_line(sec),
            *(["", final_line(sec)] if sec.final_iqm else []),
            "",
            *paper_summary(paper_df, [sec.name]),
        ]
        if lines[-1] != "":
            lines.append("")
    return "\n".join(lines) if lines else "_No runs yet._\n"


BEGIN = "<!-- rtrrl-bench headline: begin -->"
END = "<!-- rtrrl-bench headline: end -->"
"""Markers a document (a project README) puts around the place the headline goes."""


def _span(document: str) -> tuple[int, int]:
    begin, end = document.find(BEGIN), document.find(END)
    if begin < 0 or end < begin or document.count(BEGIN) != 1 or document.count(END) != 1:
        raise ValueError(f"needs one line {BEGIN} and, after it, one line {END}")
    return begin + len(BEGIN), end


def embedded(document: str) -> str:
    """The headline a document quotes (between the markers). Raises ValueError without them."""
    begin, end = _span(document)
    return document[begin:end].strip("\n") + "\n"


def embed(document: str, text: str) -> str:
    """`document` with the text between the markers replaced by `text`, the rest unchanged."""
    begin, end = _span(document)
    return document[:begin] + "\n\n" + text.strip("\n") + "\n\n" + document[end:]
