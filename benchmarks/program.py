"""One unit's program: train a block of seeds vmapped in one jitted `epoch`, evaluate each seed,
apply the stop rule, and turn what came back into one result per seed.

One unit = one compiled `epoch` program (train `eval_interval` env steps for every seed of
the block, then evaluate each) called from a short Python loop, once per evaluation. A seed
that stops (patience or divergence) is frozen: its state is no longer updated and its curve
no longer grows; the block ends when every seed stopped or the budget is spent.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import agents as agent_registry
from agents import threefry
from agents.base import Agent
from benchmarks import compile_cache, provenance
from benchmarks.config import config_hash
from benchmarks.envs import Environment, make_env, tree_select
from benchmarks.plan import Unit
from benchmarks.protocol import (
    Budget,
    EvalProtocol,
    StopState,
    epoch_eval_key,
    final_eval_keys,
    final_policy_score,
    initial_stop_state,
    is_finite,
    iterations_per_epoch,
    next_stop_state,
    paper_score,
)
from benchmarks.schema import RunResult

# ---- the compiled block program -------------------------------------------------------------


class EpochOutput(NamedTuple):
    was_active: jax.Array
    score: jax.Array
    return_sum: jax.Array
    episodes: jax.Array
    env_steps: jax.Array
    diagnostics: dict[str, jax.Array]  # the agent's learning-health numbers of this epoch (`TrainMetrics`)


def make_block_program(agent: Agent, env: Environment, budget: Budget):
    """Pure functions over a leading seed axis: init(seeds), epoch(carry, seeds), final(carry, seeds)."""
    iters, steps_per_epoch, _ = iterations_per_epoch(agent.steps_per_iteration(env.spec), budget)
    ev: EvalProtocol = budget.eval

    def init_one(seed):
        return agent.init(jax.random.PRNGKey(seed), env), initial_stop_state()

    def epoch_one(carry, seed):
        agent_state, stop = carry
        new_state, metrics = agent.train(agent_state, env, iters)
        key = epoch_eval_key(ev.eval_seed, seed, stop.epoch)
        score = paper_score(agent, env, agent.policy_params(new_state), key, ev.eval_steps)
        finite = is_finite(new_state, score)
        candidate = next_stop_state(stop, score, finite, steps_per_epoch, budget.patience)
        # frozen seeds keep everything; a diverging seed keeps its last finite agent state
        new_stop = tree_select(stop.active, candidate, stop)
        agent_state = tree_select(jnp.logical_and(stop.active, finite), new_state, agent_state)
        out = EpochOutput(
            stop.active, score, metrics.episode_return_sum, metrics.episodes, candidate.env_steps, metrics.diagnostics
        )
        return (agent_state, new_stop), out

    def final_one(carry, seed):
        agent_state, _ = carry
        keys = final_eval_keys(ev.eval_seed, seed, ev.final_episodes)
        return final_policy_score(agent, env, agent.policy_params(agent_state), keys)

    # init runs seed by seed (`lax.map`), not vmapped: a vmapped LAPACK call (QR in orthogonal
    # initialisers) can deadlock XLA's CPU thread pool on jax 0.10 (docs: performance notes)
    return (lambda seeds: jax.lax.map(init_one, seeds)), jax.vmap(epoch_one), jax.vmap(final_one)


# ---- results ---------------------------------------------------------------------------------

EMPTY_CURVE: dict[str, Any] = {
    "env_steps": [],
    "wall_time": [],
    "eval_score": [],
    "train_return": [],
    "train_episodes": [],
    "diagnostics": {},
}


def _none_if_nan(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def make_result(
    unit: Unit,
    seed: int,
    *,
    status: str,
    stop_reason: str,
    message: str | None,
    command: str,
    started: str,
    curve: dict[str, Any] | None = None,
    best_score: float | None = None,
    best_step: int | None = None,
    final_score: float | None = None,
    env_steps: int = 0,
    timing: dict[str, Any] | None = None,
) -> RunResult:
    """The one place a `RunResult` is assembled, for finished and failed runs alike."""
    curve = curve if curve is not None else EMPTY_CURVE
    scores = curve["eval_score"]
    cfg = unit.run_config(seed)
    return RunResult(
        run_id=f"{unit.suite}/{unit.task.id}/{unit.label}/{seed}",
        suite=unit.suite,
        task=unit.task.id,
        agent=unit.label,
        seed=seed,
        config=cfg,
        config_hash=config_hash(cfg),
        config_source=unit.config_source(),
        status=status,
        message=message[:4000] if message else message,
        stop_reason=stop_reason,
        curve=curve,
        best_score=best_score,
        best_step=best_step,
        final_eval_score=scores[-1] if scores else None,
        final_score=final_score,
        env_steps=env_steps,
        num_evals=len(scores),
        timing=timing,
        provenance={
            **provenance.static_provenance(),
            "started_utc": started,
            "ended_utc": provenance.utc_now(),
            "command": command,
        },
    )


def failure_results(unit: Unit, message: str, command: str, started: str) -> list[RunResult]:
    """One failure record per seed of a unit that produced no results (crash, lost worker)."""
    return [
        make_result(unit, seed, status="failed", stop_reason="error", message=message, command=command, started=started)
        for seed in unit.seeds
    ]


def _curve(outputs: list[EpochOutput], walls: list[float], i: int) -> dict[str, Any]:
    """Seed `i`'s curve: the epochs in which it was still active."""
    rows = [(o, w) for o, w in zip(outputs, walls) if o.was_active[i]]
    return {
        "env_steps": [int(o.env_steps[i]) for o, _ in rows],
        "wall_time": [round(w, 4) for _, w in rows],
        "eval_score": [_none_if_nan(float(o.score[i])) for o, _ in rows],
        "train_return": [
            _none_if_nan(float(o.return_sum[i] / o.episodes[i])) if o.episodes[i] > 0 else None for o, _ in rows
        ],
        "train_episodes": [int(o.episodes[i]) for o, _ in rows],
        "diagnostics": {
            name: [_none_if_nan(float(o.diagnostics[name][i])) for o, _ in rows]
            for name in sorted(outputs[0].diagnostics)
        },
    }


