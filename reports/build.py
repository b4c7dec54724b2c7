"""Build the report: markdown + CSV + LaTeX tables, seaborn figures and a static HTML leaderboard.

Everything is computed from the validated result files and the reference JSON, with seeded
statistics: the same inputs give byte-identical files (no timestamps, fixed bootstrap seed). The
report directory is written next to itself and swapped in at the end, so an interrupted build
never leaves a half-written report.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import figures, headline, stats, summary, tables, verdict
from reports.budget import Terms, at_common_budget
from reports.html import render_html
from reports.load import Loaded, load_reference, load_results, with_user_constants
from reports.scores import (
    coverage,
    curves_table,
    diagnostics_table,
    efficiency_curves,
    run_table,
    score_matrices,
)
from reports.sections import (
    DIAGNOSTICS_NOTE,
    FIGURE_TITLES,
    NO_CONSTANTS_NOTE,
    OWN_BUDGET_NOTE,
    PAPER_NOTE,
    SuiteSection,
    aggregate_display,
    aggregate_frame,
    coverage_display,
    how_to_read,
    own_budget_display,
    poi_display,
)

TAUS = np.linspace(-0.25, 1.25, 61)
"""Performance-profile thresholds on the normalized scale (below random to above the ceiling)."""


@dataclass(frozen=True)
class Options:
    reps: int = 50_000
    """Bootstrap resamples for the aggregate metrics (rliable's recommendation)."""
    reps_small: int = 2_000
    """Resamples for per-task IQMs, probability of improvement, profiles and curves."""
    seed: int = 0
    """Seed of every resampler and permutation test."""
    screenshot: bool = True
    """Render index.html in headless Chromium to screenshot.png when a browser is installed."""
    constants: Path | None = None
    """A user's constants file for their own tasks, added to the package's (`--constants`)."""
    unranked: tuple[str, ...] = ()
    """Agents shown only at their own budget, left out of every ranking and of the common budget
    (`--unranked`, e.g. a run capped below the others for speed)."""


def slug(name: str) -> str:
    """A file-name-safe form of a string that came from a results file."""
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "_"
    return s if s == name else f"{s}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _distinct_sources(g: pd.DataFrame) -> list[dict[str, Any]]:
    """An agent's distinct recorded configuration sources (a run without one counts as unrecorded)."""
    seen: dict[str, dict[str, Any]] = {}
    for src in g["source"]:
        src = src if isinstance(src, dict) else {}
        seen.setdefault(json.dumps(src, sort_keys=True), src)
    return [seen[k] for k in sorted(seen)]


def analyse_suite(
    name: str,
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    cov: pd.DataFrame,
    constants: dict[str, Any] | None,
    terms: dict[tuple[str, str], Terms],
    opts: Options,
    out_dir: Path,
    diag: pd.DataFrame | None = None,
) -> SuiteSection:
    sr = runs[runs["suite"] == name]
    sec = SuiteSection(
        name,
        slug(name),
        cov[cov["suite"] == name].reset_index(drop=True),
        tables.per_task(sr, opts.reps_small, opts.seed) if not sr.empty else pd.DataFrame(),
    )
    if sr.empty:
        return sec
    sec.terms = {task: t for (suite, task), t in terms.items() if suite == name}
    sec.unranked = sorted(set(sr["agent"]) - set(sr.loc[sr["ranked"], "agent"]))
    sec.sources = {str(a): _distinct_sources(g) for a, g in sr.groupby("agent", sort=True)}
    known = set((constants or {}).get("tasks", {}))
    sec.no_constants = sorted(set(sr["task"]) - known)
    normalized = sr[sr["task"].isin(known)]
    raw = sr[sr["task"].isin(sec.no_constants) & np.isfinite(sr["best"].astype(float))]
    matrices, sec.tasks, sec.left_out = score_matrices(normalized[normalized["ranked"]], "norm_primary")
    fig_dir = out_dir / "figures" / sec.slug
    if np.isfinite(sec.ranked["norm_iqm"].astype(float)).any():
        sec.figures["heatmap"] = figures.heatmap(sec.per_task, fig_dir / "heatmap.png")
    if np.isfinite(normalized["norm_primary"].astype(float)).any():
        sec.figures["dots"] = figures.per_task_dots(normalized, fig_dir / "per_task.png")
        sec.figures["compute"] = figures.compute_view(normalized, fig_dir / "compute.png")
    if not raw.empty:
        sec.figures["raw"] = figures.per_task_raw(raw, fig_dir / "per_task_raw.png")
    sc = curves[curves["suite"] == name]
    if not sc.empty:
        budgets = {task: t.budget for task, t in sec.terms.items()}
        sec.figures["curves"] = figures.learning_curves(sc, fig_dir / "learning_curves.png", budgets)
    if matrices and sec.tasks:
        sec.aggregates = stats.interval_estimates(matrices, reps=opts.reps, seed=opts.seed)
        sec.figures["aggregates"] = figures.aggregate_intervals(sec.aggregates, fig_dir / "aggregates.png")
        agents = sorted(matrices)
        if len(agents) > 1:
            sec.poi = stats.poi_matrix(matrices, reps=opts.reps_small, seed=opts.seed)
            sec.figures["poi"] = figures.poi_heatmap(sec.poi, agents, fig_dir / "probability_of_improvement.png")
        prof = stats.performance_profile(matrices, TAUS, reps=opts.reps_small, seed=opts.seed)
        sec.figures["profiles"] = figures.performance_profiles(TAUS, prof, fig_dir / "performance_profiles.png")
    own, sec.own_tasks, _ = score_matrices(normalized, "norm_best")
    if own and sec.own_tasks:
        sec.best_iqm = _iqm(own, opts)
        sec.final_iqm = final_iqm(normalized[normalized["task"].isin(sec.own_tasks)], sec.own_tasks, opts)
        grid, eff, complete = efficiency_curves(normalized, sec.own_tasks)
        if len(grid):
            eff_ci = stats.sample_efficiency(eff, reps=opts.reps_small, seed=opts.seed)
            common = {t.budget for task, t in sec.terms.items() if task in sec.own_tasks}
            sec.figures["efficiency"] = figures.sample_efficiency(
                grid, eff_ci, complete, fig_dir / "sample_efficiency.png", common.pop() if len(common) == 1 else None
            )
    sec.figures = {k: sec.figures[k] for k in FIGURE_TITLES if sec.figures.get(k) is not None}
    sec.verdict = verdict.verdict(sec)
    sd = diag[diag["suite"] == name] if diag is not None else pd.DataFrame()
    for task, g in sd.groupby("task", sort=True):
        if np.isfinite(g["value"].astype(float)).any():
            sec.diagnostics[str(task)] = figures.diagnostics(
                g, str(task), fig_dir / "diagnostics" / f"{slug(str(task))}.png"
            )
    return sec


def _iqm(matrices: dict[str, np.ndarray], opts: Options) -> dict[str, stats.Interval]:
    return {a: v["iqm"] for a, v in stats.interval_estimates(matrices, reps=opts.reps, seed=opts.seed).items()}


def final_iqm(runs: pd.DataFrame, tasks: list[str], opts: Options) -> dict[str, stats.Interval]:
    """IQM of normalized final-policy scores, over exactly the given tasks (empty where some agent
    lacks a final score on one of them, so that two aggregates are never on different task sets)."""
    matrices, final_tasks, _ = score_matrices(runs, "norm_final")
    if final_tasks != tasks:
        return {}
    return _iqm(matrices, opts)


class ReportWriteError(Exception):
    """The OS refused a write of the report. `started`: False when nothing could be written at all
    (an unwritable `--out`), True when it failed mid-build; either way the previous report is intact."""

    def __init__(self, path: Path, error: OSError, started: bool):
        self.path, self.reason, self.started = Path(path), error.strerror or str(error), started
        super().__init__(f"{self.path}: {self.reason}")


@dataclass(frozen=True)
class Built:
    readme: Path
    html: Path
    rejected: int
    screenshot_note: str | None
    """Why no screenshot was taken (None when it was)."""


def build_report(
    results_dir: Path, out_dir: Path, options: Options | None = None, data_dir: Path | None = None
) -> Built:
    """Write the report into `out_dir`, replacing it whole."""
    opts = options or Options()
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    loaded = load_results(results_dir)
    constants = load_reference("normalization.json", data_dir)
    if opts.constants is not None:
        constants = with_user_constants(constants, opts.constants)
    paper = load_reference("paper_tables.json", data_dir)

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as e:
        raise ReportWriteError(out_dir, e, started=False) from None
    try:
        runs, terms = at_common_budget(run_table(loaded, constants, out_dir), constants, opts.unranked)
        curves = curves_table(loaded)
        diag = diagnostics_table(loaded)
        cov = coverage(loaded, runs)
        names = sorted(set(runs["suite"]) | set(loaded.planned))
        sections = [analyse_suite(n, runs, curves, cov, constants, terms, opts, work, diag) for n in names]
        paper_df = tables.paper_comparison(runs, paper, constants) if paper else pd.DataFrame()
        _write_tables(work, sections, paper_df, cov)
        (work / "summary.json").write_text(summary.dumps(summary.summary(sections, paper_df, constants)))
        (work / "headline.md").write_text(headline.render(sections, paper_df))
        (work / "README.md").write_text(render_markdown(loaded, sections, paper_df, constants, opts, work))
        (work / "index.html").write_text(render_html(loaded, sections, paper_df, constants, opts, work))
        _swap_in(work, out_dir)
    except OSError as e:  # a full disk mid-build: the previous report stays as it was
        shutil.rmtree(work, ignore_errors=True)
        where = Path(e.filename) if isinstance(e.filename, str) else out_dir
        if work in where.parents:
            where = out_dir / where.relative_to(work)
        raise ReportWriteError(where, e, started=True) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    note = "turned off"
    if opts.screenshot:
        from reports.browser import screenshot

        note = screenshot(out_dir / "index.html", out_dir / "screenshot.png")
    return Built(out_dir / "README.md", out_dir / "index.html", len(loaded.rejected), note)


def _swap_in(work: Path, out_dir: Path) -> None:
    """Replace the old report by the new one in two renames (the old one is kept until then)."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    try:
        os.replace(work, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)  # the previous report back where it was
        raise
    mask = os.umask(0o022)  # read the umask back (the report is built in one thread)
    os.umask(mask)
    os.chmod(out_dir, 0o777 & ~mask)  # mkdtemp's private 0700 would hide the report from colleagues
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_tables(work: Path, sections: list[SuiteSection], paper_df: pd.DataFrame, cov: pd.DataFrame) -> None:
    tdir = work / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    cov.to_csv(tdir / "coverage.csv", index=False)
    for sec in sections:
        if sec.per_task.empty:
            continue
        sec.per_task.pipe(tables.per_task_csv).to_csv(tdir / f"{sec.slug}_per_task.csv", index=False)
        views = (
            ("per_task", tables.RANKING_COLUMNS, True, "per task at the common budget"),
            ("own_budget", tables.OWN_BUDGET_COLUMNS, False, "each agent at its own budget"),
        )
        for stem, columns, ranked_only, what in views:
            disp = tables.display(sec.per_task, columns, ranked_only)
            (tdir / f"{sec.slug}_{stem}.md").write_text(tables.markdown_table(disp))
            (tdir / f"{sec.slug}_{stem}.tex").write_text(
                tables.latex_table(disp, f"Suite {sec.name}: {what} (median $\\pm$ std over seeds)")
            )
        if sec.aggregates or sec.best_iqm:
            aggregate_frame(sec).to_csv(tdir / f"{sec.slug}_aggregates.csv", index=False)
    if not paper_df.empty:
        paper_df.to_csv(tdir / "paper_comparison.csv", index=False)
        disp = tables.paper_display(paper_df)
        (tdir / "paper_comparison.md").write_text(tables.markdown_table(disp))
        (tdir / "paper_comparison.tex").write_text(
            tables.latex_table(disp, "Our results next to the paper's Tables 2 and 3")
        )


def render_markdown(
    loaded: Loaded,
    sections: list[SuiteSection],
    paper_df: pd.DataFrame,
    constants: dict[str, Any] | None,
    opts: Options,
    work: Path,
) -> str:
    md = tables.markdown_table
    lines = [
        "# Results",
        "",
        f"{len(loaded.runs)} valid result files, {len(loaded.rejected)} rejected. "
        f"The same files give the same report (bootstrap seed {opts.seed}).",
        "",
        "## How to read this report",
        "",
        *(f"- **{label}**: {text}" for label, text in how_to_read(constants, opts)),
        "",
        "## Headline",
        "",
        headline.render(sections, paper_df),
    ]
    for sec in sections:
        lines += [f"## Suite `{tables.md_escape(sec.name)}`", ""]
        if not sec.per_task.empty and not sec.ranked.empty:
            lines += ["### The ranking at the common budget", ""]
            if sec.aggregates:
                lines += [f"Over {len(sec.tasks)} tasks: {', '.join(map(tables.md_escape, sec.tasks))}.", ""]
                if sec.left_out:
                    lines += [
                        "Left out (not every ranked agent has scores): "
                        + ", ".join(map(tables.md_escape, sec.left_out))
                        + ".",
                        "",
                    ]
                lines += [md(aggregate_display(sec))]
                if sec.poi:
                    lines += ["Probability of improvement:", "", md(poi_display(sec))]
            lines += [md(tables.display(sec.per_task, tables.RANKING_COLUMNS, ranked_only=True))]
        if sec.no_constants:
            lines += [
                f"No normalization constants for {', '.join(map(tables.md_escape, sec.no_constants))}: "
                + NO_CONSTANTS_NOTE,
                "",
            ]
        if not sec.per_task.empty:
            lines += ["### Each agent at its own budget", "", OWN_BUDGET_NOTE, ""]
            if sec.best_iqm:
                lines += [md(own_budget_display(sec))]
            lines += [md(tables.display(sec.per_task, tables.OWN_BUDGET_COLUMNS))]
        if sec.figures:
            lines += ["### Figures", ""]
            for key, path in sec.figures.items():
                rel = path.relative_to(work).as_posix()
                lines += [f"![{FIGURE_TITLES[key]}]({rel})", ""]
        lines += ["### Coverage", "", md(coverage_display(sec.coverage))]
        if sec.diagnostics:
            lines += ["### Learning diagnostics", "", DIAGNOSTICS_NOTE, ""]
            for task, path in sec.diagnostics.items():
                lines += [f"![{tables.md_escape(task)}: learning diagnostics]({path.relative_to(work).as_posix()})", ""]
    if not paper_df.empty:
        lines += [
            "## Comparison with the paper (Tables 2 and 3)",
            "",
            PAPER_NOTE,
            "",
            md(tables.paper_display(paper_df[paper_df["ours_runs"] > 0]))
            if (paper_df["ours_runs"] > 0).any()
            else "_No runs of the paper's tasks and agents yet._\n",
        ]
    if loaded.rejected:
        lines += ["## Rejected files", ""]
        lines += [f"- `{tables.md_escape(p)}`: {tables.md_escape(why)}" for p, why in loaded.rejected]
        lines += [""]
    lines += [
        "Tables as CSV and LaTeX: `tables/`. Machine-readable summary: `summary.json`. Leaderboard: `index.html`.",
        "",
    ]
    return "\n".join(lines)
