"""Measuring the normalization floors: the `random` agent run through the runner exactly as users
run suites (`rtrrl-bench normalization --measure`, or `rtrrl-bench run --suite normalization`
followed by `rtrrl-bench normalization --from DIR --write`).

Settings: the random agent's defaults, seeds `FLOOR_SEEDS`, budget `FLOOR_BUDGET` (5
paper-metric evaluations of 10,000 steps per seed). Random does not learn, so its best
evaluation is only the upper tail of noise: `floor` is the mean of every evaluation of every
seed (the expected paper-metric score of the uniform policy) and `floor_final` the mean of the
seeds' final-policy scores. The constants themselves live in `benchmarks.normalization`, a leaf
that this module, a user of the runner, writes through.

The `normalization` command's policy lives here too (`constants_request`, `build_constants`): where
the floors come from, which tasks, where the constants go, and every refusal checked before
minutes of measuring; the CLI only maps its errors to exit codes and prints.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import agents as agent_registry
from benchmarks import normalization as norm
from benchmarks import provenance
from benchmarks.config import ConfigError, to_jsonable
from benchmarks.executors.local import LocalExecutor
from benchmarks.normalization import AGENT, STATISTIC, SUITE
from benchmarks.plan import make_plan
from benchmarks.protocol import Budget, EvalProtocol
from benchmarks.storage import read_result, result_path, write_plan
from benchmarks.suites import FLOOR_BUDGET, FLOOR_SEEDS, SUITES
from benchmarks.tasks import TASKS, resolve_task_id


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


# ---- the `normalization` command's policy -------------------------------------------------------

CEILING_OPTION_SOURCE = "given on the command line (--ceiling)"


@dataclass(frozen=True)
class ConstantsRequest:
    """What `rtrrl-bench normalization` was asked, once checked: where the floors come from
    (`stored`: the package's table; `measure`: the runner; `results`: a finished `normalization`
    suite), for which tasks (empty: every task), and where the constants go (None: shown only)."""

    floors_from: Literal["stored", "measure", "results"]
    task_ids: tuple[str, ...] = ()
    target: Path | None = None
    results_dir: Path | None = None
    """`measure`: keep the runs here (default: a temporary directory); `results`: read them from here."""


def register_ceilings(options: Sequence[str]) -> None:
    """Register `--ceiling ID=VALUE` options as users' task ceilings. Raises ConfigError, naming the
    option, for a value that is not a number or a task that is the package's."""
    for text in options:
        tid, sep, value = text.partition("=")
        try:
            number = float(value) if sep else None
        except ValueError:
            number = None
        if number is None:
            raise ConfigError(f"--ceiling {text!r}: expected ID=VALUE with a number")
        try:
            norm.register_ceiling(resolve_task_id(tid), number, CEILING_OPTION_SOURCE)
        except ValueError as e:
            raise ConfigError(str(e)) from None


def write_target(write_to: str | None, measure: bool) -> Path | None:
    """Where the constants go: `--write FILE` -> FILE; a bare `--write`, or `--measure` without
    `--write`, -> the package's table; otherwise nowhere (shown only)."""
    if write_to:
        return Path(write_to)
    return norm.PATH if write_to is not None or measure else None


def _known_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    task_ids = sorted({resolve_task_id(t) for t in tasks})
    unknown = [t for t in task_ids if t not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task {unknown[0]!r}; see `rtrrl-bench list tasks`")
    return tuple(task_ids)


def _check_target(target: Path, task_ids: Sequence[str]) -> None:
    """The package's table holds every task of one measurement (a partial one would mix versions)."""
    partial = bool(task_ids) and set(task_ids) != set(TASKS)
    if partial and target.resolve() == norm.PATH.resolve():
        raise ConfigError(f"{norm.PATH} must hold every task measured by one command: with --task, pass --write FILE")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {target}: no directory {target.parent}")


def _check_ceilings(task_ids: Sequence[str]) -> None:
    """Every ceiling known before minutes of measuring."""
    for tid in task_ids or sorted(TASKS):
        try:
            norm.ceiling(TASKS[tid])
        except KeyError as e:
            raise ConfigError(str(e).strip("'\"")) from None


def constants_request(
    *,
    measure: bool = False,
    from_dir: str | None = None,
    write_to: str | None = None,
    tasks: Sequence[str] = (),
    results_dir: str | None = None,
) -> ConstantsRequest:
    """Check the `normalization` command's options together (nothing is measured or written) and
    say what they ask for. Raises ConfigError with the one line the user sees."""
    if measure and from_dir:
        raise ConfigError("--measure and --from exclude each other (--results DIR keeps a measurement's runs)")
    if results_dir and not measure:
        raise ConfigError("--results needs --measure")
    task_ids = _known_tasks(tasks)
    target = write_target(write_to, measure)
    if target is not None:
        _check_target(target, task_ids)
    if from_dir and not Path(from_dir).is_dir():
        raise ConfigError(f"no results directory {from_dir}")
    if target is not None:
        _check_ceilings(task_ids)
    if measure:
        return ConstantsRequest("measure", task_ids, target, Path(results_dir) if results_dir else None)
    if from_dir:
        return ConstantsRequest("results", task_ids, target, Path(from_dir))
    return ConstantsRequest("stored", task_ids, target)


def _stored_constants(task_ids: Sequence[str], rerender: bool) -> dict[str, Any]:
    """The package's table for `task_ids` (empty: all); `rerender`: its floors with this version's ceilings."""
    if not norm.PATH.is_file():
        raise ConfigError(f"no constants file {norm.PATH}; measure with `rtrrl-bench normalization --measure`")
    stored = norm.load()
    if rerender:
        return norm.constants(stored["tasks"], stored["floor_protocol"], task_ids or None)
    return {**stored, "tasks": {t: c for t, c in stored["tasks"].items() if not task_ids or t in task_ids}}


def build_constants(
    request: ConstantsRequest, *, command: str, jobs: int = 1, plugins: Sequence[str] = ()
) -> dict[str, Any]:
    """The constants document `request` asks for (not written). Raises ConfigError when there is no
    stored table, FloorError (a ValueError) when runs are missing or failed, ValueError when a ceiling
    is not above its floor, StorageError when a measurement's run cannot be written."""
    task_ids = list(request.task_ids) or None
    if request.floors_from == "stored":
        return _stored_constants(request.task_ids, rerender=request.target is not None)
    if request.floors_from == "measure":
        floors = measure_floors(
            task_ids, results_dir=request.results_dir, jobs=jobs, command=command, verbose=True, plugins=plugins
        )
    else:
        assert request.results_dir is not None
        floors = floors_from_results(request.results_dir, task_ids)
    return norm.constants(floors, protocol(), task_ids)