def _outcome(stop: StopState, i: int) -> tuple[str, str, str | None]:
    """(status, stop reason, message) of seed `i` from its final stop state."""
    if stop.diverged[i]:
        return (
            "diverged",
            "divergence",
            f"non-finite agent state or evaluation score after {int(stop.env_steps[i])} env steps",
        )
    if not stop.active[i]:
        return "early-stopped", "patience", None
    return "completed", "budget", None


# ---- running one unit -------------------------------------------------------------------------

EpochCallback = Callable[[Unit, int, int], None]  # (unit, env steps done by the block this epoch, active seeds left)


def compiler_options() -> dict[str, Any]:
    """XLA options for every program the runner compiles (and the speed benchmarks time).

    On CPU, copy insertion with region analysis: without it XLA copies almost every loop-carried
    buffer of a training `lax.scan` once per iteration (docs/performance.md, "Copy insertion",
    has the counts and the speed-ups as measured).
    It only changes which buffers are reused, so results stay bit for bit the same (tested for
    every agent); other backends get no options.
    """
    if jax.default_backend() != "cpu":
        return {}
    return {"xla_cpu_copy_insertion_use_region_analysis": True}


def run_unit(unit: Unit, command: str = "", on_epoch: EpochCallback | None = None) -> list[RunResult]:
    """Train one block of seeds and return one result per seed (failures become records)."""
    started = provenance.utc_now()
    try:
        return _run_unit(unit, command, started, on_epoch)
    except Exception as e:  # one unit's failure must not stop the grid
        tb = traceback.format_exc(limit=-3).strip().splitlines()
        message = f"{type(e).__name__}: {e} | " + " / ".join(line.strip() for line in tb[-4:])
        return failure_results(unit, message, command, started)


def _run_unit(unit: Unit, command: str, started: str, on_epoch: EpochCallback | None) -> list[RunResult]:
    threefry.activate()  # in this process (a worker's too): the unrolled PRNG hash, the same bits
    agent = agent_registry.make_agent(unit.agent, unit.agent_config)
    env = make_env(unit.task)
    _, steps_per_epoch, num_epochs = iterations_per_epoch(agent.steps_per_iteration(env.spec), unit.budget)
    init_fn, epoch_fn, final_fn = make_block_program(agent, env, unit.budget)
    seeds = jnp.asarray(unit.seeds, jnp.int32)

    hits_before = compile_cache.hits()
    t0 = time.perf_counter()
    options = compiler_options()
    init_c = jax.jit(init_fn, compiler_options=options).lower(seeds).compile()
    shapes = jax.eval_shape(init_fn, seeds)
    epoch_c = jax.jit(epoch_fn, compiler_options=options).lower(shapes, seeds).compile()
    final_c = jax.jit(final_fn, compiler_options=options).lower(shapes, seeds).compile()
    compile_s = time.perf_counter() - t0
    cache_hits = compile_cache.hits() - hits_before if compile_cache.directory() else None

    t_run = time.perf_counter()
    carry = init_c(seeds)
    outputs: list[EpochOutput] = []
    walls: list[float] = []
    for _ in range(num_epochs):
        carry, out = epoch_c(carry, seeds)
        out = jax.device_get(out)
        walls.append(time.perf_counter() - t_run)
        outputs.append(out)
        active_left = int(np.sum(jax.device_get(carry[1].active)))
        if on_epoch is not None:
            on_epoch(unit, int(np.sum(out.was_active)) * steps_per_epoch, active_left)
        if active_left == 0:
            break
    final_scores = np.asarray(jax.device_get(final_c(carry, seeds)))
    stop = jax.device_get(carry[1])
    run_s = time.perf_counter() - t_run

    total_steps = int(np.sum(stop.env_steps))
    timing = {
        "compile_s": compile_s,
        "run_s": run_s,
        "steps_per_s": total_steps / max(run_s, 1e-9),
        "block_size": len(unit.seeds),
        "block_seeds": list(unit.seeds),
        "compile_cache": compile_cache.directory(),
        "compile_cache_hits": cache_hits,
    }
    results = []
    for i, seed in enumerate(unit.seeds):
        status, reason, message = _outcome(stop, i)
        best = float(stop.best[i])
        results.append(
            make_result(
                unit,
                seed,
                status=status,
                stop_reason=reason,
                message=message,
                command=command,
                started=started,
                curve=_curve(outputs, walls, i),
                best_score=best if math.isfinite(best) else None,
                best_step=int(stop.best_step[i]) if math.isfinite(best) else None,
                final_score=_none_if_nan(float(final_scores[i])),
                env_steps=int(stop.env_steps[i]),
                timing=timing,
            )
        )
    return results
