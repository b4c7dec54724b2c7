"""Versioned normalization constants: per task a floor (the random agent, measured with the runner)
and a ceiling (an analytic maximum where one exists, else a documented reference).

Reports normalize a score as (score - floor) / (ceiling - floor): 0 = the random agent, 1 = the
ceiling. The constants live in `rtrrl_data/normalization.json`, which `reports/` reads as plain
JSON (it never imports this module). They are fixed data: adding an agent or new results
never moves them.

Versioning: `NORMALIZATION_VERSION` names one set of numbers. Bump it whenever any constant
changes (a corrected ceiling, a new protocol, floors re-measured after a change to an env or to
the random agent) and add the new numbers' fingerprint to `VERSION_FINGERPRINTS` (a test fails
until both are done), so reports built on different constants say so. Re-measuring with
unchanged code reproduces the floors exactly and needs no bump.

Floors are the random agent's scores, measured with the runner (`benchmarks.floors`); this
module is a leaf: numbers, the ceiling rules and the document's I/O, no training code.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rtrrl_data
from benchmarks import popgym
from benchmarks.storage import atomic_write_text
from benchmarks.tasks import TASKS, Task

NORMALIZATION_VERSION = 4
"""1: the 82 gymnax and popgym tasks. 2: adds the 6 brax tasks (every v1 number unchanged). 3: adds the 6
popjym-compat tasks (every v2 number unchanged). 4: MetaMaze, Reacher and Swimmer ceilings from the reference
grid; every other number unchanged."""
# Bump on any change of a constant (see the module docstring); never reuse a number.

VERSION_FINGERPRINTS: dict[int, str] = {
    1: "387fe02743d2c979c7ba2b58f0fcc35af20b104662ca22f80a9a1408c5521dcd",
    2: "d98a240927e3050d802ef3177e3fda70a901dede84d7e2ecf999dd90fb541270",
    3: "e203bfd0204a3c0bafab3ee2813fa23f6a3e619f4955acd3af9dcf8c97407c1b",
    4: "ccf365a27b63a0cb15e52a079fc53c85cf31fd35713e67b38e0b1b7ec384c1a3",
}
"""sha256 of every task's numbers (`fingerprint`) for each version: old entries are never edited."""

PATH = rtrrl_data.NORMALIZATION
SUITE = "normalization"
AGENT = "random"
NUMBERS = ("floor", "floor_std", "floor_final", "floor_final_std", "floor_seeds", "ceiling")
"""The per-task numbers a version fixes (`ceiling_source` is documentation)."""

STATISTIC = (
    "floor: mean of curve.eval_score (paper metric: total reward / finished episodes over eval_steps) over "
    "every evaluation of every seed; floor_std: sample std (ddof 1) of those evaluations (standard error = "
    "floor_std / sqrt(floor_seeds * evaluations per seed)); floor_final: mean over seeds of final_score (mean "
    "return of final_episodes complete episodes); floor_final_std: sample std over seeds (standard error = "
    "floor_final_std / sqrt(floor_seeds)); floor_seeds: seeds measured"
)
DESCRIPTION = (
    "normalized score = (score - floor) / (ceiling - floor): 0 = the random agent, 1 = the ceiling. floor: the "
    "random agent (default settings) measured with the runner (`rtrrl-bench normalization --measure`, suite "
    "'normalization') under floor_protocol; use floor for paper-metric scores (best_score, curve.eval_score) and "
    "floor_final for final_score. ceiling: the analytic maximum of an episode's return where one exists, an "
    "analytic upper bound where stated, else a documented reference (ceiling_source). The paper metric also "
    "counts the unfinished last episode's rewards and realised scores are noisy, so a score can exceed an "
    "expected or per-episode ceiling slightly. Bump version when any number changes."
)


# ---- ceilings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ceiling:
    value: float
    source: str


def _cap(task: Task, env_default: int) -> int:
    """The task's episode cap (the wrapper's limit; `env_default` = gymnax's own default)."""
    return task.max_episode_length or env_default


