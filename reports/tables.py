"""Per-task tables (every agent side by side) and the comparison with the paper's Tables 2 and 3."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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


def ranking(scores: dict[str, np.ndarray], seed: int) -> tuple[str | None, dict[str, float], set[str]]:
    """The leader (highest mean score: the statistic the test compares; then median, then name), each
    other agent's Holm-adjusted p-value against it (two-sided permutation test of mean scores), and
    the top group: the leader and every agent the test does not separate from it. A single-member
    top group is a winner; a larger one is a tie, shown as such, never broken by the order of names."""
    means = {a: float(np.nanmean(x)) if np.isfinite(x).any() else np.nan for a, x in scores.items()}
    ranked = sorted(
        (a for a in scores if np.isfinite(means[a])), key=lambda a: (-means[a], -median_std(scores[a])[0], a)
    )
    if not ranked:
        return None, {}, set()
    leader, others = ranked[0], ranked[1:]
    raw = [stats.permutation_test(scores[leader], scores[a], seed=seed) for a in others]
    adj = dict(zip(others, stats.holm(raw))) if others else {}
    top = {leader} | {a for a in others if not (adj[a] < ALPHA and means[leader] > means[a])}
    return leader, adj, top


def _iqm(norm: np.ndarray, reps: int, seed: int, agent: str) -> stats.Interval | None:
    norm = norm[np.isfinite(norm)]
    if not len(norm):
        return None
    return stats.interval_estimates({agent: norm[:, None]}, reps=reps, seed=seed)[agent]["iqm"]


def per_task(runs: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """One row per (task, agent) of one suite: the ranking at the common budget (the primary score,
    its normalized IQM, the Holm-corrected test against the leader, winner and top group), then the
    same agent at its own budget (the paper's best score, the final policy, budget and speed)."""
    rows = []
    for task, g in runs.groupby("task", sort=True):
        cells = {a: ga for a, ga in g.groupby("agent", sort=True)}
        primary = {a: ga["primary"].to_numpy(float) for a, ga in cells.items() if ga["ranked"].all()}
        leader, adj, top = ranking(primary, seed)
        winner = leader if top == {leader} and len(primary) > 1 else None
        for a, ga in cells.items():
            ranked = a in primary
            med, std = median_std(primary[a]) if ranked else (np.nan, np.nan)
            best_med, best_std = median_std(ga["best"].to_numpy(float))
            iqm = _iqm(ga["norm_primary"].to_numpy(float), reps, seed, a) if ranked else None
            best_iqm = _iqm(ga["norm_best"].to_numpy(float), reps, seed, a)
            fin = ga["final"].to_numpy(float)
            wall = (ga["run_s"].astype(float) + ga["compile_s"].astype(float)) / ga["block_size"].astype(float)
            rows.append(
                {
                    "task": task,
                    "agent": a,
                    "ranked": ranked,
                    "runs": int(np.isfinite(ga["best"].to_numpy(float)).sum()),
                    "penalized": int(ga["status"].isin(("failed", "diverged")).sum()),
                    "median": med,
                    "std": std,
                    "norm_iqm": iqm.point if iqm else np.nan,
                    "norm_iqm_low": iqm.low if iqm else np.nan,
                    "norm_iqm_high": iqm.high if iqm else np.nan,
                    "p_vs_leader": adj.get(a, np.nan),
                    "leader": a == leader,
                    "top": a in top,
                    "winner": a == winner,
                    "best_median": best_med,
                    "best_std": best_std,
                    "best_iqm": best_iqm.point if best_iqm else np.nan,
                    "best_iqm_low": best_iqm.low if best_iqm else np.nan,
                    "best_iqm_high": best_iqm.high if best_iqm else np.nan,
                    "final_mean": float(np.nanmean(fin)) if np.isfinite(fin).any() else np.nan,
                    "env_steps_median": float(ga["env_steps"].median()),
                    "budget_min": float(ga["budget"].min()),
                    "budget_max": float(ga["budget"].max()),
                    "steps_per_s": float(ga["steps_per_s"].median()),
                    "wall_per_run_s": float(wall.median()) if np.isfinite(wall).any() else np.nan,
                    "links": list(zip(ga["seed"].tolist(), ga["link"].tolist())),
                    "provenance": provenance(ga),
                }
            )
    return pd.DataFrame(rows)


def provenance(g: pd.DataFrame) -> list[str]:
    """Where a cell's runs came from: one line per distinct (commit, dirty, platform, device, host)."""
    if "git_commit" not in g:
        return []
    out = []
    keys = ["git_commit", "git_dirty", "device", "host", "platform"]
    for (commit, dirty, device, host, platform), _ in g.groupby(keys, dropna=False, sort=True):
        c = "unknown commit" if not isinstance(commit, str) else commit[:12] + (" (dirty)" if dirty is True else "")
        out.append(f"{c} · {platform}: {device} · {host}")
    return out


def task_result(g: pd.DataFrame) -> str:
    """One task's verdict from its per-task rows: the winner, `a = b` for a top group the tests do not
    separate, `none separate` when that group holds every ranked agent, `–` with fewer than two."""
    ranked = g[g["ranked"] & np.isfinite(g["median"].astype(float))]
    top = sorted(ranked.loc[ranked["top"], "agent"])
    if len(ranked) < 2:
        return "–"
    if ranked["winner"].any():
        return str(ranked.loc[ranked["winner"], "agent"].iloc[0])
    if not top:
        return "–"
    if len(top) == len(ranked) and len(top) > 1:
        return "none separate"
    return " = ".join(top)


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


INFORMATIVE, TRIVIAL, CANNOT_FAIL = "informative", "trivial", "cannot fail"
"""How much a paper cell can tell: only an informative cell's agreement is evidence of a reproduction."""


def reproduction_class(paper: float, ours: float, tolerance: float, c: dict[str, Any] | None) -> str:
    """`cannot fail` when the tolerance around the paper's median covers the task's whole range (floor
    to ceiling), `trivial` when both medians sit at the floor or both at the ceiling (within
    PAPER_MIN_TOLERANCE of the range), else `informative`. Without constants a cell is informative."""
    if c is None:
        return INFORMATIVE
    floor, ceiling = c["floor"], c["ceiling"]
    if paper - tolerance <= floor and paper + tolerance >= ceiling:
        return CANNOT_FAIL
    p, o = ((x - floor) / (ceiling - floor) for x in (paper, ours))
    low, high = PAPER_MIN_TOLERANCE, 1 - PAPER_MIN_TOLERANCE
    if (p <= low and o <= low) or (p >= high and o >= high):
        return TRIVIAL
    return INFORMATIVE


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
    flag, note, tol, klass = "", [], np.nan, ""
    if pm is None:
        note.append("paper: nan (diverged)")
    if task in tasks_c:
        scale = tasks_c[task]["ceiling"] - tasks_c[task]["floor"]
    else:
        scale = abs(pm) if pm is not None else 0.0
    if pm is not None:
        tol = max(PAPER_SPREAD * (ps or 0.0), PAPER_MIN_TOLERANCE * abs(scale))
    if pm is not None and np.isfinite(med):
        if abs(med - pm) > tol:
            flag = "higher" if med > pm else "lower"
        klass = reproduction_class(pm, med, tol, tasks_c.get(task))
    if task.endswith("-popjym"):
        note.append("paper ran popjym; ours: the popjym-compat variant (difficulty unstated, Easy assumed)")
    elif (
        "popgym" in (row.get("env") or "")
        or "popjym" in (row.get("env") or "")
        or "difficulty" in (row.get("settings") or "")
    ):
        note.append("paper ran popjym, which differs from popgym in several games")
    setup = [f"the paper's numbers: {column['setup']}"] if column.get("setup") else []
    if column.get("table1") and not ours.empty:
        departures = table1_departures(ours["hyperparameters"], column["table1"])
        if departures:
            setup.append(f"our runs depart from the paper's Table 1 in (paper → ours): {departures}")
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
        "tolerance": tol,
        "class": klass,
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


@dataclass(frozen=True)
class Column:
    """One column of a per-task table, the same in markdown, LaTeX, CSV-facing displays and the page."""

    title: str
    text: Callable[[Mapping[str, Any]], str]
    key: Callable[[Mapping[str, Any]], float]
    """What the page's sorter compares (NaN: sorts last)."""


def _p_text(r: Mapping[str, Any]) -> str:
    if r["leader"]:
        return "leader"
    return fmt(r["p_vs_leader"], 3) + (" (not separated)" if r["top"] else "")


def _runs_text(r: Mapping[str, Any]) -> str:
    return f"{r['runs']}" + (f" ({r['penalized']} as floor)" if r["penalized"] else "")


def _count(x: float) -> str:
    return fmt(int(x)) if np.isfinite(x) else "–"


RANKING_COLUMNS = (
    Column("runs", _runs_text, lambda r: r["runs"]),
    Column("score at the common budget (median ± std)", lambda r: pm(r["median"], r["std"]), lambda r: r["median"]),
    Column(
        "normalized IQM [95% CI]",
        lambda r: ci(r["norm_iqm"], r["norm_iqm_low"], r["norm_iqm_high"]),
        lambda r: r["norm_iqm"],
    ),
    Column("p vs leader (Holm)", _p_text, lambda r: r["p_vs_leader"]),
)
"""The ranking at the common budget: only ranked agents' rows."""

OWN_BUDGET_COLUMNS = (
    Column("runs", _runs_text, lambda r: r["runs"]),
    Column(
        "budget (env steps per run)",
        lambda r: budget_range(r["budget_min"], r["budget_max"]),
        lambda r: r["budget_max"],
    ),
    Column("best score (median ± std)", lambda r: pm(r["best_median"], r["best_std"]), lambda r: r["best_median"]),
    Column(
        "best, normalized IQM [95% CI]",
        lambda r: ci(r["best_iqm"], r["best_iqm_low"], r["best_iqm_high"]),
        lambda r: r["best_iqm"],
    ),
    Column("final policy (mean)", lambda r: fmt(r["final_mean"]), lambda r: r["final_mean"]),
    Column("env steps to stop (median)", lambda r: _count(r["env_steps_median"]), lambda r: r["env_steps_median"]),
    Column("steps/s (block)", lambda r: _count(r["steps_per_s"]), lambda r: r["steps_per_s"]),
    Column("wall-clock per run", lambda r: seconds(r["wall_per_run_s"]), lambda r: r["wall_per_run_s"]),
)
"""Each agent at its own budget, the paper's max-over-evaluations metric included: every agent's rows."""


def seconds(x: float) -> str:
    """A duration as people say it: 42 s, 12 min, 1.3 h."""
    if not np.isfinite(x):
        return "–"
    if x < 120:
        return f"{x:.0f} s"
    return f"{x / 60:.0f} min" if x < 5400 else f"{x / 3600:.1f} h"


def display(df: pd.DataFrame, columns: Sequence[Column], ranked_only: bool = False) -> pd.DataFrame:
    """A per-task table as people read it (strings; the winner in bold)."""
    rows = df[df["ranked"]] if ranked_only else df
    out = {
        "task": rows["task"].tolist(),
        "agent": [f"**{r['agent']}**" if r["winner"] else r["agent"] for _, r in rows.iterrows()],
    }
    for c in columns:
        out[c.title] = [c.text(r) for _, r in rows.iterrows()]
    return pd.DataFrame(out, columns=["task", "agent", *(c.title for c in columns)])


def per_task_csv(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["links", "provenance"])


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
            "tolerance (±)": [fmt(t, 3) for t in df["tolerance"]],
            "cell": df["class"],
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
