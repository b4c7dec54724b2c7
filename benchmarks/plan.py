"""Planning a grid: check every name and override, build each (agent, task, seed block) unit,
and decide from the files on disk which runs are done, which are new and which are redone.

Nothing here trains or writes; `make_plan` is what every command that runs a grid calls first.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agents as agent_registry
from benchmarks.config import ConfigError, apply_overrides, config_hash, merge_overrides, to_jsonable
from benchmarks.envs import UnsupportedTask, make_env
from benchmarks.protocol import Budget, iterations_per_epoch
from benchmarks.schema import CONFIG_FORMAT_VERSION
from benchmarks.storage import result_path, resume_state
from benchmarks.suites import SUITES, Suite
from benchmarks.tasks import OVERRIDABLE_TASK_FIELDS, TASKS, Task, resolve_task_id


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
            "schema_version": CONFIG_FORMAT_VERSION,
            "agent": {"name": self.agent, "preset": self.preset, "hyperparameters": to_jsonable(self.agent_config)},
            "task": self.task.to_config(),
            "budget": to_jsonable(self.budget),
            "seed": seed,
        }

    def config_source(self) -> dict[str, Any]:
        """How the agent's base config was chosen, and where this unit departs from it: recorded
        beside `run_config`, never in it, so a better record does not make runs stale."""
        source = agent_registry.config_source(self.agent, self.preset)
        overrides = agent_registry.config_overrides(self.agent, self.preset, self.agent_config)
        return {**to_jsonable(source), "overrides": to_jsonable(overrides)}

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
                raise ConfigError(
                    f"--preset {request!r}: agent {target!r} is not in this run without a preset "
                    f"(its agents: {', '.join(out)})"
                )
            _check_preset(target, preset)
            chosen = [target]
        else:
            chosen = [lab for lab in plain if preset in agent_registry.PRESETS.get(lab, {})]
            if not chosen:
                have = sorted({p for a in plain for p in agent_registry.PRESETS.get(a, {})})
                raise ConfigError(
                    f"--preset {preset!r}: no agent of this run has it (their presets: {', '.join(have) or 'none'})"
                )
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
                raise ConfigError(
                    f"{a} on {t} consumes {spi:,} env steps per iteration, more than "
                    f"budget.max_env_steps={budget.max_env_steps:,}"
                )
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


def import_plugins(modules: Sequence[str]) -> None:
    """Import modules that register extra agents or tasks (`register_agent`, `register_task`)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise ConfigError(f"cannot import plugin {name!r}: {type(e).__name__}: {e}") from None
