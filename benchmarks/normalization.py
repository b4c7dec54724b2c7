"""Versioned normalization constants: per task a floor (the random agent, measured with the runner)
and a ceiling (an analytic maximum where one exists, else a documented reference).

Reports normalize a score as (score − floor) / (ceiling − floor). The constants live in
`benchmarks/data/normalization.json`, which `reports/` reads as plain JSON. They are fixed data:
adding an agent or new results never moves them. Bump `NORMALIZATION_VERSION` whenever a
constant changes (a new protocol, a re-measured floor, a corrected ceiling), so reports built
on different constants say so.

How the floors were measured (reproduce with `rtrrl-bench normalization --measure`): the
`normalization` suite (every registered task, agent `random`, seeds 0-4, FLOOR_BUDGET) run
through the runner exactly as users run suites. The random agent does not learn, so its best
evaluation is biased upward by noise: `floor` is the mean of all its paper-metric evaluations
(the expected score of the uniform policy) and `floor_final` the mean of its final-policy scores.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.suites import FLOOR_BUDGET, FLOOR_SEEDS
from benchmarks.tasks import TASKS, Task

NORMALIZATION_VERSION = 1
PATH = Path(__file__).with_name("data") / "normalization.json"
SUITE = "normalization"

_PAPER_BEST = "reference: best median of any method in the paper's {row} (no analytic maximum)"


def _cap(task: Task, default: int) -> int:
    return task.max_episode_length or default


_FIXED: dict[str, tuple[float, str]] = {
    "Acrobot-v1": (0.0, "analytic upper bound: every step's reward is ≤ 0 (not reachable; good policies score below)"),
    "Pendulum-v1": (0.0, "analytic upper bound: every step's reward is ≤ 0 (not reachable; good policies score below)"),
    "MountainCarContinuous-v0": (100.0, "analytic upper bound: +100 at the goal minus a non-negative action cost"),
    "MemoryChain-bsuite": (1.0, "analytic: +1 for the right answer, once per episode"),
    "DeepSea-bsuite": (0.99, "analytic: +1 treasure minus the total move cost 0.01"),
    "Catch-bsuite": (1.0, "analytic: +1 for the catch, once per episode"),
    "DiscountingChain-bsuite": (1.1, "analytic: the best chain pays optimal_return = 1.1 once per episode"),
    "UmbrellaChain-bsuite": (1.0, "analytic (expected): +1 at the chain's end; the distractor rewards average 0"),
}
"""Ceilings that do not depend on the episode cap, by env id."""


def ceiling(task: Task) -> tuple[float, str]:
    """The task's ceiling and where it comes from."""
    env, rows = task.env_id, task.paper_rows
    if task.package == "popgym":
        note = "popgym's documented maximum episode return"
        if task.id.startswith("HigherLower"):
            note += " (HigherLower's own best is below 1: rewards ±1/n over n−1 steps)"
        if task.id.startswith("Battleship"):
            note += " (Battleship returns can also fall below −1)"
        return 1.0, note
    if env == "CartPole-v1":
        cap = _cap(task, 500)
        return float(cap), f"analytic: +1 per step for {cap} steps (the episode cap)"
    if env in _FIXED:
        return _FIXED[env]
    if env == "BernoulliBandit-misc":
        cap = _cap(task, 100)
        return 0.9 * cap, f"analytic: the better arm pays 1 with probability 0.9, for {cap} steps"
    if env == "GaussianBandit-misc":
        cap = _cap(task, 100)
        best = math.exp(-0.5) / math.sqrt(2 * math.pi) - (1 - statistics.NormalDist().cdf(1.0))
        return cap * best, (f"analytic (oracle): E[max(0, mu)] = {best:.4f} per step with mu ~ N(-1, 1), "
                            f"for {cap} steps")
    if rows:  # MetaMaze, PointRobot, Reacher, Swimmer: no closed form
        return _paper_best(rows[0]), _PAPER_BEST.format(row=rows[0].replace(":", " row "))
    raise KeyError(f"no ceiling rule for task {task.id!r}; add one to benchmarks/normalization.py")


def _paper_best(row: str) -> float:
    table, name = row.split(":", 1)
    data = json.loads((Path(__file__).with_name("data") / "paper_tables.json").read_text())
    cells = next(r for r in data["tables"][table]["rows"] if r["paper_row"] == name)["results"].values()
    return max(c["median"] for c in cells if c["median"] is not None)


def _mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def floors_from_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Floors from the `normalization` suite's result files (random agent, the fixed seeds)."""
    evals: dict[str, list[float]] = defaultdict(list)
    finals: dict[str, list[float]] = defaultdict(list)
    seeds: dict[str, set[int]] = defaultdict(set)
    for path in sorted((Path(results_dir) / SUITE).glob("*/random/seed_*.json")):
        run = json.loads(path.read_text())
        if run["seed"] not in FLOOR_SEEDS or run["status"] not in ("completed", "early-stopped"):
            continue
        evals[run["task"]] += [s for s in run["curve"]["eval_score"] if s is not None]
        if run["final_score"] is not None:
            finals[run["task"]].append(run["final_score"])
        seeds[run["task"]].add(run["seed"])
    out = {}
    for task in sorted(evals):
        f, fs = _mean_std(evals[task])
        ff, ffs = _mean_std(finals[task]) if finals[task] else (f, fs)
        out[task] = {"floor": f, "floor_std": fs, "floor_final": ff, "floor_final_std": ffs,
                     "floor_seeds": len(seeds[task])}
    return out


def constants(floors: dict[str, dict[str, Any]], protocol: dict[str, Any]) -> dict[str, Any]:
    """The JSON document: every registered task with a floor and a ceiling."""
    missing = sorted(set(TASKS) - set(floors))
    if missing:
        raise ValueError(f"no floor measured for {', '.join(missing)}")
    tasks = {}
    for tid in sorted(TASKS):
        c, source = ceiling(TASKS[tid])
        tasks[tid] = {**floors[tid], "ceiling": c, "ceiling_source": source}
    return {
        "version": NORMALIZATION_VERSION,
        "description": ("normalized = (score - floor) / (ceiling - floor); floor = mean paper-metric score of the "
                        "random agent over all evaluations and seeds (floor_final: of its final-policy scores); "
                        "ceiling = analytic maximum or a documented reference (ceiling_source)"),
        "floor_protocol": protocol,
        "tasks": tasks,
    }


def protocol(command: str) -> dict[str, Any]:
    from benchmarks import provenance
    from benchmarks.config import to_jsonable

    prov = provenance.static_provenance()
    return {"agent": "random", "suite": SUITE, "seeds": list(FLOOR_SEEDS), "budget": to_jsonable(FLOOR_BUDGET),
            "statistic": "floor: mean of curve.eval_score over all evaluations and seeds; floor_final: mean of final_score",
            "command": command, "git_commit": prov["git_commit"], "measured_utc": provenance.utc_now(),
            "packages": prov["packages"], "device": prov["device"]}


def write(doc: dict[str, Any], path: Path = PATH) -> None:
    from benchmarks.storage import atomic_write_text

    atomic_write_text(Path(path), json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def load(path: Path = PATH) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
