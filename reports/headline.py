"""The headline: one compact screen per suite, the first thing a reader of a report sees.

Per suite, the verdict (what the statistics support, in one generated paragraph), what the
ranking holds equal and how each agent's configuration was chosen; then every task with every
ranked agent side by side at the common budget (median ± std of the primary score and the
normalized IQM with its CI; the winner in bold only where the Holm-corrected tests name one, ties
said to be ties); the aggregate IQM with CIs; each agent at its own budget (the paper's metric);
and how many informative paper cells our runs reproduce. Built from the report's own tables, so it
can never disagree with them; `headline.md` in the report directory is the file a project README
can quote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports import tables, verdict
from reports.sections import SuiteSection

RESULT = "result (Holm)"


def task_by_agent(per_task: pd.DataFrame) -> pd.DataFrame:
    """One row per task, one column per ranked agent: `median ± std (IQM [CI])` of the primary
    score, the winner in bold; the task's result: its winner, a tie (`a = b`) or `none separate`."""
    ranked = per_task[per_task["ranked"]]
    agents = sorted(ranked["agent"].unique())
    rows = []
    for task, g in ranked.groupby("task", sort=True):
        cells = {r["agent"]: r for _, r in g.iterrows()}
        row = {"task": task}
        for a in agents:
            r = cells.get(a)
            if r is None:
                row[a] = "–"
                continue
            text = tables.pm(r["median"], r["std"])
            if np.isfinite(r["norm_iqm"]):
                text += f" ({tables.ci(r['norm_iqm'], r['norm_iqm_low'], r['norm_iqm_high'])})"
            row[a] = f"**{text}**" if r["winner"] else text
        row[RESULT] = tables.task_result(g)
        rows.append(row)
    return pd.DataFrame(rows, columns=["task", *agents, RESULT])


def _iqms(intervals: dict, agents: Sequence[str]) -> str:
    return ", ".join(
        f"`{tables.md_escape(a)}` {tables.ci(intervals[a].point, intervals[a].low, intervals[a].high)}"
        for a in agents
        if a in intervals
    )


def aggregate_line(sec: SuiteSection) -> str:
    """The suite's IQM of normalized primary scores per ranked agent, with its bootstrap CI."""
    if not sec.aggregates:
        return "No aggregate yet: no task has scores of every ranked agent."
    iqm = {a: v["iqm"] for a, v in sec.aggregates.items()}
    return (
        f"IQM of normalized scores at the common budget over the {len(sec.tasks)} tasks every ranked agent "
        "ran [95% CI]: " + _iqms(iqm, sorted(iqm))
    )


def own_budget_line(sec: SuiteSection) -> str:
    """Each agent at its own budget: the paper's best score (a maximum over evaluations, so read it
    against the random agent's, which is noise alone) and the final policy."""
    if not sec.best_iqm:
        return ""
    line = (
        f"Each agent at its own budget, over the {len(sec.own_tasks)} tasks every agent ran: IQM of normalized "
        "best scores (the paper's metric, a maximum over evaluations"
    )
    if "random" in sec.best_iqm:
        r = sec.best_iqm["random"]
        line += f"; the `random` agent's {r.point:.3f} is what the maximum gives by noise alone"
    line += ") " + _iqms(sec.best_iqm, sorted(sec.best_iqm))
    if sec.final_iqm:
        line += "; of final-policy scores " + _iqms(sec.final_iqm, sorted(sec.final_iqm))
    return line + "."


