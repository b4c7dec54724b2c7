"""The headline (`headline.md`, the top of a report): its cells recomputed from the result files
with numpy/scipy, its winners taken from the per-task table, its paper count from a hand-made
comparison."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from report_data import AGENTS, CONSTANTS, TASKS, reference_dir, write_grid

from reports import headline, tables
from reports.budget import at_common_budget
from reports.build import Options, build_report
from reports.load import load_results
from reports.scores import run_table

FAST = Options(reps=2_000, reps_small=500, seed=3, screenshot=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("headline")
    results, data = root / "results", reference_dir(root)
    write_grid(results, CONSTANTS)
    built = build_report(results, results / "report", FAST, data_dir=data)
    return results, built.readme.parent


def _table(text: str) -> pd.DataFrame:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return pd.DataFrame(rows, columns=head).set_index("task")


def test_headline_cells_match_an_independent_computation(report):
    results, out = report
    shown = _table((out / "headline.md").read_text())
    assert list(shown.index) == sorted(TASKS) and list(shown.columns) == [*AGENTS, headline.RESULT]
    runs, _ = at_common_budget(run_table(load_results(results), CONSTANTS), CONSTANTS)
    per_task = tables.per_task(runs, reps=FAST.reps_small, seed=FAST.seed).set_index(["task", "agent"])
    for task in TASKS:
        c = CONSTANTS["tasks"][task]
        winners = []
        for agent in AGENTS:
            # by hand from the files: every run has the same budget and grid, so its score at the common
            # budget is its last evaluation; the failure policy gives failed and diverged runs the floor
            score = np.array(
                [
                    c["floor"] if r["status"] in ("failed", "diverged") else r["curve"]["eval_score"][-1]
                    for r in load_results(results).runs
                    if (r["task"], r["agent"]) == (task, agent)
                ]
            )
            norm = (score - c["floor"]) / (c["ceiling"] - c["floor"])
            cell = shown.loc[task, agent]
            bold = cell.startswith("**") and cell.endswith("**")
            cell = cell.strip("*")
            assert cell.startswith(tables.pm(np.median(score), np.std(score, ddof=1)) + " ("), (task, agent, cell)
            iqm = float(cell.split("(")[1].split(" [")[0])
            assert iqm == pytest.approx(scipy.stats.trim_mean(norm, 0.25), abs=5e-4), (task, agent)
            assert bold == bool(per_task.loc[(task, agent), "winner"]), (task, agent)
            winners += [agent] if bold else []
        if winners:
            assert shown.loc[task, headline.RESULT] == winners[0]
        else:
            top = sorted(a for a in AGENTS if per_task.loc[(task, a), "top"])
            assert shown.loc[task, headline.RESULT] in (" = ".join(top), "none separate")
    assert "rtrrl" in set(shown[headline.RESULT]), "the grid has a clear winner somewhere (else this test is idle)"


def test_report_readme_opens_with_the_headline(report):
    _, out = report
    text = (out / "README.md").read_text()
    head = (out / "headline.md").read_text()
    assert "## Headline\n\n" + head in text
    assert text.index("## Headline") < text.index("## Suite `demo`")
    assert head.index("**Verdict.**") < head.index("Held equal") < head.index("| task |")
    assert "IQM of normalized scores at the common budget over the 3 tasks every ranked agent ran" in head


def test_final_policy_iqm_matches_an_independent_computation(report):
    """The own-budget line's final-policy IQM pools every run's normalized final score (floor_final,
    not floor, is the zero) and takes scipy's 25% trimmed mean."""
    results, out = report
    head = (out / "headline.md").read_text()
    line = next(ln for ln in head.splitlines() if ln.startswith("Each agent at its own budget"))
    final = line.split("of final-policy scores")[1]
    shown = {a: float(v) for a, v in re.findall(r"`([^`]+)` (-?[0-9.]+) \[", final)}
    assert sorted(shown) == list(AGENTS)
    runs = run_table(load_results(results), CONSTANTS)
    for agent in AGENTS:
        pooled = []
        for task in TASKS:
            c = CONSTANTS["tasks"][task]
            g = runs[(runs.task == task) & (runs.agent == agent)]
            final = np.where(g["status"].isin(["failed", "diverged"]), c["floor_final"], g["final_raw"].to_numpy(float))
            pooled += list((final - c["floor_final"]) / (c["ceiling"] - c["floor_final"]))
        assert shown[agent] == pytest.approx(scipy.stats.trim_mean(pooled, 0.25), abs=5e-4), agent


def _per_task_row(task: str, agent: str, mean: float, ranked: bool = True, winner: bool = False, top: bool = False):
    return {
        "task": task,
        "agent": agent,
        "ranked": ranked,
        "median": mean,
        "std": 0.0,
        "norm_iqm": np.nan,
        "norm_iqm_low": np.nan,
        "norm_iqm_high": np.nan,
        "winner": winner,
        "top": top or winner,
    }


