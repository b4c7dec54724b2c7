"""The reference grid committed so far (data/reference, the paper's protocol) stays in step
with the code: every file is valid, and every run in it is one the current code would skip as done,
so that a change of defaults or config layout (which would silently orphan days of compute) fails
here first."""

from pathlib import Path

import pytest

from benchmarks import calibration
from benchmarks.plan import make_plan
from reports.load import load_results

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"

# Agents run below the paper's protocol, with the command-line budget data/reference/README.md
# states for them. Every other agent runs `--profile paper` as it is.
CAPPED = {"ppo-gru": {"budget": {"max_env_steps": 2_000_000, "eval_interval": 100_000}}}


def _committed() -> dict[str, set[tuple[str, str, int]]]:
    """suite -> (task, agent, seed) of every committed run."""
    loaded = load_results(REFERENCE)
    assert not loaded.rejected, loaded.rejected
    out: dict[str, set[tuple[str, str, int]]] = {}
    for run in loaded.runs:
        out.setdefault(run["suite"], set()).add((run["task"], run["agent"], run["seed"]))
    return out


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no reference runs committed yet")
def test_every_committed_reference_run_is_current():
    committed = _committed()
    assert committed, "data/reference holds no runs"
    for suite, runs in committed.items():
        tasks = sorted({t for t, _, _ in runs})
        seeds = sorted({s for _, _, s in runs})
        for agent in sorted({a for _, a, _ in runs}):
            plan = make_plan(REFERENCE, suite, tasks, [agent], seeds, CAPPED.get(agent), profile="paper")
            stale = {r for r in runs if r[1] == agent} - set(plan.skipped)
            assert not stale, f"{len(stale)} committed runs would be redone, e.g. {sorted(stale)[:3]}"
            assert not plan.redo, plan.redo[:3]


# skipped only in a checkout without data/reference (e.g. a trimmed copy), like the test above
@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no reference runs committed yet")
def test_the_committed_speed_log_covers_every_committed_block():
    """`--dry-run --speeds data/reference/speeds.json` projects from every block committed here."""
    logged = calibration.read(REFERENCE / calibration.FILE_NAME)
    scanned = calibration.scan(REFERENCE)
    assert scanned, "data/reference holds no blocks with timing"
    missing = sorted(k for k, m in scanned.items() if m not in logged)
    assert not missing, f"{len(missing)} blocks missing from speeds.json, e.g. {missing[:3]}"


SITE = REFERENCE.parent.parent / "docs" / "leaderboard"


@pytest.mark.skipif(not (SITE / "summary.json").is_file(), reason="no published leaderboard")
def test_the_published_leaderboard_compares_on_fair_terms():
    """The published summary against the raw files, by hand: one common budget (ppo-gru's 2M cap),
    every agent's configuration source, paper cells by class, and no normalized median of the score
    at the common budget above 1.5 (ceilings that hold); the efficiency data stop at each run's
    last evaluation."""
    import json

    import numpy as np

    from reports.load import load_reference
    from reports.scores import efficiency_curves, run_table

    suite = json.loads((SITE / "summary.json").read_text())["suites"]["gymnax-paper"]
    assert suite["common_budget"] == 2_000_000 and suite["limited_by"] == ["ppo-gru"]
    for agent, a in suite["agents"].items():
        assert a["config_source"] and all(s["kind"] not in ("", "unrecorded") for s in a["config_source"]), agent
    assert set(suite["reproduction"]) == {
        f"{k}{r}" for k in ("informative", "trivial", "cannot_fail") for r in ("", "_reproduced")
    }
    constants = load_reference("normalization.json")["tasks"]
    loaded = load_results(REFERENCE)
    cells: dict[tuple[str, str], list[float]] = {}
    for run in loaded.runs:
        c = constants[run["task"]]
        steps, scores = run["curve"]["env_steps"], run["curve"]["eval_score"]
        # the window of 2M on a 1M grid is one point: the run's last evaluation at or before 2M
        last = [s for t, s in zip(steps, scores) if t <= 2_000_000][-1]
        cells.setdefault((run["task"], run["agent"]), []).append((last - c["floor"]) / (c["ceiling"] - c["floor"]))
    worst = max(cells, key=lambda k: np.median(cells[k]))
    assert np.median(cells[worst]) <= 1.5, (worst, np.median(cells[worst]))
    assert suite["tasks"]["MetaMaze"]["winner"] == "rtrrl", "the summary agrees with the files"
    runs = run_table(loaded, load_reference("normalization.json"))
    grid, curves, _ = efficiency_curves(runs[runs["task"] == "MetaMaze"], ["MetaMaze"])
    for agent, g in runs[runs["task"] == "MetaMaze"].reset_index(drop=True).groupby("agent"):
        for i, r in enumerate(g.itertuples()):
            drawn = np.isfinite(curves[agent][:, i, 0])
            assert not drawn[grid > r.curve_steps[-1]].any(), (agent, r.seed)
