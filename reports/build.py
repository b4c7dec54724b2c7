"""Build the report: markdown + CSV + LaTeX tables, seaborn figures and a static HTML leaderboard.

Everything is computed from the validated result files and the reference JSON, with seeded
statistics: the same inputs give byte-identical files (no timestamps, fixed bootstrap seed). The
report directory is written next to itself and swapped in at the end, so an interrupted build
never leaves a half-written report.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import figures, headline, stats, tables
from reports.html import render_html
from reports.load import Loaded, load_reference, load_results, with_user_constants
from reports.scores import (
    POLICY,
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
    SuiteSection,
    aggregate_display,
    aggregate_frame,
    constants_line,
    coverage_display,
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


def slug(name: str) -> str:
    """A file-name-safe form of a string that came from a results file."""
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "_"
    return s if s == name else f"{s}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def analyse_suite(
    name: str,
    loaded: Loaded,
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    cov: pd.DataFrame,
    constants: dict[str, Any] | None,
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
    known = set((constants or {}).get("tasks", {}))
    sec.no_constants = sorted(set(sr["task"]) - known)
    normalized = sr[sr["task"].isin(known) & np.isfinite(sr["norm_best"].astype(float))]
    raw = sr[sr["task"].isin(sec.no_constants) & np.isfinite(sr["best"].astype(float))]
    matrices, sec.tasks, sec.left_out = score_matrices(sr[sr["task"].isin(known)])
    fig_dir = out_dir / "figures" / sec.slug
    if not normalized.empty:
        sec.figures["bars"] = figures.per_task_bars(normalized, fig_dir / "per_task_bars.png")
        sec.figures["compute"] = figures.compute_view(normalized, fig_dir / "compute.png")
    if not raw.empty:
        sec.figures["raw"] = figures.per_task_raw(raw, fig_dir / "per_task_raw.png")
    sc = curves[curves["suite"] == name]
    if not sc.empty:
        sec.figures["curves"] = figures.learning_curves(sc, fig_dir / "learning_curves.png")
    if matrices and sec.tasks:
        sec.aggregates = stats.interval_estimates(matrices, reps=opts.reps, seed=opts.seed)
        sec.final_iqm = final_iqm(sr[sr["task"].isin(sec.tasks)], sec.tasks, opts)
        sec.figures["aggregates"] = figures.aggregate_intervals(sec.aggregates, fig_dir / "aggregates.png")
        agents = sorted(matrices)
        if len(agents) > 1:
            sec.poi = stats.poi_matrix(matrices, reps=opts.reps_small, seed=opts.seed)
            sec.figures["poi"] = figures.poi_heatmap(sec.poi, agents, fig_dir / "probability_of_improvement.png")
        prof = stats.performance_profile(matrices, TAUS, reps=opts.reps_small, seed=opts.seed)
        sec.figures["profiles"] = figures.performance_profiles(TAUS, prof, fig_dir / "performance_profiles.png")
        grid, eff = efficiency_curves(sc, sr, sec.tasks)
        if len(grid):
            eff_ci = stats.sample_efficiency(eff, reps=opts.reps_small, seed=opts.seed)
            sec.figures["efficiency"] = figures.sample_efficiency(grid, eff_ci, fig_dir / "sample_efficiency.png")
    sec.figures = {k: sec.figures[k] for k in FIGURE_TITLES if sec.figures.get(k) is not None}
    sd = diag[diag["suite"] == name] if diag is not None else pd.DataFrame()
    for task, g in sd.groupby("task", sort=True):
        if np.isfinite(g["value"].astype(float)).any():
            sec.diagnostics[str(task)] = figures.diagnostics(
                g, str(task), fig_dir / "diagnostics" / f"{slug(str(task))}.png"
            )
    return sec


def final_iqm(runs: pd.DataFrame, tasks: list[str], opts: Options) -> dict[str, stats.Interval]:
    """IQM of normalized final-policy scores, over exactly the aggregate's tasks (empty where some
    agent lacks a final score on one of them, so that the two are never on different task sets)."""
    matrices, final_tasks, _ = score_matrices(runs, "norm_final")
    if final_tasks != tasks:
        return {}
    return {a: v["iqm"] for a, v in stats.interval_estimates(matrices, reps=opts.reps, seed=opts.seed).items()}


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
        runs = run_table(loaded, constants, out_dir)
        curves = curves_table(loaded, constants)
        diag = diagnostics_table(loaded)
        cov = coverage(loaded, runs)
        names = sorted(set(runs["suite"]) | set(loaded.planned))
        sections = [analyse_suite(n, loaded, runs, curves, cov, constants, opts, work, diag) for n in names]
        paper_df = tables.paper_comparison(runs, paper, constants) if paper else pd.DataFrame()
        _write_tables(work, sections, paper_df, cov)
        (work / "headline.md").write_text(headline.render(sections, paper_df))
        (work / "README.md").write_text(render_markdown(loaded, sections, paper_df, constants, opts, work))
        (work / "index.html").write_text(render_html(loaded, sections, paper_df, constants, opts, work, runs))
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
        disp = tables.per_task_display(sec.per_task)
        (tdir / f"{sec.slug}_per_task.md").write_text(tables.markdown_table(disp))
        (tdir / f"{sec.slug}_per_task.tex").write_text(
            tables.latex_table(disp, f"Suite {sec.name}: per-task results (best = median $\\pm$ std over seeds)")
        )
        if sec.aggregates:
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
        "- **Score**: the paper's per-run result, the best evaluation score (total reward / finished "
        "episodes over the evaluation steps); *final* = the final policy's mean episode return.",
        "- **Normalized** = (score − floor) / (ceiling − floor): 0 = random agent, 1 = ceiling. "
        + constants_line(constants),
        f"- **Failure policy**: {POLICY}.",
        f"- **Aggregates** (rliable's IQM, median, mean, optimality gap): 95% percentile CIs from "
        f"{opts.reps:,} stratified bootstrap resamples (tasks resampled independently, runs within a "
        f"task with replacement); only over tasks every agent of the suite has runs on. Probability "
        f"of improvement, performance profiles, sample-efficiency curves and per-task IQMs use "
        f"{opts.reps_small:,} resamples.",
        f"- **Winner** (bold in per-task tables): the leader (highest median) beats every other agent "
        f"in a two-sided permutation test of mean best scores (exact for small samples), Holm-corrected "
        f"within the task, at α = {tables.ALPHA}. With 3 seeds per agent no test can reach it (the "
        f"smallest exact p is 0.1): run ≥ 5 seeds for claims.",
        "",
        "## Headline",
        "",
        headline.render(sections, paper_df),
    ]
    for sec in sections:
        lines += [
            f"## Suite `{tables.md_escape(sec.name)}`",
            "",
            "### Coverage",
            "",
            md(coverage_display(sec.coverage)),
        ]
        if sec.aggregates:
            lines += [
                "### Aggregate (normalized best score)",
                "",
                f"Over {len(sec.tasks)} tasks: {', '.join(map(tables.md_escape, sec.tasks))}.",
                "",
            ]
            if sec.left_out:
                lines += [f"Left out (not every agent has runs): {', '.join(map(tables.md_escape, sec.left_out))}.", ""]
            lines += [md(aggregate_display(sec))]
            if sec.poi:
                lines += ["### Probability of improvement", "", md(poi_display(sec))]
        if sec.no_constants:
            lines += [
                f"No normalization constants for {', '.join(map(tables.md_escape, sec.no_constants))}: "
                + NO_CONSTANTS_NOTE,
                "",
            ]
        if not sec.per_task.empty:
            lines += ["### Per task", "", md(tables.per_task_display(sec.per_task))]
        if sec.figures:
            lines += ["### Figures", ""]
            for key, path in sec.figures.items():
                rel = path.relative_to(work).as_posix()
                lines += [f"![{FIGURE_TITLES[key]}]({rel})", ""]
        if sec.diagnostics:
            lines += ["### Learning diagnostics", "", DIAGNOSTICS_NOTE, ""]
            for task, path in sec.diagnostics.items():
                lines += [f"![{tables.md_escape(task)}: learning diagnostics]({path.relative_to(work).as_posix()})", ""]
    if not paper_df.empty:
        lines += [
            "## Comparison with the paper (Tables 2 and 3)",
            "",
            f"⚠ marks our median outside the paper's spread: more than {tables.PAPER_SPREAD:g} paper stds, "
            f"or {tables.PAPER_MIN_TOLERANCE:.0%} of the task's normalization range where the paper's std is "
            "smaller, from the paper's median. The paper trained up to 50M env steps with patience 20: "
            "compare only runs with a comparable budget (env steps column). Cells without our runs are left "
            "out here; `tables/paper_comparison.csv` has all of them.",
            "",
            md(tables.paper_display(paper_df[paper_df["ours_runs"] > 0]))
            if (paper_df["ours_runs"] > 0).any()
            else "_No runs of the paper's tasks and agents yet._\n",
        ]
    if loaded.rejected:
        lines += ["## Rejected files", ""]
        lines += [f"- `{tables.md_escape(p)}`: {tables.md_escape(why)}" for p, why in loaded.rejected]
        lines += [""]
    lines += ["Tables as CSV and LaTeX: `tables/`. Leaderboard: `index.html`.", ""]
    return "\n".join(lines)