def test_the_task_table_shows_ranked_agents_and_ties_as_ties():
    df = pd.DataFrame(
        [
            _per_task_row("T", "a", 1.0, top=True),
            _per_task_row("T", "b", 1.0, top=True),
            _per_task_row("T", "c", 0.2),
            _per_task_row("T", "capped", 1.0, ranked=False),
            _per_task_row("U", "a", 1.0, winner=True),
            _per_task_row("U", "b", 0.1),
        ]
    )
    shown = headline.task_by_agent(df).set_index("task")
    assert list(shown.columns) == ["a", "b", "c", headline.RESULT], "an unranked agent has no column"
    assert shown.loc["T", headline.RESULT] == "a = b" and shown.loc["U", headline.RESULT] == "a"
    assert shown.loc["U", "a"] == "**1 ± 0**" and shown.loc["U", "c"] == "–", "an agent without runs on a task"


def _paper_cell(
    row: str, agent: str, paper: float | None, ours_runs: int, flag: str, note: str = "", setup: str = ""
) -> dict:
    return {
        "table": "table2",
        "paper_row": row,
        "agent": agent,
        "paper_median": np.nan if paper is None else paper,
        "paper_std": 1.0,
        "ours_median": 3.0,
        "ours_std": 0.5,
        "ours_runs": ours_runs,
        "suite": "s",
        "tolerance": 2.0,
        "class": tables.INFORMATIVE,
        "flag": flag,
        "setup": setup,
        "note": note,
    }


def test_paper_summary_counts_only_comparable_cells_with_runs():
    df = pd.DataFrame(
        [
            _paper_cell("A", "x", 3.0, 5, ""),
            _paper_cell("B", "x", 9.0, 5, "lower", note="budget 2M env steps per run, below the paper's 50M"),
            _paper_cell("C", "x", None, 5, ""),  # the paper's cell is nan: nothing to reproduce
            _paper_cell("D", "x", 3.0, 0, ""),  # no runs of ours
            _paper_cell("E", "y", 1.0, 5, "higher", setup="tuned step sizes"),
            _paper_cell("F", "x", 1.0, 5, "higher"),
            _paper_cell("G", "y", 1.0, 5, "higher", setup="tuned step sizes"),
        ]
    )
    lines = headline.paper_summary(df, ["s"])
    assert lines[0].startswith("**Paper cells reproduced: 1 of 5 informative cells**")
    off = [ln for ln in lines if ln.lstrip().startswith("- ")]
    # grouped by agent, the agent's setup said once, each cell with its tolerance and its own note
    assert off == [
        "- `x`",
        "  - table2 B: ours 3 ± 0.5 vs the paper's 9 ± 1 (tolerance ± 2, lower); budget 2M env steps per run, "
        "below the paper's 50M",
        "  - table2 F: ours 3 ± 0.5 vs the paper's 1 ± 1 (tolerance ± 2, higher)",
        "- `y`: tuned step sizes",
        "  - table2 E: ours 3 ± 0.5 vs the paper's 1 ± 1 (tolerance ± 2, higher)",
        "  - table2 G: ours 3 ± 0.5 vs the paper's 1 ± 1 (tolerance ± 2, higher)",
    ]
    assert headline.paper_summary(df, ["other suite"]) == []


def test_report_writes_the_headline_into_a_readme_between_its_markers(cli, report, tmp_path):
    results, _ = report
    readme = tmp_path / "README.md"
    before, after = "# My project\n\nintro\n\n", "\n## Install\n\nrest\n"
    readme.write_text(f"{before}{headline.BEGIN}\nold headline\n{headline.END}{after}")
    args = ("report", "--results", str(results), "--reps", "500", "--no-screenshot", "--headline-into", str(readme))
    code, out, _ = cli(*args, "--out", str(tmp_path / "r"))
    assert code == 0 and f"headline: {readme}" in out
    text = readme.read_text()
    assert text.startswith(before + headline.BEGIN) and text.endswith(headline.END + after)
    assert headline.embedded(text) == (tmp_path / "r" / "headline.md").read_text()
    assert "old headline" not in text
    assert headline.embed(text, headline.embedded(text)) == text, "rewriting the same headline changes nothing"

    readme.write_text("# no markers\n")
    code, _, err = cli(*args, "--out", str(tmp_path / "r2"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "rtrrl-bench headline: begin" in err
    assert not (tmp_path / "r2").exists(), "checked before the build"
    assert readme.read_text() == "# no markers\n"
    code, _, err = cli(*args[:-1], str(tmp_path / "missing.md"), "--out", str(tmp_path / "r3"))
    assert code == 2 and "cannot read" in err and len(err.strip().splitlines()) == 1
