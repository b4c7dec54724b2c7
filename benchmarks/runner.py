"""The runner: plan a grid of (agent, task, seed block) units, train each block of seeds
vmapped in one jitted program with per-seed early stopping, and write one JSON file per run.

One unit = one compiled `epoch` program (train `eval_interval` env steps for every seed of
the block, then evaluate each) called from a short Python loop, once per evaluation. A seed
that stops (patience or divergence) is frozen: its state is no longer updated and its curve
no longer grows; the block ends when every seed stopped or the budget is spent.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import agents as agent_registry
from agents.base import Agent
from benchmarks import provenance
from benchmarks.config import ConfigError, apply_overrides, config_hash, merge_overrides, to_jsonable
from benchmarks.envs import Environment, UnsupportedTask, make_env, tree_select
from benchmarks.evaluation import epoch_eval_key, final_eval_keys, final_policy_score, paper_score
from benchmarks.schema import SCHEMA_VERSION, RunResult
from benchmarks.storage import move_aside, resume_state, result_path, write_result
from benchmarks.suites import SUITES, Budget, EvalProtocol, Suite
from benchmarks.tasks import OVERRIDABLE_TASK_FIELDS, TASKS, Task, resolve_task_id


# ---- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One block of seeds of one (agent, task): the runner's unit of work and of compilation."""

    suite: str
    task: Task
    agent: str
    agent_config: Any
    budget: Budget
    seeds: tuple[int, ...]
    steps_per_epoch: int = 0
    """Env steps between evaluations after rounding to whole agent iterations (set by the plan)."""
    num_epochs: int = 0
    """Evaluations at most (set by the plan)."""
    preset: str | None = None
    """The agent's named preset (`agents.presets`), None for its defaults."""

    @property
    def label(self) -> str:
        """The agent as results and reports name it: `rtrrl`, or `rtrrl@paper-code` for a preset."""
        return agent_registry.label(self.agent, self.preset)

    @property
    def planned_env_steps(self) -> int:
        """All seeds' planned env steps (the effective budget after rounding)."""
        return self.steps_per_epoch * self.num_epochs * len(self.seeds)

    def run_config(self, seed: int) -> dict[str, Any]:
        """Everything that determines a run's numbers; hashed into `config_hash`."""
        return {
            "schema_version": SCHEMA_VERSION,
            "agent": {"name": self.agent, "preset": self.preset, "hyperparameters": to_jsonable(self.agent_config)},
            "task": self.task.to_config(),
            "budget": to_jsonable(self.budget),
            "seed": seed,
        }

    def path(self, out_dir: Path, seed: int) -> Path:
        return result_path(out_dir, self.suite, self.task.id, self.label, seed)


@dataclass
class Plan:
    units: list[Unit]
    skipped: list[tuple[str, str, int]]  # (task, agent label, seed) already done
    redo: list[tuple[Path, str]]  # existing files that will be replaced, with why
    suite: str = ""

    @property
    def runs(self) -> list[tuple[str, str, int]]:
        """Every (task, agent, seed) the command asked for, done or to do."""
        return sorted([*self.skipped, *((u.task.id, u.label, s) for u in self.units for s in u.seeds)])

    @property
    def num_runs(self) -> int:
        return sum(len(u.seeds) for u in self.units)


def _choices(kind: str, name: str, valid: Sequence[str]) -> ConfigError:
    return ConfigError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")


def resolve_suite(name: str) -> Suite:
    if name not in SUITES:
        raise _choices("suite", name, list(SUITES))
    return SUITES[name]


