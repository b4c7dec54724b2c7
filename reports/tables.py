"""Per-task tables (every agent side by side) and the comparison with the paper's Tables 2 and 3."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from reports import stats

ALPHA = 0.05
"""Significance level of the per-task permutation tests (Holm-corrected within a task)."""
PAPER_SPREAD = 2.0
"""Our median is flagged when it is more than this many paper stds from the paper's median ..."""
PAPER_MIN_TOLERANCE = 0.05
"""... or, where the paper's std is tiny (0.00 is common), more than this fraction of the task's
normalization range (ceiling − floor): a spread of zero over 5 seeds is not a claim of exactness."""
PAPER_BUDGET = 50_000_000
"""Env steps per run the paper allowed (with patience 20): a cell of ours run on less says so."""


def median_std(x: np.ndarray) -> tuple[float, float]:
    """The paper's statistic: median and std (ddof 1; NaN with one run) over seeds."""
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan
    return float(np.median(x)), float(np.std(x, ddof=1)) if len(x) > 1 else np.nan


def per_task(runs: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """One row per (task, agent) of one suite, with the winner marked only where the test says so.

    The leader of a task is the agent with the highest median best score. It is the winner when a
    two-sided permutation test (difference in means of best scores, exact for small samples) beats
    every other agent at level ALPHA after Holm's correction over those comparisons.
    """
    rows = []
    for task, g in runs.groupby("task", sort=True):
        cells = {a: ga for a, ga in g.groupby("agent", sort=True)}
        best = {a: ga["best"].to_numpy(float) for a, ga in cells.items()}
        medians = {a: median_std(b)[0] for a, b in best.items()}
        ranked = sorted(
            (a for a in cells if np.isfinite(medians[a])), key=lambda a: (-medians[a], -np.nanmean(best[a]), a)
        )
        leader = ranked[0] if ranked else None
        others = [a for a in ranked[1:]]
        raw_p = [stats.permutation_test(best[leader], best[a], seed=seed) for a in others] if leader else []
        adj = dict(zip(others, stats.holm(raw_p))) if others else {}
        winner = (
            leader is not None
            and bool(others)
            and all(adj[a] < ALPHA and np.nanmean(best[leader]) > np.nanmean(best[a]) for a in others)
        )
        for a, ga in cells.items():
            med, std = median_std(best[a])
            norm = ga["norm_best"].to_numpy(float)
            iqm = (
                stats.interval_estimates({a: norm[np.isfinite(norm)][:, None]}, reps=reps, seed=seed)[a]["iqm"]
                if np.isfinite(norm).any()
                else None
            )
            fin = ga["final"].to_numpy(float)
            counted = np.isfinite(ga["best"].to_numpy(float))
            rows.append(
                {
                    "task": task,
                    "agent": a,
                    "runs": int(counted.sum()),
                    "penalized": int(ga["status"].isin(("failed", "diverged")).sum()),
                    "best_median": med,
                    "best_std": std,
                    "norm_iqm": iqm.point if iqm else np.nan,
                    "norm_iqm_low": iqm.low if iqm else np.nan,
                    "norm_iqm_high": iqm.high if iqm else np.nan,
                    "final_mean": float(np.nanmean(fin)) if np.isfinite(fin).any() else np.nan,
                    "env_steps_median": float(ga["env_steps"].median()),
                    "budget_min": float(ga["budget"].min()),
                    "budget_max": float(ga["budget"].max()),
                    "steps_per_s": float(ga["steps_per_s"].median()),
                    "p_vs_leader": adj.get(a, np.nan),
                    "leader": a == leader,
                    "winner": winner and a == leader,
                    "links": list(zip(ga["seed"].tolist(), ga["link"].tolist())),
                }
            )
    return pd.DataFrame(rows)


def paper_comparison(runs: pd.DataFrame, paper: dict[str, Any], constants: dict[str, Any] | None) -> pd.DataFrame:
    """Cell by cell: the paper's median ± std next to ours, flagged outside the paper's spread.

    Our cell takes the suite with the most runs of that (task, agent); the suite is named. A paper
    column is also compared with our runs of that agent's presets (`rtrrl@paper-code`), one row each.
    """
    tasks_c = (constants or {}).get("tasks", {})
    columns = paper.get("columns", {})
    rows = []
    for table, tab in paper["tables"].items():
        for row in tab["rows"]:
            task = row["task_id"]
            on_task = sorted(runs.loc[runs["task"] == task, "agent"].unique())
            for paper_agent, cell in row["results"].items():
                column = columns.get(paper_agent, {})
                for agent in [paper_agent, *(a for a in on_task if a.startswith(f"{paper_agent}@"))]:
                    rows.append(_paper_cell(runs, table, row, task, agent, cell, tasks_c, column))
    return pd.DataFrame(rows)


LR_FALLBACK = {"lr_actor": "lr_td", "lr_critic": "lr_td"}
"""The RTRRL family records the actor's and critic's step sizes as None where they are `lr_td`."""


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table1_departures(hyperparameters: Iterable[dict[str, Any] | None], table1: dict[str, Any]) -> str:
    """Where runs' recorded hyperparameters differ from the paper's Table 1, as `field paper → ours`.

    A reader comparing our cell with the paper's needs to know what differs in the setup, and the
    runs' own configs are the only record that cannot drift from what actually ran.
    """
    hps = [hp for hp in hyperparameters if hp]
    parts = []
    for field, paper_value in table1.items():
        ours = set()
        for hp in (hp for hp in hps if field in hp):
            value = hp[field]
            if value is None and field in LR_FALLBACK:
                value = hp.get(LR_FALLBACK[field])
            ours.add(_shown(value))
        if ours and ours != {_shown(paper_value)}:
            parts.append(f"{field} {_shown(paper_value)} → {'/'.join(sorted(ours))}")
    return ", ".join(parts)


def _paper_cell(
    runs: pd.DataFrame,
    table: str,
    row: dict[str, Any],
    task: str,
    agent: str,
    cell: dict[str, Any],
    tasks_c: dict[str, Any],
    column: dict[str, Any],
) -> dict[str, Any]:
    """One row of the comparison: the paper's cell next to our runs of `agent` on `task`. `setup`
    says what is known to differ in the setup behind the paper's column (`column`: its entry in
    paper_tables.json's `columns`), `note` what concerns this cell only."""
    ours = runs[(runs["task"] == task) & (runs["agent"] == agent)]
    suite = None
    if not ours.empty:
        counts = ours.groupby("suite")["best"].count()
        suite = sorted(counts.index, key=lambda s: (-counts[s], s))[0]
        ours = ours[ours["suite"] == suite]
    med, std = median_std(ours["best"].to_numpy(float)) if not ours.empty else (np.nan, np.nan)
    pm, ps = cell["median"], cell["std"]
    flag, note = "", []
    if pm is None:
        note.append("paper: nan (diverged)")
    if task in tasks_c:
        scale = tasks_c[task]["ceiling"] - tasks_c[task]["floor"]
    else:
        scale = abs(pm) if pm is not None else 0.0
    if pm is not None and np.isfinite(med):
        tol = max(PAPER_SPREAD * (ps or 0.0), PAPER_MIN_TOLERANCE * abs(scale))
        if abs(med - pm) > tol:
            flag = "higher" if med > pm else "lower"
    if task.endswith("-popjym"):
        note.append("paper ran popjym; ours: the popjym-compat variant (difficulty unstated, Easy assumed)")
    elif (
        "popgym" in (row.get("env") or "")
        or "popjym" in (row.get("env") or "")
        or "difficulty" in (row.get("settings") or "")
    ):
        note.append("paper ran popjym, which differs from popgym in several games")
    setup = [column["setup"]] if column.get("setup") else []
    if column.get("table1") and not ours.empty:
        departures = table1_departures(ours["hyperparameters"], column["table1"])
        if departures:
            setup.append(f"Table 1 → ours: {departures}")
    budget = float(ours["budget"].max()) if not ours.empty else np.nan
    if np.isfinite(budget) and budget < PAPER_BUDGET:
        note.append(f"budget {steps(budget)} env steps per run, below the paper's {steps(PAPER_BUDGET)}")
    return {
        "table": table,
        "paper_row": row["paper_row"],
        "task": task,
        "agent": agent,
        "paper_median": np.nan if pm is None else pm,
        "paper_std": np.nan if ps is None else ps,
        "ours_median": med,
        "ours_std": std,
        "ours_runs": int(np.isfinite(ours["best"]).sum()) if not ours.empty else 0,
        "suite": suite or "",
        "ours_env_steps": float(ours["env_steps"].median()) if not ours.empty else np.nan,
        "ours_budget": budget,
        "flag": flag,
        "setup": "; ".join(setup),
        "note": "; ".join(note),
    }


# ---- rendering --------------------------------------------------------------------------------


def fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}g}"
    return str(x)