def paper_summary(paper_df: pd.DataFrame, suites: Sequence[str]) -> list[str]:
    """How many informative paper cells our runs reproduce (trivial and cannot-fail cells counted
    apart), and the informative cells that do not reproduce, grouped by agent under what is known
    to differ in that agent's setup from the paper's, each with its own note."""
    if paper_df.empty:
        return []
    ours = paper_df[(paper_df["ours_runs"] > 0) & paper_df["suite"].isin(list(suites))]
    comparable = ours[np.isfinite(ours["paper_median"].astype(float))]
    if comparable.empty:
        return []
    counts = reproduction_counts(comparable)
    inf = comparable[comparable["class"] == tables.INFORMATIVE]
    off = inf[inf["flag"] != ""]
    lines = [
        f"**Paper cells reproduced: {counts['informative_reproduced']} of {counts['informative']} informative "
        f"cells** (our median best score within the cell's tolerance of the paper's median: the larger of "
        f"{tables.PAPER_SPREAD:g} paper stds and {tables.PAPER_MIN_TOLERANCE:.0%} of the task's range). Not counted: "
        f"{counts['trivial']} trivial cells (both at the floor or both at the ceiling; {counts['trivial_reproduced']} "
        f"agree) and {counts['cannot_fail']} that cannot fail (the tolerance covers the task's whole range; "
        f"{counts['cannot_fail_reproduced']} agree)."
    ]
    if not off.empty:
        higher = int((off["flag"] == "higher").sum())
        lines[0] += (
            f" Of the {len(off)} informative cells outside the tolerance, ours is higher in {higher} and lower "
            f"in {len(off) - higher}."
        )
    for klass in (tables.TRIVIAL, tables.CANNOT_FAIL):
        cells = comparable[comparable["class"] == klass].sort_values(["table", "paper_row", "agent"])
        if not cells.empty:
            listed = ", ".join(
                f"{tables.md_escape(r['paper_row'])} `{tables.md_escape(r['agent'])}`" for _, r in cells.iterrows()
            )
            lines += ["", f"{klass.capitalize()} ({len(cells)}): {listed}."]
    if not off.empty:
        lines += [
            "",
            "Informative cells outside the paper's spread, by agent (with what is known to differ in its setup):",
            "",
        ]
        for (agent, setup), cells in off.groupby(["agent", "setup"], sort=True):
            lines.append(f"- `{tables.md_escape(agent)}`" + (f": {tables.md_escape(setup)}" if setup else ""))
            for _, r in cells.sort_values(["table", "paper_row"]).iterrows():
                line = (
                    f"  - {r['table']} {tables.md_escape(r['paper_row'])}: ours "
                    f"{tables.pm(r['ours_median'], r['ours_std'])} vs the paper's "
                    f"{tables.pm(r['paper_median'], r['paper_std'])} (tolerance ± {tables.fmt(r['tolerance'], 3)}, "
                    f"{r['flag']})"
                )
                lines.append(line + (f"; {tables.md_escape(r['note'])}" if r["note"] else ""))
    return lines


def reproduction_counts(cells: pd.DataFrame) -> dict[str, int]:
    """Cells by class and how many of each agree with the paper (no flag)."""
    out = {}
    for klass, key in (
        (tables.INFORMATIVE, "informative"),
        (tables.TRIVIAL, "trivial"),
        (tables.CANNOT_FAIL, "cannot_fail"),
    ):
        c = cells[cells["class"] == klass]
        out[key] = int(len(c))
        out[f"{key}_reproduced"] = int((c["flag"] == "").sum())
    return out


def render(sections: Sequence[SuiteSection], paper_df: pd.DataFrame) -> str:
    """`headline.md`: every suite, verdict first, in the report's order."""
    lines: list[str] = []
    for sec in sections:
        if sec.per_task.empty:
            continue
        lines += [f"#### Suite `{tables.md_escape(sec.name)}`", "", f"**Verdict.** {sec.verdict}", ""]
        if sec.terms:
            lines += [verdict.held_equal(sec), ""]
        if sec.sources:
            lines += ["How each agent's configuration was chosen (not held equal):", "", *verdict.source_lines(sec), ""]
        if not sec.ranked.empty:
            runs = sorted(set(sec.ranked["runs"].astype(int)))
            n_runs = str(runs[0]) if len(runs) == 1 else f"{runs[0]}–{runs[-1]}"
            lines += [
                f"Score at the common budget per run, median ± std over seeds ({n_runs} runs per cell), and in "
                "brackets the normalized IQM with its 95% CI (0 = random, 1 = ceiling). **Bold**: the winner of "
                "the task, named only where it beats every other ranked agent in a permutation test, "
                f"Holm-corrected, at α = {tables.ALPHA}; `a = b`: the leaders the tests do not separate.",
                "",
                tables.markdown_table(task_by_agent(sec.per_task)),
                aggregate_line(sec),
                "",
            ]
        own = own_budget_line(sec)
        if own:
            lines += [own, ""]
        lines += paper_summary(paper_df, [sec.name])
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
