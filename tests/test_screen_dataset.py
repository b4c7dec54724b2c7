"""The committed screen behind rtrrl's default (data/screen, docs/rtrrl_default.md) stays in
step with the code and the docs: every run is one the current code would skip as done (so the
defaults and presets it measured are today's), and the published point estimates are the ones
its files give."""

import re
from pathlib import Path

import numpy as np

from benchmarks.plan import make_plan
from reports import stats
from reports.load import load_reference, load_results
from reports.scores import run_table, score_matrices

ROOT = Path(__file__).resolve().parent.parent
SCREEN = ROOT / "data" / "screen"
DOC = ROOT / "docs" / "rtrrl_default.md"
LABELS = {
    "rtrrl": "`rtrrl` (the default)",
    "rtrrl@paper-table1": "`rtrrl@paper-table1`",
    "rtrrl@paper-code": "`rtrrl@paper-code`",
    "random": "`random`",
}


def test_the_screen_is_complete_and_current():
    plan = make_plan(SCREEN, "rtrrl-screen")
    assert plan.num_runs == 0 and not plan.redo, "a default or preset changed since the screen: rerun it"
    assert len(plan.skipped) == 36 * 4 * 5


def test_published_aggregates_are_what_the_files_give():
    loaded = load_results(SCREEN)
    assert not loaded.rejected
    runs = run_table(loaded, load_reference("normalization.json"))
    matrices, tasks, left_out = score_matrices(runs[runs["suite"] == "rtrrl-screen"])
    assert len(tasks) == 36 and not left_out
    doc = DOC.read_text()
    for agent, label in LABELS.items():
        point = stats.aggregate(matrices[agent])
        row = re.search(rf"^\| {re.escape(label)} \| \**([-0-9.]+) \[", doc, re.M)
        assert row, f"no aggregate row for {agent} in {DOC.name}"
        np.testing.assert_allclose(float(row.group(1)), point["iqm"], atol=5e-4, err_msg=agent)
