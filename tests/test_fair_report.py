"""The fair report's terms, each against a hand computation from the files: one common budget per
task (the smallest among the ranked agents), one evaluation grid (the coarsest interval), a score
that averages the last 10% of that budget instead of taking a maximum, early-stopped runs frozen
at their last evaluation, `--unranked` agents kept out of all of it; the verdict that states only
what the tests support; the paper cells classified by what they can tell; `summary.json`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_data import CONSTANTS, make_run, reference_dir

from benchmarks.storage import result_path, write_result
from reports import tables
from reports.budget import at_common_budget, window
from reports.build import Options, build_report
from reports.load import load_results
from reports.scores import efficiency_curves, run_table

FAST = Options(reps=1_000, reps_small=300, seed=1, screenshot=False)
TASK = "MemoryChain-4"  # floor -0.5, ceiling 1 in the test constants


def _write(out, agent, seed, scores, interval, budget, status="completed", suite="fair", task=TASK):
    """A run with exactly these evaluation scores, `interval` env steps apart, and this budget."""
    run = make_run(suite, task, agent, seed, max(scores), status, evals=len(scores), interval=interval, budget=budget)
    curve = run.curve.model_copy(update={"eval_score": list(scores)})
    best = max(scores)
    run = run.model_copy(
        update={"curve": curve, "best_score": best, "final_eval_score": scores[-1], "final_score": scores[-1]}
    )
    write_result(result_path(out, suite, task, agent, seed), run)


def test_window_is_the_last_tenth_of_the_budget_on_the_grid():
    assert window(2_000_000, 1_000_000) == (2_000_000,)
    assert window(50_000_000, 1_000_000) == tuple(range(46_000_000, 50_000_001, 1_000_000))
    assert len(window(5_000_000, 50_000)) == 10 and window(5_000_000, 50_000)[0] == 4_550_000
    assert window(500_000, 1_000_000) == (), "no evaluation of the coarsest agent fits in the budget"


def _grid(out):
    """`short`: 2M env steps, an evaluation every 100k whose scores rise by 0.05, with a spike of 0.9
    between grid points (1.5M); `long`: 50M, every 1M; `stopped`: 50M budget, stopped after 1M."""
    for seed in range(5):
        short = [round(0.05 * k, 6) for k in range(1, 21)]
        short[14] = 0.9  # at 1.5M: not a point of the common grid
        _write(out, "short", seed, short, 100_000, 2_000_000)
        _write(out, "long", seed, [0.01 * k + 0.001 * seed for k in range(1, 51)], 1_000_000, 50_000_000)
        _write(out, "stopped", seed, [0.3 + 0.01 * seed], 1_000_000, 50_000_000, status="early-stopped")


def test_every_agent_is_scored_at_the_smallest_budget_on_the_coarsest_grid(tmp_path):
    _grid(tmp_path)
    runs, terms = at_common_budget(run_table(load_results(tmp_path), CONSTANTS), CONSTANTS)
    t = terms[("fair", TASK)]
    assert (t.budget, t.interval, t.points, t.limited_by) == (2_000_000, 1_000_000, (2_000_000,), ("short",))
    by = runs.set_index(["agent", "seed"])
    for seed in range(5):
        # by hand: each run's last evaluation at or before 2M
        assert by.loc[("short", seed), "primary"] == pytest.approx(1.0)
        assert by.loc[("long", seed), "primary"] == pytest.approx(0.02 + 0.001 * seed)
        assert by.loc[("stopped", seed), "primary"] == pytest.approx(0.3 + 0.01 * seed), "frozen at its last"
        assert by.loc[("short", seed), "best"] == pytest.approx(1.0) and by.loc[("long", seed), "best"] >= 0.5
    norm = by.loc[("long", 0), "norm_primary"]
    assert norm == pytest.approx((0.02 + 0.5) / 1.5)


def test_more_evaluations_do_not_raise_the_score(tmp_path):
    """Two agents with the same policy at every grid point; one is evaluated ten times as often, with
    a lucky evaluation between grid points. The maximum rewards the extra evaluations, the score not."""
    for seed in range(5):
        dense = [0.2] * 20
        dense[6] = 0.95
        _write(tmp_path, "dense", seed, dense, 100_000, 2_000_000)
        _write(tmp_path, "sparse", seed, [0.2, 0.2], 1_000_000, 2_000_000)
    runs, _ = at_common_budget(run_table(load_results(tmp_path), CONSTANTS), CONSTANTS)
    g = runs.groupby("agent")
    assert g["best"].median()["dense"] > g["best"].median()["sparse"]
    assert g["primary"].median()["dense"] == g["primary"].median()["sparse"] == pytest.approx(0.2)


def test_an_unranked_agent_is_shown_at_its_own_budget_only(tmp_path):
    _grid(tmp_path / "results")
    data = reference_dir(tmp_path)
    opts = Options(**{**FAST.__dict__, "unranked": ("short",)})
    built = build_report(tmp_path / "results", tmp_path / "report", opts, data_dir=data)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())["suites"]["fair"]
    assert summary["common_budget"] == 50_000_000 and summary["unranked"] == ["short"]
    assert summary["agents"]["short"]["ranked"] is False and summary["agents"]["short"]["iqm"] is None
    assert summary["agents"]["short"]["own_budget"]["best_iqm"]["point"] == pytest.approx((1.0 + 0.5) / 1.5)
    # by hand: `long` averages its evaluations at 46M..50M
    long_iqm = summary["tasks"][TASK]["normalized_iqm"]["long"]
    scores = sorted(np.mean([0.01 * k + 0.001 * s for k in range(46, 51)]) for s in range(5))
    assert long_iqm == pytest.approx((np.mean(scores[1:4]) + 0.5) / 1.5)
    head = (built.readme.parent / "headline.md").read_text()
    assert "Not ranked (`--unranked`): `short`, shown only at their own budget." in head
    assert "| short |" not in head.split("Score at the common budget")[1].split("IQM of")[0]


def test_sample_efficiency_never_draws_a_run_past_its_last_evaluation(tmp_path):
    _grid(tmp_path)
    runs = run_table(load_results(tmp_path), CONSTANTS)
    grid, curves, complete = efficiency_curves(runs, [TASK])
    short, stopped = curves["short"][:, :, 0], curves["stopped"][:, :, 0]
    assert np.isfinite(short[grid <= 2_000_000]).all() and np.isnan(short[grid > 2_000_000]).all()
    assert np.isnan(stopped[grid > 1_000_000]).all(), "an early-stopped run ends at its last evaluation"
    assert not complete["stopped"][grid > 1_000_000].any() and complete["long"][grid >= 1_000_000].all()
    on_grid = curves["long"][np.searchsorted(grid, 10_000_000, side="right") - 1, 0, 0]
    assert on_grid == pytest.approx((0.01 * (grid[grid <= 10_000_000][-1] // 1_000_000) + 0.5) / 1.5)


def _two_agents(out, strong_levels, weak_levels, tasks=("MemoryChain-4", "CartPole-vel", "DeepSea-8")):
    """Two agents on three tasks, 6 seeds, same budget and grid; scores as normalized levels."""
    for task in tasks:
        c = CONSTANTS["tasks"][task]
        for seed in range(6):
            for agent, levels in (("strong", strong_levels), ("weak", weak_levels)):
                x = c["floor"] + (levels[seed] if isinstance(levels, list) else levels) * (c["ceiling"] - c["floor"])
                _write(out, agent, seed, [x, x], 1_000, 2_000, task=task)


def test_the_verdict_names_a_leader_only_where_the_statistics_do(tmp_path):
    data = reference_dir(tmp_path)
    _two_agents(tmp_path / "clear", 0.9, [0.1 + 0.01 * s for s in range(6)])
    clear = build_report(tmp_path / "clear", tmp_path / "r1", FAST, data_dir=data)
    v = json.loads((clear.readme.parent / "summary.json").read_text())["suites"]["fair"]["verdict"]
    assert v.startswith("At a common budget of 2k env steps per run, `strong` has the highest IQM")
    assert "puts it ahead of every other agent (closest: P(strong > weak) = 1.00" in v and "`strong` wins 3" in v

    _two_agents(tmp_path / "tied", [0.5 + 0.02 * s for s in range(6)], [0.51 + 0.02 * s for s in range(6)])
    tied = build_report(tmp_path / "tied", tmp_path / "r2", FAST, data_dir=data)
    s = json.loads((tied.readme.parent / "summary.json").read_text())["suites"]["fair"]
    assert "`weak` has the highest IQM" in s["verdict"] and "the intervals overlap" in s["verdict"]
    assert "does not separate it from `strong` (P(weak > strong) = " in s["verdict"]
    assert "no agent wins a task; on 3 the tests do not separate the leaders (6 runs per agent)" in s["verdict"]
    assert all(t["winner"] is None and t["top"] == ["strong", "weak"] for t in s["tasks"].values())
    head = (tied.readme.parent / "headline.md").read_text()
    assert head.index("**Verdict.**") < head.index("| task |"), "the verdict comes first"


@pytest.mark.parametrize(
    ("paper", "ours", "tolerance", "klass"),
    [
        (0.5, 0.5, 0.6, tables.CANNOT_FAIL),  # the tolerance spans floor 0 to ceiling 1
        (0.99, 1.0, 0.01, tables.TRIVIAL),  # both at the ceiling
        (0.01, -0.02, 0.05, tables.TRIVIAL),  # both at the floor
        (0.99, 0.5, 0.05, tables.INFORMATIVE),  # one at the ceiling only
        (0.4, 0.45, 0.1, tables.INFORMATIVE),
    ],
)
def test_paper_cells_are_classified_by_what_they_can_tell(paper, ours, tolerance, klass):
    assert tables.reproduction_class(paper, ours, tolerance, {"floor": 0.0, "ceiling": 1.0}) == klass


def test_tuned_on_warns_only_for_the_same_tasks_and_seeds():
    from reports.verdict import tuned_on

    src = {"kind": "screen", "tasks": ["A", "B"], "seeds": [0, 1, 2]}
    assert tuned_on(src, ["A", "C"], [0, 1]) == ["A"]
    assert tuned_on(src, ["A", "C"], [100, 101]) == [], "held-out seeds"
    assert tuned_on({"kind": "library", "tasks": [], "seeds": []}, ["A"], [0]) == []


def test_headline_counts_informative_cells_and_lists_the_rest_apart():
    from reports import headline

    rows = [
        ("A", 0.5, "", tables.INFORMATIVE),
        ("B", 0.5, "higher", tables.INFORMATIVE),
        ("C", 1.0, "", tables.TRIVIAL),
        ("D", 0.5, "", tables.CANNOT_FAIL),
    ]
    df = pd.DataFrame(
        [
            {
                "table": "table2",
                "paper_row": row,
                "agent": "x",
                "paper_median": pm,
                "paper_std": 0.1,
                "ours_median": 0.9,
                "ours_std": 0.1,
                "ours_runs": 5,
                "suite": "s",
                "tolerance": 0.2,
                "class": klass,
                "flag": flag,
                "setup": "",
                "note": "",
            }
            for row, pm, flag, klass in rows
        ]
    )
    lines = headline.paper_summary(df, ["s"])
    assert lines[0].startswith("**Paper cells reproduced: 1 of 2 informative cells**")
    assert "1 trivial cells" in lines[0] and "1 that cannot fail" in lines[0]
    assert "Trivial (1): C `x`." in lines and "Cannot fail (1): D `x`." in lines
    assert headline.reproduction_counts(df) == {
        "informative": 2,
        "informative_reproduced": 1,
        "trivial": 1,
        "trivial_reproduced": 1,
        "cannot_fail": 1,
        "cannot_fail_reproduced": 1,
    }
