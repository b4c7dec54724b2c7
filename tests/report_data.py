"""Result files for report tests: schema-valid (the runner's own pydantic model), with known scores.

Scores are drawn from fixed generators so tests can recompute every statistic independently.
The grid is ragged on purpose: unequal seed counts, a diverged and a failed run, a planned but
missing run, a corrupt file and a schema-invalid file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from benchmarks.schema import RunResult
from benchmarks.storage import result_path, write_plan, write_result
from reports.load import DATA_DIR

TASKS = ("CartPole-vel", "MemoryChain-4", "DeepSea-8")
AGENTS = ("ppo", "random", "rtrrl")
LEVEL = {"ppo": 0.6, "random": 0.0, "rtrrl": 0.8}
"""Mean normalized best score of each agent (before noise)."""


CONSTANTS = {
    "version": 99,
    "floor_protocol": {"agent": "random", "seeds": [0, 1]},
    "tasks": {
        "CartPole-vel": {"floor": 20.0, "floor_final": 21.0, "ceiling": 500.0},
        "MemoryChain-4": {"floor": -0.5, "floor_final": -0.4, "ceiling": 1.0},
        "DeepSea-8": {"floor": -0.01, "floor_final": -0.01, "ceiling": 0.99},
    },
}
"""Test constants, not the measured ones: tests control every number."""


def reference_dir(root: Path) -> Path:
    """A data dir with the test constants and the real paper tables (as the report reads them)."""
    data = root / "data"
    data.mkdir()
    (data / "normalization.json").write_text(json.dumps(CONSTANTS))
    shutil.copy(DATA_DIR / "paper_tables.json", data / "paper_tables.json")
    return data


DIAGNOSTICS = {"rtrrl": ("entropy", "saturation"), "ppo": ("approx_kl", "entropy")}
"""Learning diagnostics each test agent reports (random: none, as the real one)."""


def diagnostic_value(name: str, seed: int, evaluation: int) -> float | None:
    """A known value per (diagnostic, seed, evaluation); the third evaluation's saturation is non-finite."""
    if name == "saturation" and evaluation == 2:
        return None
    return round(0.1 * (len(name) + seed) / (evaluation + 1), 6)


def _provenance() -> dict:
    return {
        "git_commit": "0123456789abcdef",
        "git_dirty": False,
        "python": "3.11",
        "packages": {"jax": "0.10.2"},
        "platform": "cpu",
        "device": "cpu:0",
        "host": "testhost",
        "xla_flags": None,
        "nproc": "1",
        "started_utc": "2026-01-01T00:00:00Z",
        "ended_utc": "2026-01-01T00:01:00Z",
        "command": "test",
    }


def make_run(
    suite: str,
    task: str,
    agent: str,
    seed: int,
    best: float | None,
    status: str = "completed",
    evals: int = 5,
    interval: int = 1000,
    floor_ceiling: tuple[float, float] = (0.0, 1.0),
    budget: int | None = None,
    hyperparameters: dict | None = None,
) -> RunResult:
    """A run whose curve rises to `best` (raw) at its last-but-one evaluation; `budget`: its
    `config.budget.max_env_steps` (none given: no budget in its config); `hyperparameters`: its
    `config.agent.hyperparameters` (none given: none recorded)."""
    fl, ce = floor_ceiling
    scores = (
        None
        if best is None
        else [fl + (best - fl) * (i + 1) / (evals - 1) for i in range(evals - 1)] + [best - 0.01 * (ce - fl)]
    )
    if status == "failed":
        evals, scores = 0, []
    if status == "diverged":
        scores = [fl + 0.1 * (ce - fl), None]
        evals = 2
    env_steps = [interval * (i + 1) for i in range(evals)]
    names = DIAGNOSTICS.get(agent, ())
    diagnostics = {n: [diagnostic_value(n, seed, i) for i in range(evals)] for n in names}
    finite = [s for s in (scores or []) if s is not None]
    b = max(finite) if finite else None
    return RunResult(
        run_id=f"{suite}/{task}/{agent}/{seed}",
        suite=suite,
        task=task,
        agent=agent,
        seed=seed,
        config={"agent": {"name": agent} | ({"hyperparameters": hyperparameters} if hyperparameters else {})}
        | {"task": {"id": task}, "seed": seed}
        | ({"budget": {"max_env_steps": budget}} if budget is not None else {}),
        config_hash=f"h-{agent}-{task}",
        status=status,
        message=None if status in ("completed", "early-stopped") else f"{status} on purpose",
        stop_reason={"completed": "budget", "early-stopped": "patience", "diverged": "divergence", "failed": "error"}[
            status
        ],
        curve={
            "env_steps": env_steps,
            "wall_time": [0.5 * (i + 1) for i in range(evals)],
            "eval_score": scores or [],
            "train_return": [None] * evals,
            "train_episodes": [0] * evals,
            "diagnostics": diagnostics,
        },
        best_score=b,
        best_step=env_steps[(scores or []).index(b)] if b is not None else None,
        final_eval_score=finite[-1] if finite else None,
        final_score=b,
        env_steps=env_steps[-1] if env_steps else 0,
        num_evals=evals,
        timing=None
        if status == "failed"
        else {
            "compile_s": 2.0,
            "run_s": 3.0 + seed,
            "steps_per_s": 1e4 * (1 + len(agent)),
            "block_size": 5,
            "block_seeds": list(range(5)),
            "compile_cache": None,
        },
        provenance=_provenance(),
    )


def write_grid(out: Path, constants: dict, suite: str = "demo", seeds: int = 5, noise_seed: int = 0) -> dict:
    """Write the ragged grid; returns the raw best scores written, keyed (task, agent) -> list."""
    rng = np.random.default_rng(noise_seed)
    written: dict[tuple[str, str], list[float]] = {}
    planned = []
    for task in TASKS:
        c = constants["tasks"][task]
        fl, ce = c["floor"], c["ceiling"]
        for agent in AGENTS:
            n = seeds - 2 if (task, agent) == ("DeepSea-8", "ppo") else seeds  # unequal seed counts
            for seed in range(n):
                planned.append((task, agent, seed))
                status = "completed"
                if (task, agent, seed) == ("MemoryChain-4", "ppo", 1):
                    status = "diverged"
                if (task, agent, seed) == ("CartPole-vel", "rtrrl", 2):
                    status = "failed"
                norm = float(np.clip(LEVEL[agent] + 0.1 * rng.standard_normal(), -0.2, 1.0))
                best = fl + norm * (ce - fl)
                run = make_run(suite, task, agent, seed, best, status, floor_ceiling=(fl, ce))
                write_result(result_path(out, suite, task, agent, seed), run)
                written.setdefault((task, agent), []).append(run.best_score if status == "completed" else None)
    planned.append(("DeepSea-8", "ppo", seeds + 3))  # planned, never written: missing
    write_plan(out, suite, planned, "rtrrl-bench run --suite demo")
    bad = out / suite / "DeepSea-8" / "rtrrl"
    (bad / f"seed_{seeds + 7}.json").write_text('{"truncated": ')
    doc = json.loads((bad / "seed_0.json").read_text())
    doc["status"] = "exploded"
    (bad / f"seed_{seeds + 8}.json").write_text(json.dumps(doc))
    return written