def _cartpole(task: Task) -> Ceiling:
    cap = _cap(task, 500)
    return Ceiling(float(cap), f"analytic: +1 per step including the last, at most {cap} steps (the episode cap)")


def _bernoulli(task: Task) -> Ceiling:
    cap = _cap(task, 100)
    return Ceiling(
        0.9 * cap,
        f"analytic (oracle, expected): the better arm pays 1 with probability 1 - reward_prob "
        f"= 0.9 in every episode, for {cap} steps",
    )


GAUSSIAN_ORACLE_PER_STEP = math.exp(-0.5) / math.sqrt(2 * math.pi) - (1 - statistics.NormalDist().cdf(1.0))
"""E[max(0, mu)] for mu ~ N(-1, 1) = phi(1) - (1 - Phi(1)) = 0.0833: arm 0 pays 0, arm 1 pays mu on average."""


def _gaussian(task: Task) -> Ceiling:
    cap = _cap(task, 100)
    return Ceiling(
        cap * GAUSSIAN_ORACLE_PER_STEP,
        f"analytic (oracle, expected): E[max(0, mu)] = {GAUSSIAN_ORACLE_PER_STEP:.4f} per step with mu ~ "
        f"N(-1, 1) (arm 0 pays 0), for {cap} steps",
    )


def _popjym(task: Task) -> Ceiling:
    """A popjym-compat variant (`-popjym`): popgym's maximum of 1 except where popjym changes the best return."""
    name, difficulty = popgym.split_id(task.env_id.removesuffix(popgym.POPJYM_SUFFIX))
    kw = dict(popgym.FAMILIES[name].difficulties)[difficulty]
    if name == "RepeatFirst":
        n = 52 * kw["num_decks"]
        return Ceiling(n / (n - 1), f"analytic: popjym pays +1/{n - 1} for each of its {n} steps (popgym: {n - 1})")
    if name == "MineSweeper":
        length = kw["dims"][0] * kw["dims"][1] - kw["num_mines"]
        return Ceiling(
            1 - 0.5 / (length - 2),
            f"analytic: +1/{length} for each of the {length} safe tiles, then popjym's forced last step "
            f"(it cannot be won) costs at least a repeated click, -0.5/{length - 2}",
        )
    return Ceiling(1.0, "popgym's documented maximum (popjym keeps it): the return is scaled into [-1, 1]")


def _popgym(task: Task) -> Ceiling:
    if task.env_id.endswith("-popjym"):
        return _popjym(task)
    note = "popgym's documented maximum: every game's return is scaled into [-1, 1]"
    if task.env_id.startswith("HigherLower"):
        note += "; HigherLower's own best is below 1 (+-1/n per guess over n-1 guesses, 0 on equal ranks)"
    elif task.env_id.startswith("Battleship"):
        note += "; Battleship returns can also fall below -1 (misses cost 1/(steps - hits needed))"
    elif task.env_id.startswith(("Labyrinth", "PositionOnlyPendulum", "NoisyPositionOnlyPendulum")):
        note += "; an upper bound here (per-step costs or random starts keep the best return below 1)"
    return Ceiling(1.0, note)


def _constant(value: float, source: str) -> Callable[[Task], Ceiling]:
    return lambda task: Ceiling(value, source)


