"""The static HTML leaderboard: one page next to its figures (linked, not inlined, so that a published
site holds each image once), every string escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from reports import tables, verdict
from reports.load import Loaded
from reports.sections import (
    DIAGNOSTICS_NOTE,
    FIGURE_TITLES,
    GLOSSARY,
    NO_CONSTANTS_NOTE,
    OWN_BUDGET_NOTE,
    PAPER_NOTE,
    SuiteSection,
    aggregate_display,
    coverage_display,
    how_to_read,
    own_budget_display,
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


def _rows(sec: SuiteSection, columns: Sequence[tables.Column], ranked_only: bool) -> list[dict[str, Any]]:
    """The rows of one per-task table, from the same column spec as the markdown and LaTeX ones."""
    df = sec.ranked if ranked_only else sec.per_task
    return [
        {
            "task": r["task"],
            "agent": r["agent"],
            "winner": bool(r["winner"]),
            "cells": [(c.text(r), _sort_key(c.key(r))) for c in columns],
            "links": [(f"seed {s}", link) for s, link in r["links"]],
            "provenance": r["provenance"],
        }
        for _, r in df.iterrows()
    ]


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def inline(text: str) -> Markup:
    """Markdown-inline text the report generated (names already escaped by `tables.md_escape`) as HTML:
    `code` and **bold**, nothing else."""
    text = str(text).replace("\\|", "|")
    return Markup(_BOLD.sub(r"<b>\1</b>", _CODE.sub(r"<code>\1</code>", text)))


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
) -> str:
    suites = []
    for sec in sections:
        suites.append(
            {
                "name": sec.name,
                "id": f"suite-{sec.slug}",
                "verdict": inline(sec.verdict),
                "held_equal": inline(verdict.held_equal(sec)),
                "sources": [inline(line.removeprefix("- ")) for line in verdict.source_lines(sec)],
                "heatmap": _image(sec.figures["heatmap"], work) if "heatmap" in sec.figures else None,
                "coverage": _frame(coverage_display(sec.coverage)),
                "aggregates": _frame(aggregate_display(sec)) if sec.aggregates else None,
                "own_aggregates": _frame(own_budget_display(sec)) if sec.best_iqm else None,
                "poi": _frame(poi_display(sec)) if sec.poi else None,
                "tasks": sec.tasks,
                "left_out": sec.left_out,
                "no_constants": sec.no_constants,
                "ranking": _rows(sec, tables.RANKING_COLUMNS, True) if not sec.ranked.empty else [],
                "own_budget": _rows(sec, tables.OWN_BUDGET_COLUMNS, False) if not sec.per_task.empty else [],
                "figures": [(FIGURE_TITLES[k], _image(p, work)) for k, p in sec.figures.items() if k != "heatmap"],
                "diagnostics": [
                    (f"{task}: learning diagnostics", _image(p, work)) for task, p in sec.diagnostics.items()
                ],
            }
        )
    paper_rows = paper_df[paper_df["ours_runs"] > 0] if not paper_df.empty else paper_df
    return (
        _env()
        .get_template("leaderboard.html.j2")
        .render(
            suites=suites,
            n_valid=len(loaded.runs),
            rejected=[(str(p), why) for p, why in loaded.rejected],
            how_to_read=[(label, inline(text)) for label, text in how_to_read(constants, opts)],
            diagnostics_note=DIAGNOSTICS_NOTE,
            no_constants_note=NO_CONSTANTS_NOTE,
            own_budget_note=inline(OWN_BUDGET_NOTE),
            glossary=GLOSSARY,
            paper_note=inline(PAPER_NOTE),
            seed=opts.seed,
            paper=_frame(tables.paper_display(paper_rows)) if not paper_rows.empty else None,
            ranking_columns=[c.title for c in tables.RANKING_COLUMNS],
            own_budget_columns=[c.title for c in tables.OWN_BUDGET_COLUMNS],
        )
    )