def resolve_agents(labels: Sequence[str], presets: Sequence[str] = ()) -> list[str]:
    """Check agent names and `agent@preset` labels, then apply `--preset` requests (see `make_plan`)."""
    out = []
    for lab in labels:
        name, preset = agent_registry.split_label(lab)
        if name not in agent_registry.AGENTS:
            raise _choices("agent", name, list(agent_registry.AGENTS))
        if preset is not None:
            _check_preset(name, preset)
        out.append(lab)
    for request in presets:
        target, sep, preset = request.rpartition("=")
        plain = [lab for lab in out if agent_registry.split_label(lab)[1] is None]  # labels without a preset
        if sep:
            if target not in plain:
                raise ConfigError(f"--preset {request!r}: agent {target!r} is not in this run without a preset "
                                  f"(its agents: {', '.join(out)})")
            _check_preset(target, preset)
            chosen = [target]
        else:
            chosen = [lab for lab in plain if preset in agent_registry.PRESETS.get(lab, {})]
            if not chosen:
                have = sorted({p for a in plain for p in agent_registry.PRESETS.get(a, {})})
                raise ConfigError(f"--preset {preset!r}: no agent of this run has it (their presets: "
                                  f"{', '.join(have) or 'none'})")
        for lab in chosen:
            out[out.index(lab)] = agent_registry.label(lab, preset)
    if len(set(out)) != len(out):
        raise ConfigError(f"agents named twice: {', '.join(sorted({a for a in out if out.count(a) > 1}))}")
    return out


def _check_preset(agent: str, preset: str) -> None:
    available = agent_registry.PRESETS.get(agent, {})
    if preset not in available:
        valid = f"valid: {', '.join(available)}" if available else "it has none"
        raise ConfigError(f"agent {agent!r} has no preset {preset!r}; {valid} (`rtrrl-bench list presets`)")


def make_plan(
    out_dir: Path,
    suite: str,
    tasks: Sequence[str] | None = None,
    agents: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    block_size: int | None = None,
    difficulty: str | None = None,
    profile: str = "default",
    presets: Sequence[str] = (),
) -> Plan:
    """Validate names and overrides and decide which runs need work. Writes nothing.

    `agents` are names or `agent@preset` labels; each of `presets` is `NAME` (every agent of the
    run that has that preset runs it instead of its defaults) or `AGENT=NAME` (that agent only).
    Overrides scoped by an agent's name apply to all its labels, then those scoped by a label."""
    s = resolve_suite(suite)
    try:
        suite_tasks = s.tasks_for(difficulty)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    task_ids = [resolve_task_id(t) for t in tasks] if tasks else list(suite_tasks)
    agent_names = resolve_agents(list(agents) if agents else list(s.agents), presets)
    seed_list = sorted(set(seeds)) if seeds is not None else list(range(s.seeds))
    for t in task_ids:
        if t not in TASKS:
            raise _choices("task", t, list(TASKS))
    if not seed_list or min(seed_list) < 0:
        raise ConfigError("seeds must be non-negative integers")
    if block_size is not None and block_size < 1:
        raise ConfigError(f"block size must be at least 1 (got {block_size})")

    overrides = merge_overrides(s.overrides(), overrides or {})
    valid_scopes = ["task", "budget", "eval", *agent_registry.AGENTS, *(a for a in agent_names if "@" in a)]
    for scope in overrides:
        if scope not in valid_scopes:
            raise ConfigError(f"unknown override scope {scope!r}; valid: {', '.join(valid_scopes)}")
    def task_budget(task_id: str) -> Budget:
        try:
            budget = s.budget_for(task_id, profile)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if "eval" in overrides:
            budget = dataclasses.replace(budget, eval=apply_overrides(budget.eval, overrides["eval"], "eval"))
        return apply_overrides(budget, overrides.get("budget", {}), "budget")

    units: list[Unit] = []
    skipped: list[tuple[str, str, int]] = []
    redo: list[tuple[Path, str]] = []
    for t in task_ids:
        budget = task_budget(t)
        task = apply_overrides(TASKS[t], overrides.get("task", {}), "task", OVERRIDABLE_TASK_FIELDS)
        try:
            spec = make_env(task).spec  # fail on bad masks / params / packages before any work
        except (UnsupportedTask, ValueError) as e:
            raise ConfigError(str(e)) from None
        for lab in agent_names:
            a, preset = agent_registry.split_label(lab)
            cfg = apply_overrides(agent_registry.preset_config(a, preset), overrides.get(a, {}), a)
            if preset is not None:
                cfg = apply_overrides(cfg, overrides.get(lab, {}), lab)
            agent = agent_registry.make_agent(a, cfg)
            spi = agent.steps_per_iteration(spec)
            if spi > budget.max_env_steps:
                raise ConfigError(f"{a} on {t} consumes {spi:,} env steps per iteration, more than "
                                  f"budget.max_env_steps={budget.max_env_steps:,}")
            _, steps_per_epoch, num_epochs = iterations_per_epoch(spi, budget)
            probe = Unit(s.name, task, a, cfg, budget, (), steps_per_epoch, num_epochs, preset)
            todo = []
            for seed in seed_list:
                path = probe.path(out_dir, seed)
                state, why = resume_state(path, config_hash(probe.run_config(seed)))
                if state == "done":
                    skipped.append((t, lab, seed))
                else:
                    todo.append(seed)
                    if state != "missing":
                        redo.append((path, f"{state}: {why}"))
            size = block_size or max(len(todo), 1)
            for i in range(0, len(todo), size):
                units.append(dataclasses.replace(probe, seeds=tuple(todo[i : i + size])))
    return Plan(units, skipped, redo, s.name)