CEILING_RULES: dict[str, Callable[[Task], Ceiling]] = {
    "popgym": _popgym,
    "CartPole-v1": _cartpole,
    "MemoryChain-bsuite": _constant(1.0, "analytic: one reward, +1 for the remembered bit, at the episode's last step"),
    "DeepSea-bsuite": _constant(
        0.99,
        "analytic: +1 treasure after `size` right moves costing unscaled_move_cost/size "
        "= 0.01/size each: 1 - 0.01 at every size",
    ),
    "Catch-bsuite": _constant(1.0, "analytic: one reward, +1 for the catch, at the episode's last step"),
    "DiscountingChain-bsuite": _constant(
        1.1, "analytic: the best chain (action 0 at the first step) pays optimal_return = 1.1 once per episode"
    ),
    "UmbrellaChain-bsuite": _constant(
        1.0,
        "analytic (expected): +1 at the chain's end; the +-1 distractor rewards do not depend on actions and average 0",
    ),
    "BernoulliBandit-misc": _bernoulli,
    "GaussianBandit-misc": _gaussian,
    "MountainCarContinuous-v0": _constant(
        100.0, "analytic upper bound: +100 on reaching the goal (which ends the episode) minus 0.1 a^2 per step"
    ),
    "Acrobot-v1": _constant(
        0.0, "analytic upper bound: -1 per step, 0 on the goal step; not attainable (the swing-up takes many steps)"
    ),
    "Pendulum-v1": _constant(
        0.0, "analytic upper bound: reward -(theta^2 + 0.1 thdot^2 + 0.001 u^2) <= 0; not attainable from random starts"
    ),
    # brax (every task capped at 1 000 steps)
    "inverted_pendulum": lambda task: Ceiling(
        float(_cap(task, 1000)),
        f"analytic: +1 per step while the pole is up, at most {_cap(task, 1000)} steps (the episode cap)",
    ),
    "inverted_double_pendulum": lambda task: Ceiling(
        10.0 * _cap(task, 1000),
        "analytic upper bound: alive bonus 10 "
        "per step minus non-negative distance and velocity penalties, "
        f"{_cap(task, 1000)} steps; not attainable (the tip never "
        "sits exactly at y = 2)",
    ),
    "reacher": _constant(
        0.0,
        "analytic upper bound: -(distance to target) - sum(a^2) <= 0 per step; not "
        "attainable (the arm starts away from the target)",
    ),
    "hopper": lambda task: Ceiling(
        1.0 * _cap(task, 1000),
        "reference, not a maximum: healthy_reward 1 per step "
        f"for a whole {_cap(task, 1000)}-step episode (survival without forward "
        "progress); forward hopping scores above it; no committed runs to check it against yet",
    ),
    "ant": lambda task: Ceiling(
        1.0 * _cap(task, 1000),
        "reference, not a maximum: healthy_reward 1 per step for a "
        f"whole {_cap(task, 1000)}-step episode (survival without forward progress); "
        "walking forward scores above it; no committed runs to check it against yet",
    ),
    "halfcheetah": lambda task: Ceiling(
        1.0 * _cap(task, 1000),
        "reference, not a maximum: running at 1 m/s "
        f"(forward_reward_weight 1) for {_cap(task, 1000)} steps, before control "
        "costs; strong policies score several times this; no committed runs to check it against yet",
    ),
}
"""Family rules: a gymnax or brax env id (or `popgym` for every popgym port) -> the task's ceiling."""

_GRID = (
    "reference: best median best score of the committed reference grid (data/reference, v4): {agent} {value:g}; "
    "no attainable analytic maximum: {why}"
)
_PAPER = (
    "reference: the paper's number, its best median in {table} row {row} ({agent}), not yet checked against our "
    "runs (none committed); no attainable analytic maximum: {why}"
)


def _grid(agent: str, value: float, why: str) -> Ceiling:
    return Ceiling(value, _GRID.format(agent=agent, value=value, why=why))


_MAZE = "+10 per goal reach, then a random restart (only bound: 10 per step)"
_POINT = "+1 per step inside the goal radius, then a random restart (only bound: 1 per step)"
_REACHER = "exp(-d^2) <= 1 per step with goals also outside the arm's reach (only bound: the cap)"
_SWIMMER = "exp(-d^2/2) times an urchin penalty <= 1 per step (only bound: the cap)"

