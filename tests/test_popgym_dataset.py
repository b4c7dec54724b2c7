"""The popgym dataset being built (data/popgym: every family at Easy and Medium, 5M env steps per
run) stays in step with the code: every file is valid and is a run the current code would skip as
done, so a change of defaults or config layout fails here before it orphans hours of compute."""

from pathlib import Path

import pytest

from benchmarks import calibration
from benchmarks.plan import make_plan
from reports.load import load_results

POPGYM = Path(__file__).resolve().parent.parent / "data" / "popgym"
BUDGET = {"budget": {"max_env_steps": 5_000_000}}
"""The command-line budget data/popgym/README.md states; everything else is the `popgym` suite's."""


@pytest.mark.skipif(not POPGYM.is_dir(), reason="no popgym runs committed yet")
def test_every_committed_popgym_run_is_current():
    loaded = load_results(POPGYM)
    assert loaded.runs and not loaded.rejected, loaded.rejected[:3]
    runs = {(r["task"], r["agent"], r["seed"]) for r in loaded.runs}
    assert {r["suite"] for r in loaded.runs} == {"popgym"}
    for agent in sorted({a for _, a, _ in runs}):
        mine = {r for r in runs if r[1] == agent}
        plan = make_plan(
            POPGYM, "popgym", sorted({t for t, _, _ in mine}), [agent], sorted({s for *_, s in mine}), BUDGET
        )
        stale = mine - set(plan.skipped)
        assert not stale and not plan.redo, f"{len(stale)} committed runs would be redone, e.g. {sorted(stale)[:3]}"
    logged = calibration.read(POPGYM / calibration.FILE_NAME)
    missing = sorted(k for k, m in calibration.scan(POPGYM).items() if m not in logged)
    assert not missing, f"{len(missing)} blocks missing from speeds.json, e.g. {missing[:3]}"