# ---- the compiled block program -------------------------------------------------------------


class StopState(NamedTuple):
    """Per-seed early-stopping bookkeeping (spec §5.5), carried inside the jitted program."""

    best: jax.Array  # best eval score so far (-inf before the first finite one)
    best_step: jax.Array
    bad_evals: jax.Array  # evaluations since the last strict improvement
    active: jax.Array  # still training
    diverged: jax.Array
    env_steps: jax.Array
    epoch: jax.Array  # evaluations done


class EpochOutput(NamedTuple):
    was_active: jax.Array
    score: jax.Array
    return_sum: jax.Array
    episodes: jax.Array
    env_steps: jax.Array
    diagnostics: dict[str, jax.Array]  # the agent's learning-health numbers of this epoch (`TrainMetrics`)


def all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
              if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.ones((), bool)


def iterations_per_epoch(spi: int, budget: Budget) -> tuple[int, int, int]:
    """(iterations per epoch, env steps per epoch, epochs) for an agent consuming `spi` env steps
    per iteration: the interval is rounded down to whole iterations (at least one) and the
    budget down to whole epochs (at least one)."""
    iters = max(1, budget.eval_interval // spi)
    steps = iters * spi
    return iters, steps, max(1, budget.max_env_steps // steps)


def make_block_program(agent: Agent, env: Environment, budget: Budget):
    """Pure functions over a leading seed axis: init(seeds), epoch(carry, seeds), final(carry, seeds)."""
    iters, steps_per_epoch, _ = iterations_per_epoch(agent.steps_per_iteration(env.spec), budget)
    ev: EvalProtocol = budget.eval

    def init_one(seed):
        agent_state = agent.init(jax.random.PRNGKey(seed), env)
        i0 = jnp.zeros((), jnp.int32)
        stop = StopState(jnp.array(-jnp.inf, jnp.float32), i0, i0, jnp.ones((), bool), jnp.zeros((), bool), i0, i0)
        return agent_state, stop

    def epoch_one(carry, seed):
        agent_state, stop = carry
        new_state, metrics = agent.train(agent_state, env, iters)
        key = epoch_eval_key(ev.eval_seed, seed, stop.epoch)
        score = paper_score(agent, env, agent.policy_params(new_state), key, ev.eval_steps)
        finite = jnp.logical_and(all_finite(new_state), jnp.isfinite(score))
        improved = jnp.logical_and(finite, score > stop.best)
        env_steps = stop.env_steps + steps_per_epoch
        bad = jnp.where(improved, 0, stop.bad_evals + 1)
        candidate = StopState(
            best=jnp.where(improved, score, stop.best),
            best_step=jnp.where(improved, env_steps, stop.best_step),
            bad_evals=bad,
            active=jnp.logical_and(finite, bad < budget.patience),
            diverged=jnp.logical_not(finite),
            env_steps=env_steps,
            epoch=stop.epoch + 1,
        )
        # frozen seeds keep everything; a diverging seed keeps its last finite agent state
        new_stop = tree_select(stop.active, candidate, stop)
        agent_state = tree_select(jnp.logical_and(stop.active, finite), new_state, agent_state)
        out = EpochOutput(stop.active, score, metrics.episode_return_sum, metrics.episodes, env_steps,
                          metrics.diagnostics)
        return (agent_state, new_stop), out

    def final_one(carry, seed):
        agent_state, _ = carry
        keys = final_eval_keys(ev.eval_seed, seed, ev.final_episodes)
        return final_policy_score(agent, env, agent.policy_params(agent_state), keys)

    # init runs seed by seed (`lax.map`), not vmapped: a vmapped LAPACK call (QR in orthogonal
    # initialisers) can deadlock XLA's CPU thread pool on jax 0.10 (docs: performance notes)
    return (lambda seeds: jax.lax.map(init_one, seeds)), jax.vmap(epoch_one), jax.vmap(final_one)


# ---- running one unit -------------------------------------------------------------------------

EpochCallback = Callable[[Unit, int, int], None]  # (unit, env steps done by the block this epoch, active seeds left)


def _none_if_nan(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def run_unit(unit: Unit, command: str = "", on_epoch: EpochCallback | None = None) -> list[RunResult]:
    """Train one block of seeds and return one result per seed (failures become records)."""
    started = provenance.utc_now()
    try:
        return _run_unit(unit, command, started, on_epoch)
    except Exception as e:  # one unit's failure must not stop the grid
        tb = traceback.format_exc(limit=-3).strip().splitlines()
        message = f"{type(e).__name__}: {e} | " + " / ".join(line.strip() for line in tb[-4:])
        return [_failure(unit, seed, message, command, started) for seed in unit.seeds]


def _provenance(command: str, started: str) -> dict[str, Any]:
    return {**provenance.static_provenance(), "started_utc": started, "ended_utc": provenance.utc_now(), "command": command}


def _failure(unit: Unit, seed: int, message: str, command: str, started: str) -> RunResult:
    cfg = unit.run_config(seed)
    return RunResult(
        run_id=f"{unit.suite}/{unit.task.id}/{unit.label}/{seed}", suite=unit.suite, task=unit.task.id,
        agent=unit.label, seed=seed, config=cfg, config_hash=config_hash(cfg), status="failed",
        message=message[:4000], stop_reason="error",
        curve={"env_steps": [], "wall_time": [], "eval_score": [], "train_return": [], "train_episodes": [],
               "diagnostics": {}},
        best_score=None, best_step=None, final_eval_score=None, final_score=None, env_steps=0, num_evals=0,
        timing=None, provenance=_provenance(command, started),
    )


def _run_unit(unit: Unit, command: str, started: str, on_epoch: EpochCallback | None) -> list[RunResult]:
    agent = agent_registry.make_agent(unit.agent, unit.agent_config)
    env = make_env(unit.task)
    _, steps_per_epoch, num_epochs = iterations_per_epoch(agent.steps_per_iteration(env.spec), unit.budget)
    init_fn, epoch_fn, final_fn = make_block_program(agent, env, unit.budget)
    seeds = jnp.asarray(unit.seeds, jnp.int32)

    hits_before = _cache_hits()
    t0 = time.perf_counter()
    init_c = jax.jit(init_fn).lower(seeds).compile()
    shapes = jax.eval_shape(init_fn, seeds)
    epoch_c = jax.jit(epoch_fn).lower(shapes, seeds).compile()
    final_c = jax.jit(final_fn).lower(shapes, seeds).compile()
    compile_s = time.perf_counter() - t0
    cache_hits = _cache_hits() - hits_before if compile_cache_dir() else None

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
    timing = {"compile_s": compile_s, "run_s": run_s, "steps_per_s": total_steps / max(run_s, 1e-9),
              "block_size": len(unit.seeds), "block_seeds": list(unit.seeds), "compile_cache": compile_cache_dir(),
              "compile_cache_hits": cache_hits}
    prov = _provenance(command, started)
    results = []
    for i, seed in enumerate(unit.seeds):
        rows = [(o, w) for o, w in zip(outputs, walls) if o.was_active[i]]
        scores = [_none_if_nan(float(o.score[i])) for o, _ in rows]
        curve = {
            "env_steps": [int(o.env_steps[i]) for o, _ in rows],
            "wall_time": [round(w, 4) for _, w in rows],
            "eval_score": scores,
            "train_return": [_none_if_nan(float(o.return_sum[i] / o.episodes[i])) if o.episodes[i] > 0 else None
                             for o, _ in rows],
            "train_episodes": [int(o.episodes[i]) for o, _ in rows],
            "diagnostics": {name: [_none_if_nan(float(o.diagnostics[name][i])) for o, _ in rows]
                            for name in sorted(outputs[0].diagnostics)},
        }
        if stop.diverged[i]:
            status, reason = "diverged", "divergence"
            message = f"non-finite agent state or evaluation score after {int(stop.env_steps[i])} env steps"
        elif not stop.active[i]:
            status, reason, message = "early-stopped", "patience", None
        else:
            status, reason, message = "completed", "budget", None
        best = float(stop.best[i])
        cfg = unit.run_config(seed)
        results.append(RunResult(
            run_id=f"{unit.suite}/{unit.task.id}/{unit.label}/{seed}", suite=unit.suite, task=unit.task.id,
            agent=unit.label, seed=seed, config=cfg, config_hash=config_hash(cfg), status=status, message=message,
            stop_reason=reason, curve=curve,
            best_score=best if math.isfinite(best) else None,
            best_step=int(stop.best_step[i]) if math.isfinite(best) else None,
            final_eval_score=scores[-1] if scores else None,
            final_score=_none_if_nan(float(final_scores[i])),
            env_steps=int(stop.env_steps[i]), num_evals=len(rows), timing=timing, provenance=prov,
        ))
    return results


# ---- executing a plan -------------------------------------------------------------------------


def write_unit_results(out_dir: Path, unit: Unit, results: list[RunResult]) -> None:
    """Write each seed's file atomically; an existing file is moved aside first, never overwritten."""
    for r in results:
        path = unit.path(out_dir, r.seed)
        if path.exists():
            state, _ = resume_state(path, r.config_hash)
            move_aside(path, state)  # stale | corrupt | failed (| done, if a finished run is redone)
        write_result(path, r)


class RunListener(Protocol):
    """What an executor tells its caller (the progress display) as a grid runs. Calls come from
    the driver's thread only; a unit may start more than once (a lost worker reran it)."""

    def on_start(self, unit: Unit) -> None: ...

    def on_epoch(self, unit: Unit, steps: int, active_left: int) -> None:
        """`steps`: env steps the block did this epoch; `active_left`: seeds still training."""

    def on_result(self, unit: Unit, results: list[RunResult]) -> None: ...


class Executor(Protocol):
    """Runs units somewhere (`benchmarks.executors`). Wherever they compute, the calling process
    alone writes `results/`, with `write_unit_results`, as each unit finishes."""

    def execute(self, units: Sequence[Unit], out_dir: Path, command: str,
                listener: RunListener | None = None) -> None: ...


def failure_results(unit: Unit, message: str, command: str, started: str) -> list[RunResult]:
    """One failure record per seed of a unit that produced no results (crash, lost worker)."""
    return [_failure(unit, seed, message, command, started) for seed in unit.seeds]


def enable_compile_cache(directory: str | None) -> None:
    """Persistent XLA compilation cache: a unit compiled once (by any process) is loaded, not
    recompiled, by later runs and workers. Results are unchanged; `compile_s` drops on hits."""
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(directory))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def compile_cache_dir() -> str | None:
    return jax.config.jax_compilation_cache_dir or None


_CACHE_HITS = [0]
_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def _count_cache_hit(event: str, **_: Any) -> None:
    if event == _CACHE_HIT_EVENT:
        _CACHE_HITS[0] += 1


jax.monitoring.register_event_listener(_count_cache_hit)


def _cache_hits() -> int:
    """Programs this process has loaded from the persistent compilation cache so far."""
    return _CACHE_HITS[0]


def import_plugins(modules: Sequence[str]) -> None:
    """Import modules that register extra agents or tasks (`register_agent`, `register_task`)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise ConfigError(f"cannot import plugin {name!r}: {type(e).__name__}: {e}") from None
