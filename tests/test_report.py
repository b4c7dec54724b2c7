"""The report from a known, ragged grid: loading, coverage, failure policy, per-task tables with
their tests, the paper comparison, determinism and escaping. Every number is recomputed here
independently (numpy / scipy), not read back from the report."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from report_data import AGENTS, CONSTANTS, DIAGNOSTICS, TASKS, diagnostic_value, make_run, reference_dir, write_grid

from benchmarks.storage import result_path, write_result
from reports import tables
from reports.budget import at_common_budget
from reports.build import Options, build_report
from reports.load import DATA_DIR, load_results
from reports.scores import coverage, diagnostics_table, run_table

FAST = Options(reps=2_000, reps_small=500, seed=3, screenshot=False)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    results, data = root / "results", reference_dir(root)
    written = write_grid(results, CONSTANTS)
    return results, data, written


@pytest.fixture(scope="module")
def built(grid):
    results, data, _ = grid
    return build_report(results, results / "report", FAST, data_dir=data)


def test_every_bad_file_is_listed_with_its_reason(grid):
    results, _, written = grid
    loaded = load_results(results)
    assert len(loaded.runs) == sum(len(v) for v in written.values())
    reasons = {p.name: why for p, why in loaded.rejected}
    assert set(reasons) == {"seed_12.json", "seed_13.json"}
    assert reasons["seed_12.json"].startswith("unreadable JSON")
    assert "status" in reasons["seed_13.json"] and "exploded" in reasons["seed_13.json"]


def test_coverage_counts_planned_missing_and_each_status(grid):
    results, _, _ = grid
    loaded = load_results(results)
    cov = coverage(loaded, run_table(loaded, CONSTANTS)).set_index(["task", "agent"])
    assert cov.loc[("DeepSea-8", "ppo"), ["planned", "completed", "missing"]].tolist() == [4, 3, 1]
    assert cov.loc[("MemoryChain-4", "ppo"), ["completed", "diverged", "failed"]].tolist() == [4, 1, 0]
    assert cov.loc[("CartPole-vel", "rtrrl"), ["completed", "failed", "missing"]].tolist() == [4, 1, 0]
    assert cov["planned"].sum() == 3 * 3 * 5 - 2 + 1


def _ranked_runs(results):
    runs, _ = at_common_budget(run_table(load_results(results), CONSTANTS), CONSTANTS)
    return runs


def test_failed_and_diverged_runs_score_the_floor(grid):
    results, _, _ = grid
    runs = _ranked_runs(results).set_index(["task", "agent", "seed"])
    for key, floor in [(("MemoryChain-4", "ppo", 1), -0.5), (("CartPole-vel", "rtrrl", 2), 20.0)]:
        assert runs.loc[key, "best"] == floor and runs.loc[key, "norm_best"] == 0.0
        assert runs.loc[key, "primary"] == floor and runs.loc[key, "norm_primary"] == 0.0
    r = runs.loc[("CartPole-vel", "ppo", 0)]
    assert r["norm_best"] == pytest.approx((r["best"] - 20.0) / 480.0)
    assert r["norm_final"] == pytest.approx((r["final"] - 21.0) / 479.0)


def _exact_perm_p(x, y):
    """Two-sided exact permutation p of the difference in means (twice the smaller tail), enumerated here."""
    pooled, n = np.concatenate([x, y]), len(x)
    obs = x.mean() - y.mean()
    d = np.array(
        [
            pooled[list(c)].mean() - np.delete(pooled, list(c)).mean()
            for c in itertools.combinations(range(len(pooled)), n)
        ]
    )
    return min(1.0, 2 * min(np.mean(d >= obs - 1e-12), np.mean(d <= obs + 1e-12)))


def _primary_by_hand(results, task, agent):
    """The score at the common budget from the files themselves: every run of the grid has the same
    budget (5 evaluations, 1,000 steps apart), so the window of the last 10% holds only the last
    evaluation; failed and diverged runs score the floor."""
    out = []
    for run in load_results(results).runs:
        if (run["suite"], run["task"], run["agent"]) == ("demo", task, agent):
            failed = run["status"] in ("failed", "diverged")
            out.append(CONSTANTS["tasks"][task]["floor"] if failed else run["curve"]["eval_score"][-1])
    return np.array(out)


def test_per_task_table_matches_an_independent_computation(grid):
    results, _, _ = grid
    runs = _ranked_runs(results)
    df = tables.per_task(runs[runs["suite"] == "demo"], reps=500, seed=0).set_index(["task", "agent"])
    for task in TASKS:
        score = {a: _primary_by_hand(results, task, a) for a in AGENTS}
        for a in AGENTS:
            assert df.loc[(task, a), "median"] == pytest.approx(np.median(score[a]))
            assert df.loc[(task, a), "std"] == pytest.approx(np.std(score[a], ddof=1))
            best = runs[(runs.task == task) & (runs.agent == a)]["best"].to_numpy()
            assert df.loc[(task, a), "best_median"] == pytest.approx(np.median(best)), "the own-budget view"
        leader = max(AGENTS, key=lambda a: np.mean(score[a]))
        assert df.loc[(task, leader), "leader"]
        others = [a for a in AGENTS if a != leader]
        p = sorted((_exact_perm_p(score[leader], score[a]), a) for a in others)
        holm = {
            a: min(1.0, max(len(p) * p[0][0], (len(p) - 1) * p[1][0])) if a == p[1][1] else min(1.0, len(p) * p[0][0])
            for _, a in p
        }
        for a in others:
            assert df.loc[(task, a), "p_vs_leader"] == pytest.approx(holm[a])
            ref = scipy.stats.permutation_test(
                (score[leader], score[a]),
                lambda x, y: np.mean(x) - np.mean(y),
                permutation_type="independent",
                n_resamples=np.inf,
            ).pvalue
            assert _exact_perm_p(score[leader], score[a]) == pytest.approx(ref)
            separated = holm[a] < 0.05 and score[leader].mean() > score[a].mean()
            assert df.loc[(task, a), "top"] == (not separated), (task, a)
        assert df.loc[(task, leader), "winner"] == all(holm[a] < 0.05 for a in others)


def _cells(scores: dict[str, list[float]]) -> pd.DataFrame:
    """Per-task input rows: one per run, scored `scores[agent]` at the common budget."""
    return pd.DataFrame(
        [
            {
                "task": "T",
                "agent": a,
                "seed": s,
                "ranked": True,
                "primary": x,
                "norm_primary": x,
                "best": x,
                "norm_best": x,
                "final": x,
                "status": "completed",
                "env_steps": 1,
                "budget": 1,
                "steps_per_s": 1.0,
                "run_s": 1.0,
                "compile_s": 1.0,
                "block_size": 1,
                "link": "x",
            }
            for a, xs in scores.items()
            for s, x in enumerate(xs)
        ]
    )


def test_winner_needs_significance():
    """Three seeds each can never be significant (smallest exact two-sided p is 2/20)."""
    df = tables.per_task(_cells({"good": [1.0, 1.01, 1.02], "bad": [0.0, 0.01, 0.02]}), reps=200, seed=0)
    df = df.set_index("agent")
    assert df.loc["good", "leader"] and not df.loc["good", "winner"]
    assert df.loc["bad", "p_vs_leader"] == pytest.approx(0.1)
    assert df.loc["bad", "top"], "not separated from the leader: a tie, shown as such"
    assert tables.task_result(df.reset_index()) == "none separate"


def test_ties_at_the_top_are_shown_as_ties_not_broken_by_name():
    """Two agents at the ceiling in every run and one far below: the two tie, whatever their names."""
    scores = {"b-solved": [1.0] * 6, "a-solved": [1.0] * 6, "weak": [0.1, 0.12, 0.09, 0.11, 0.1, 0.13]}
    df = tables.per_task(_cells(scores), reps=200, seed=0)
    assert not df["winner"].any()
    assert set(df.loc[df["top"], "agent"]) == {"a-solved", "b-solved"}
    assert tables.task_result(df) == "a-solved = b-solved"
    clear = tables.per_task(_cells({**scores, "a-solved": [0.5, 0.52, 0.49, 0.5, 0.51, 0.5]}), reps=200, seed=0)
    assert tables.task_result(clear) == "b-solved" and clear.set_index("agent").loc["b-solved", "winner"]
    alone = tables.per_task(_cells({"only": [1.0, 0.9, 0.8]}), reps=200, seed=0)
    assert tables.task_result(alone) == "–", "one agent is no comparison: neither a winner nor a tie"


def test_paper_comparison_flags_cells_outside_the_paper_spread(tmp_path):
    paper = json.loads((DATA_DIR / "paper_tables.json").read_text())
    tuned = dict(lr_td=1e-3, lr_actor=None, lr_critic=None, lr_rnn=1e-4, normalize_obs=True, trace_mode="accumulate")
    for seed, (rtrrl, lin) in enumerate([(500.0, 100.0), (500.0, 110.0), (500.0, 90.0)]):
        for agent, best, budget, hp in (
            ("rtrrl", rtrrl, 50_000_000, tuned),
            ("linear-td", lin, 2_000_000, None),
            ("rtrrl@paper-code", 60.0 + seed, None, dict(tuned, lr_td=1e-5, lr_rnn=1e-5 * (1 + seed % 2))),
        ):
            write_result(
                result_path(tmp_path, "gymnax-paper", "CartPole-vel", agent, seed),
                make_run(
                    "gymnax-paper",
                    "CartPole-vel",
                    agent,
                    seed,
                    best,
                    floor_ceiling=(20.0, 500.0),
                    budget=budget,
                    hyperparameters=hp,
                ),
            )
    runs = _ranked_runs(tmp_path)
    df = tables.paper_comparison(runs, paper, CONSTANTS)
    cell = df[(df.table == "table2") & (df.paper_row == "CartPole-vel")].set_index("agent")
    assert cell.loc["rtrrl", "ours_median"] == 500.0 and cell.loc["rtrrl", "flag"] == ""
    assert cell.loc["linear-td", "ours_median"] == 100.0 and cell.loc["linear-td", "flag"] == "lower"
    assert cell.loc["ppo-ctrnn", "ours_runs"] == 0 and cell.loc["ppo-ctrnn", "flag"] == ""
    # a preset of the paper's agent gets its own row against the same paper cell
    assert cell.loc["rtrrl@paper-code", "ours_median"] == 61.0 and cell.loc["rtrrl@paper-code", "flag"] == "lower"
    assert cell.loc["rtrrl@paper-code", "paper_median"] == cell.loc["rtrrl", "paper_median"]
    assert "rtrrl@paper-code" not in set(df[df.paper_row == "CartPole-pos"]["agent"]), "only where it has runs"
    # a cell run on less than the paper's 50M env steps says so, in the table people read too
    assert "budget 2M env steps per run, below the paper's 50M" in cell.loc["linear-td", "note"]
    assert "budget" not in cell.loc["rtrrl", "note"] and "budget" not in cell.loc["rtrrl@paper-code", "note"]
    # what differs from the paper's setup: its column's known setup, then the fields where the runs'
    # recorded hyperparameters leave the paper's Table 1 (None step sizes mean lr_td; unrecorded: unknown)
    setup = f"the paper's numbers: {paper['columns']['rtrrl']['setup']}"
    ours = "our runs depart from the paper's Table 1 in (paper → ours)"
    assert cell.loc["rtrrl", "setup"] == f"{setup}; {ours}: lr_rnn 0.001 → 0.0001, normalize_obs off → on"
    assert cell.loc["rtrrl@paper-code", "setup"] == (
        f"{setup}; {ours}: lr_actor 0.001 → 1e-05, lr_critic 0.001 → 1e-05, lr_rnn 0.001 → 1e-05/2e-05,"
        " normalize_obs off → on"
    )
    linear = f"the paper's numbers: {paper['columns']['linear-td']['setup']}"
    assert cell.loc["linear-td", "setup"] == linear, "none recorded: no claim"
    assert cell.loc["ppo-ctrnn", "setup"].startswith("the paper's numbers: paper's PPO: episodes capped at 500")
    shown = tables.paper_display(df[df.ours_runs > 0]).set_index(["paper row", "agent"])
    assert shown.loc[("CartPole-vel", "linear-td"), "budget"] == "2M"
    assert shown.loc[("CartPole-vel", "rtrrl"), "budget"] == "50M"
    assert shown.loc[("CartPole-vel", "linear-td"), "note"] == (
        f"{linear}; budget 2M env steps per run, below the paper's 50M"
    ), "the tables people read show the setup and the cell's own note together"
    per_task = tables.display(tables.per_task(runs, reps=200, seed=0), tables.OWN_BUDGET_COLUMNS).set_index("agent")
    assert per_task.loc["linear-td", "budget (env steps per run)"] == "2M"
    popgym = df[(df.table == "table3") & (df.task == "PositionOnlyCartPoleEasy-popjym")]
    assert len(popgym) == 4 and popgym["note"].str.contains("popjym-compat").all()


def test_report_files_and_contents(built, grid):
    results, _, _ = grid
    out = built.readme.parent
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for f in (
        "README.md",
        "index.html",
        "tables/coverage.csv",
        "tables/demo_per_task.csv",
        "tables/demo_per_task.tex",
        "tables/demo_own_budget.tex",
        "tables/demo_aggregates.csv",
        "summary.json",
        "tables/paper_comparison.csv",
        "tables/paper_comparison.tex",
    ):
        assert f in names, f
    figs = {n for n in names if n.startswith("figures/demo/") and "/diagnostics/" not in n}
    assert {n.removeprefix("figures/demo/") for n in figs} == {
        "heatmap.png",
        "per_task.png",
        "aggregates.png",
        "probability_of_improvement.png",
        "performance_profiles.png",
        "sample_efficiency.png",
        "learning_curves.png",
        "compute.png",
    }
    assert {n for n in names if n.startswith("figures/demo/diagnostics/")} == {
        f"figures/demo/diagnostics/{t}.png" for t in TASKS
    }, "one small-multiples figure per task"
    assert "### Learning diagnostics" in built.readme.read_text()
    html = built.html.read_text()
    assert 'id="suite-demo-diagnostics"' in html and html.count('class="diagnostics"') == len(TASKS)
    text = built.readme.read_text()
    assert "Failure policy" in text and "Normalization constants version 99" in text
    assert "seed_12.json" in text and "seed_13.json" in text
    paper = text[text.index("## Comparison with the paper") :]
    assert "| table2 | CartPole-vel | CartPole-vel | rtrrl |" in paper, "cells with our runs are shown"
    assert "| linear-td |" not in paper, "cells without runs are left to the CSV"
    assert "| linear-td |" in (out / "tables/paper_comparison.md").read_text()
    agg = pd.read_csv(out / "tables/demo_aggregates.csv").set_index("agent")
    assert agg.loc["rtrrl", "iqm"] > agg.loc["ppo", "iqm"] > agg.loc["random", "iqm"]
    assert (agg["iqm_low"] <= agg["iqm"]).all() and (agg["iqm"] <= agg["iqm_high"]).all()


def test_diagnostics_table_has_every_written_value(grid):
    results, _, _ = grid
    loaded = load_results(results)
    d = diagnostics_table(loaded)
    expected = 0
    for run in loaded.runs:
        for name in DIAGNOSTICS.get(run["agent"], ()):
            for i, step in enumerate(run["curve"]["env_steps"]):
                expected += 1
                row = d[
                    (d.task == run["task"])
                    & (d.agent == run["agent"])
                    & (d.seed == run["seed"])
                    & (d.diagnostic == name)
                    & (d.env_steps == step)
                ]
                want = diagnostic_value(name, run["seed"], i)
                assert len(row) == 1
                assert np.isnan(row["value"].iloc[0]) if want is None else row["value"].iloc[0] == want
    assert len(d) == expected > 0
    assert set(d["agent"]) == set(DIAGNOSTICS), "the random agent reports none"


def test_same_inputs_give_byte_identical_reports(built, grid):
    results, data, _ = grid
    again = build_report(results, results / "report2", FAST, data_dir=data)
    a, b = built.readme.parent, again.readme.parent
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_strings_from_result_files_are_escaped(tmp_path, grid):
    _, data, _ = grid
    evil = '<img src=x onerror="alert(1)">|**'
    write_result(
        result_path(tmp_path, "s", "CartPole-vel", "x", 0),
        make_run("s", "CartPole-vel", "x", 0, 100.0).model_copy(update={"agent": evil}),
    )
    built = build_report(tmp_path, tmp_path / "report", FAST, data_dir=data)
    page = built.html.read_text()
    assert evil not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "<img src=x" not in built.readme.read_text()
    tex = (built.readme.parent / "tables" / "s_per_task.tex").read_text()
    assert r"\textless{}img src=x" in tex and "<img" not in tex


def test_report_replaces_the_old_one_whole(tmp_path, grid):
    results, data, _ = grid
    out = tmp_path / "rep"
    (out / "figures" / "gone").mkdir(parents=True)
    (out / "figures" / "gone" / "old.png").write_bytes(b"old")
    build_report(results, out, FAST, data_dir=data)
    assert not (out / "figures" / "gone").exists() and (out / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"], "no temporary or old directories left behind"


def test_report_command(cli, grid, tmp_path):
    results, _, _ = grid
    code, out, err = cli(
        "report", "--results", str(results), "--out", str(tmp_path / "r"), "--reps", "500", "--no-screenshot"
    )
    assert code == 0 and "leaderboard:" in out and "2 files rejected" in err
    assert (tmp_path / "r" / "index.html").is_file()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("report", "--results", str(results), "--out", str(blocker / "r"), "--no-screenshot")
    assert (
        code == 2
        and err.startswith("rtrrl-bench: error: cannot write the report")
        and len(err.strip().splitlines()) == 1
    )
    code, _, err = cli("report", "--results", str(results), "--reps", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_reports_never_import_training_code():
    """Dependency direction: a report needs the JSON files only (no agents, benchmarks or jax)."""
    import subprocess
    import sys

    code = (
        "import sys, reports.build, reports.html, reports.browser, reports.stats; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('agents', 'benchmarks', 'jax', 'flax')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
