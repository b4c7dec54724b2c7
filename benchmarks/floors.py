"""Measuring the normalization floors: the `random` agent run through the runner exactly as users
run suites (`rtrrl-bench normalization --measure`, or `rtrrl-bench run --suite normalization`
followed by `rtrrl-bench normalization --from DIR --write`).

Settings: the random agent's defaults, seeds `FLOOR_SEEDS`, budget `FLOOR_BUDGET` (5
paper-metric evaluations of 10,000 steps per seed). Random does not learn, so its best
evaluation is only the upper tail of noise: `floor` is the mean of every evaluation of every
seed (the expected paper-metric score of the uniform policy) and `floor_final` the mean of the
seeds' final-policy scores. The constants themselves live in `benchmarks.normalization`, a leaf
that this module, a user of the runner, writes through.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import agents as agent_registry
from benchmarks import provenance
from benchmarks.config import to_jsonable
from benchmarks.executors.local import LocalExecutor
from benchmarks.normalization import AGENT, STATISTIC, SUITE
from benchmarks.plan import make_plan
from benchmarks.protocol import Budget, EvalProtocol
from benchmarks.storage import read_result, result_path, write_plan
from benchmarks.suites import FLOOR_BUDGET, FLOOR_SEEDS, SUITES
from benchmarks.tasks import TASKS


class FloorError(ValueError):
    """Floors cannot be computed from these results (missing, failed or differently configured runs)."""


def _budget_overrides(budget: Budget) -> dict[str, dict[str, Any]]:
    b = to_jsonable(budget)
    return {"eval": b.pop("eval"), "budget": b}


def floors_from_results(
    results_dir: Path,
    task_ids: Sequence[str] | None = None,
    seeds: Sequence[int] = FLOOR_SEEDS,
    budget: Budget = FLOOR_BUDGET,
) -> dict[str, dict[str, Any]]:
    """Floors from the `normalization` suite's result files: every (task, seed) must be there,
    finished, and made with the random agent's defaults, the task's registered settings and `budget`."""
    task_ids = list(task_ids) if task_ids else sorted(TASKS)
    want_budget = to_jsonable(budget)
    want_agent = {"name": AGENT, "hyperparameters": to_jsonable(agent_registry.default_config(AGENT))}
    # v2 files also record `"preset": null`; v1 files have no such key
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for tid in task_ids:
        evals: list[float] = []
        finals: list[float] = []
        for seed in seeds:
            path = result_path(Path(results_dir), SUITE, tid, AGENT, seed)
            try:
                run = read_result(path) if path.exists() else None
            except ValueError as e:
                problems.append(f"{path}: {e}")
                continue
            if run is None:
                problems.append(f"{tid} seed {seed}: no result file")
            elif run.status not in ("completed", "early-stopped"):
                problems.append(f"{tid} seed {seed}: {run.status} ({run.message})")
            elif (
                run.config["budget"] != want_budget
                or {k: v for k, v in run.config["agent"].items() if k != "preset"} != want_agent
                or run.config["agent"].get("preset") is not None
                or run.config["task"] != TASKS[tid].to_config()
            ):
                problems.append(f"{tid} seed {seed}: made with other settings than the floor protocol")
            elif not run.curve.eval_score or None in run.curve.eval_score or run.final_score is None:
                problems.append(f"{tid} seed {seed}: non-finite scores")
            else:
                evals += run.curve.eval_score
                finals.append(run.final_score)
        if len(finals) == len(seeds):
            out[tid] = {
                "floor": statistics.fmean(evals),
                "floor_std": statistics.stdev(evals) if len(evals) > 1 else 0.0,
                "floor_final": statistics.fmean(finals),
                "floor_final_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
                "floor_seeds": len(seeds),
            }
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise FloorError(f"cannot compute floors from {results_dir}: {'; '.join(problems[:3])}{more}")
    return out


def measure_floors(
    task_ids: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] = FLOOR_SEEDS,
    budget: Budget = FLOOR_BUDGET,
    results_dir: Path | None = None,
    jobs: int = 1,
    command: str = "benchmarks.floors.measure_floors",
    verbose: bool = False,
    plugins: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """Measure floors with the runner, as `rtrrl-bench run --suite normalization` does: plan, run
    each task's seeds as one vmapped block, write result files, then average them.

    `plugins`: modules that register users' own tasks, imported by each worker.
    `results_dir` keeps the result files (runs already there with the same settings are reused);
    by default they go to a temporary directory. Raises `FloorError` if any run failed.
    """
    task_ids = list(task_ids) if task_ids else sorted(TASKS)
    with tempfile.TemporaryDirectory(prefix="rtrrl-floor-") as tmp:
        out_dir = Path(results_dir) if results_dir is not None else Path(tmp)
        plan = make_plan(out_dir, SUITE, task_ids, [AGENT], list(seeds), _budget_overrides(budget))
        write_plan(out_dir, plan.suite, plan.runs, command)
        if verbose:
            from benchmarks.progress import GridProgress

            reporter = GridProgress(plan)
            reporter.print_plan(False)
            with reporter:
                LocalExecutor(jobs, plugins).execute(plan.units, out_dir, command, reporter)
            reporter.summary()
        else:
            LocalExecutor(jobs, plugins).execute(plan.units, out_dir, command)
        return floors_from_results(out_dir, task_ids, seeds, budget)


def protocol(seeds: Sequence[int] = FLOOR_SEEDS, budget: Budget = FLOOR_BUDGET) -> dict[str, Any]:
    """How the floors were obtained; `git_commit` ends in `-dirty` when the tree had uncommitted changes."""
    overrides = _budget_overrides(budget)
    commit, dirty = provenance.git_state()
    return {
        "agent": AGENT,
        "seeds": list(seeds),
        "budget": overrides["budget"],
        "eval": overrides["eval"],
        "statistic": STATISTIC,
        "git_commit": f"{commit}-dirty" if commit and dirty else commit,
        "measured_utc": provenance.utc_now(),
        "packages": provenance.package_versions(),
    }


def stored_protocol(doc: dict[str, Any]) -> tuple[tuple[int, ...], Budget]:
    """(seeds, budget) of a constants document, to re-measure exactly as it was measured."""
    p = doc["floor_protocol"]
    return tuple(p["seeds"]), Budget(**p["budget"], eval=EvalProtocol(**p["eval"]))


def suite_matches_protocol() -> bool:
    """The `normalization` suite (for `rtrrl-bench run`) runs the floor protocol."""
    s = SUITES[SUITE]
    return s.budget == FLOOR_BUDGET and s.seeds == len(FLOOR_SEEDS) and FLOOR_SEEDS == tuple(range(s.seeds))