def steps(x: float) -> str:
    """An env-step count as people say it: 50M, 2.5M, 4k."""
    if not np.isfinite(x):
        return "–"
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.4g}{unit}"
    return f"{x:.0f}"


def budget_range(low: float, high: float) -> str:
    """The budgets of a cell's runs: one value, or the range where they differ."""
    return steps(high) if low == high or not np.isfinite(low) else f"{steps(low)}–{steps(high)}"


def pm(m: float, s: float) -> str:
    if not np.isfinite(m):
        return "–"
    return f"{fmt(m)} ± {fmt(s, 3)}" if np.isfinite(s) else fmt(m)


def ci(point: float, low: float, high: float) -> str:
    if not np.isfinite(point):
        return "–"
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def md_escape(text: str) -> str:
    """Strings from result files go into markdown: no HTML, no broken table cells."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(none)_\n"
    head = "| " + " | ".join(md_escape(c) for c in df.columns) + " |"
    sep = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(md_escape(v) for v in row) + " |" for row in df.astype(str).itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def per_task_display(df: pd.DataFrame) -> pd.DataFrame:
    """The per-task table as people read it (strings; the winner in bold)."""
    out = pd.DataFrame(
        {
            "task": df["task"],
            "agent": [f"**{a}**" if w else a for a, w in zip(df["agent"], df["winner"])],
            "runs": [f"{n}" + (f" ({k} as floor)" if k else "") for n, k in zip(df["runs"], df["penalized"])],
            "best (median ± std)": [pm(m, s) for m, s in zip(df["best_median"], df["best_std"])],
            "normalized IQM [95% CI]": [
                ci(p, lo, hi) for p, lo, hi in zip(df["norm_iqm"], df["norm_iqm_low"], df["norm_iqm_high"])
            ],
            "final (mean)": [fmt(x) for x in df["final_mean"]],
            "budget (env steps per run)": [budget_range(lo, hi) for lo, hi in zip(df["budget_min"], df["budget_max"])],
            "env steps to stop (median)": [fmt(int(x)) if np.isfinite(x) else "–" for x in df["env_steps_median"]],
            "steps/s (block)": [fmt(int(x)) if np.isfinite(x) else "–" for x in df["steps_per_s"]],
            "p vs leader (Holm)": ["leader" if lead else fmt(p, 3) for p, lead in zip(df["p_vs_leader"], df["leader"])],
        }
    )
    return out


def per_task_csv(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["links"])


def paper_display(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": df["table"],
            "paper row": df["paper_row"],
            "our task": df["task"],
            "agent": df["agent"],
            "paper (median ± std)": [
                pm(m, s) if np.isfinite(m) else "nan" for m, s in zip(df["paper_median"], df["paper_std"])
            ],
            "ours (median ± std)": [pm(m, s) for m, s in zip(df["ours_median"], df["ours_std"])],
            "runs": df["ours_runs"],
            "suite": df["suite"],
            "budget": [steps(x) for x in df["ours_budget"]],
            "env steps (median)": [fmt(int(x)) if np.isfinite(x) else "–" for x in df["ours_env_steps"]],
            "flag": [f"⚠ {f}" if f else "" for f in df["flag"]],
            "note": ["; ".join(x for x in pair if x) for pair in zip(df["setup"], df["note"])],
        }
    )


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "–": "--",
    "⚠": r"(!)",
    "α": r"$\alpha$",
}


def latex_escape(text: str) -> str:
    """Every character LaTeX would read as markup, and the few non-ASCII ones the tables use."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def latex_table(df: pd.DataFrame, caption: str) -> str:
    """A booktabs table; the winner's `**bold**` becomes \\textbf."""

    def cell(v: Any) -> str:
        v = str(v)
        if len(v) > 4 and v.startswith("**") and v.endswith("**"):
            return r"\textbf{" + latex_escape(v[2:-2]) + "}"
        return latex_escape(v)

    clean = pd.DataFrame({latex_escape(c): [cell(v) for v in df[c]] for c in df.columns})
    return clean.to_latex(index=False, escape=False, caption=caption, longtable=len(clean) > 40)