CEILINGS_BY_TASK: dict[str, Ceiling] = {
    "MetaMaze": _grid("rtrrl", 160.0, _MAZE),
    "MetaMaze-ep1000": Ceiling(61.6, _PAPER.format(table="Table 3", row="MetaMaze", agent="rtrrl", why=_MAZE)),
    "PointRobot-ep1000": Ceiling(5.3, _PAPER.format(table="Table 3", row="PointRobot", agent="rtrrl", why=_POINT)),
    "Reacher": _grid("ppo-ctrnn", 242.1, _REACHER),
    "Reacher-ep1000": Ceiling(216.28, _PAPER.format(table="Table 3", row="Reacher", agent="rtrrl", why=_REACHER)),
    "Swimmer": _grid("ppo-gru", 466.4, _SWIMMER),
    "Swimmer-ep1000": Ceiling(465.08, _PAPER.format(table="Table 3", row="Swimmer", agent="rtrrl", why=_SWIMMER)),
}
"""Per-task ceilings (checked before the family rules). Table 2's: the highest per-agent median best score
(5 seeds) in the committed reference grid `data/reference/gymnax-paper`, 4 significant digits, since our runs
exceeded the paper's medians several times over. Table 3's (no committed runs yet): the paper's best medians
(`paper_tables.json`). Both are copied here so that new runs or an edited table never move a constant; tests
recompute them from their sources."""


USER_CEILINGS: dict[str, Ceiling] = {}
"""Ceilings of users' own tasks (`register_ceiling` in a plugin, or `--ceiling ID=VALUE`)."""


def register_ceiling(task_id: str, value: float, source: str) -> Ceiling:
    """Give a plugin's own task a ceiling, so that `rtrrl-bench normalization --measure --task ID
    --plugin MODULE --write FILE` can write its constants. The package's tasks keep theirs."""
    if task_id in CEILINGS_BY_TASK or (PATH.is_file() and task_id in load()["tasks"]):
        raise ValueError(f"task {task_id!r} is the package's: its ceiling is versioned in benchmarks/normalization.py")
    if not math.isfinite(value):
        raise ValueError(f"ceiling of {task_id!r} must be a finite number (got {value})")
    USER_CEILINGS[task_id] = Ceiling(float(value), source)
    return USER_CEILINGS[task_id]


def ceiling(task: Task) -> Ceiling:
    """The task's ceiling: its own entry in `CEILINGS_BY_TASK` or `USER_CEILINGS`, else its family's rule."""
    if task.id in CEILINGS_BY_TASK:
        return CEILINGS_BY_TASK[task.id]
    if task.id in USER_CEILINGS:
        return USER_CEILINGS[task.id]
    family = "popgym" if task.package == "popgym" else task.env_id
    if family not in CEILING_RULES:
        raise KeyError(
            f"no ceiling for task {task.id!r}: give one with --ceiling {task.id}=VALUE, or in your plugin with "
            "benchmarks.normalization.register_ceiling (package tasks: add a rule to benchmarks/normalization.py)"
        )
    return CEILING_RULES[family](task)


# ---- the document ------------------------------------------------------------------------------


def constants(
    floors: dict[str, dict[str, Any]], floor_protocol: dict[str, Any], task_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """The JSON document for `task_ids` (default: every registered task): floors + ceilings.
    Raises ValueError if a floor is missing or not below its ceiling."""
    task_ids = sorted(task_ids) if task_ids else sorted(TASKS)
    missing = [t for t in task_ids if t not in floors]
    if missing:
        raise ValueError(f"no floor measured for {', '.join(missing)}")
    tasks = {}
    for tid in task_ids:
        c = ceiling(TASKS[tid])
        entry = {k: floors[tid][k] for k in NUMBERS[:-1]}
        if not c.value > max(entry["floor"], entry["floor_final"]):
            raise ValueError(
                f"{tid}: ceiling {c.value} is not above the floor {entry['floor']} / {entry['floor_final']}"
            )
        tasks[tid] = {**entry, "ceiling": c.value, "ceiling_source": c.source}
    return {
        "version": NORMALIZATION_VERSION,
        "description": DESCRIPTION,
        "floor_protocol": floor_protocol,
        "tasks": tasks,
    }


def fingerprint(doc: dict[str, Any]) -> str:
    """sha256 of every task's numbers: changes exactly when a constant does."""
    numbers = {tid: [c[k] for k in NUMBERS] for tid, c in doc["tasks"].items()}
    return hashlib.sha256(json.dumps(numbers, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def dumps(doc: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, indent 2, ASCII, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write(doc: dict[str, Any], path: Path = PATH) -> None:
    atomic_write_text(Path(path), dumps(doc))


def load(path: Path = PATH) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
