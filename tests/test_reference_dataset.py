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
