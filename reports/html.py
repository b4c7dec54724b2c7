"""The static HTML leaderboard: one page next to its figures (linked, not inlined, so that a published
site holds each image once), every string escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from reports import tables
from reports.load import Loaded
from reports.scores import POLICY
from reports.sections import (
    DIAGNOSTICS_NOTE,
    FIGURE_TITLES,
    NO_CONSTANTS_NOTE,
    SuiteSection,
    aggregate_display,
    constants_line,
    coverage_display,
    poi_display,
)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _sort_key(value: Any) -> str:
    """What the page's sorter compares: numbers as numbers, the rest as text."""
    if isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
        return repr(float(value))
    return ""


def _provenance(g: pd.DataFrame) -> list[str]:
    out = []
    for (commit, dirty, device, host, platform), _ in g.groupby(
        ["git_commit", "git_dirty", "device", "host", "platform"], dropna=False, sort=True
    ):
        c = "unknown commit" if not isinstance(commit, str) else commit[:12] + (" (dirty)" if dirty is True else "")
        out.append(f"{c} · {platform}: {device} · {host}")
    return out


def _per_task_rows(sec: SuiteSection, runs: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    sr = runs[runs["suite"] == sec.name]
    disp = tables.per_task_display(sec.per_task)
    for (_, raw), (_, d) in zip(sec.per_task.iterrows(), disp.iterrows()):
        g = sr[(sr["task"] == raw["task"]) & (sr["agent"] == raw["agent"])]
        rows.append(
            {
                "task": raw["task"],
                "agent": raw["agent"],
                "winner": bool(raw["winner"]),
                "cells": [
                    (d["runs"], _sort_key(raw["runs"])),
                    (d["best (median ± std)"], _sort_key(raw["best_median"])),
                    (d["normalized IQM [95% CI]"], _sort_key(raw["norm_iqm"])),
                    (d["final (mean)"], _sort_key(raw["final_mean"])),
                    (d["budget (env steps per run)"], _sort_key(raw["budget_max"])),
                    (d["env steps to stop (median)"], _sort_key(raw["env_steps_median"])),
                    (d["steps/s (block)"], _sort_key(raw["steps_per_s"])),
                    (d["p vs leader (Holm)"], _sort_key(raw["p_vs_leader"])),
                ],
                "links": [(f"seed {s}", link) for s, link in raw["links"]],
                "provenance": _provenance(g),
            }
        )
    return rows


def _image(path: Path, work: Path) -> str:
    """The figure's path relative to the page (the report directory moves as a whole)."""
    return path.relative_to(work).as_posix()


def _frame(df: pd.DataFrame) -> dict[str, Any]:
    return {"columns": [str(c) for c in df.columns], "rows": [[str(v) for v in r] for r in df.itertuples(index=False)]}


def render_html(
    loaded: Loaded,
    sections: list[SuiteSection],
    paper_df: pd.DataFrame,
    constants: dict[str, Any] | None,
    opts: Any,
    work: Path,
    runs: pd.DataFrame,
) -> str:
    suites = []
    for sec in sections:
        suites.append(
            {
                "name": sec.name,
                "id": f"suite-{sec.slug}",
                "coverage": _frame(coverage_display(sec.coverage)),
                "aggregates": _frame(aggregate_display(sec)) if sec.aggregates else None,
                "poi": _frame(poi_display(sec)) if sec.poi else None,
                "tasks": sec.tasks,
                "left_out": sec.left_out,
                "no_constants": sec.no_constants,
                "per_task": _per_task_rows(sec, runs) if not sec.per_task.empty else [],
                "figures": [(FIGURE_TITLES[k], _image(p, work)) for k, p in sec.figures.items()],
                "diagnostics": [
                    (f"{task}: learning diagnostics", _image(p, work)) for task, p in sec.diagnostics.items()
                ],
            }
        )
    return (
        _env()
        .get_template("leaderboard.html.j2")
        .render(
            suites=suites,
            n_valid=len(loaded.runs),
            rejected=[(str(p), why) for p, why in loaded.rejected],
            constants_line=constants_line(constants),
            diagnostics_note=DIAGNOSTICS_NOTE,
            no_constants_note=NO_CONSTANTS_NOTE,
            policy=POLICY,
            reps=opts.reps,
            reps_small=opts.reps_small,
            seed=opts.seed,
            alpha=tables.ALPHA,
            paper=_frame(tables.paper_display(paper_df[paper_df["ours_runs"] > 0]))
            if not paper_df.empty and (paper_df["ours_runs"] > 0).any()
            else None,
            per_task_columns=[
                "runs",
                "best (median ± std)",
                "normalized IQM [95% CI]",
                "final (mean)",
                "budget (env steps per run)",
                "env steps to stop (median)",
                "steps/s (block)",
                "p vs leader (Holm)",
            ],
        )
    )
