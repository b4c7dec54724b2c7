"""The tables `rtrrl-bench list` and `rtrrl-bench normalization` print, built from the registries.

Kept out of the CLI so that the command only chooses and prints; each table is a function of the
registries (or of a constants document) that a test can read without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.markup import escape
from rich.table import Table

import agents as agent_registry
from benchmarks.suites import SUITES, Suite
from benchmarks.tasks import TASKS, Task

WHAT = ("suites", "tasks", "agents", "presets")
"""What `rtrrl-bench list` can show, in the order `all` shows it."""


def _table(title: str, columns: tuple[str, ...], **kwargs: Any) -> Table:
    table = Table(title=title, **kwargs)
    for column in columns:
        table.add_column(column)
    return table


def _suite_row(s: Suite) -> tuple[str, ...]:
    b = s.budget
    steps = f"{b.max_env_steps:,}"
    if s.task_budgets:  # per-task budgets: their range
        caps = [s.budget_for(t).max_env_steps for t in s.tasks]
        steps = f"{min(caps):,}-{max(caps):,}"
    agents = ", ".join(s.agents)
    return (
        s.name,
        str(len(s.tasks)),
        agents,
        str(s.seeds),
        steps,
        f"{b.eval_interval:,}",
        str(b.patience),
        s.description,
    )


def suites_table() -> Table:
    """Every suite with its size and budget (a range where the budget is per task)."""
    columns = ("suite", "tasks", "agents", "seeds", "max steps", "eval every", "patience", "description")
    table = _table("suites", columns)
    for s in SUITES.values():
        table.add_row(*_suite_row(s))
    return table


def _actions(spec: Any) -> str:
    if spec.action_kind == "discrete":
        return f"{spec.num_actions} discrete"
    return f"{spec.action_dim}-d box [{min(spec.action_low):g}, {max(spec.action_high):g}]"


def _env_columns(task: Task) -> tuple[str, str, str]:
    """(obs dim, actions, max episode length) from the built env; a package without a backend here
    still lists the task, with what it can say without one."""
    from benchmarks.envs import make_env  # builds envs: only when tasks are listed

    try:
        spec = make_env(task).spec
        return str(spec.obs_dim), _actions(spec), str(spec.max_episode_length)
    except Exception as e:
        return "?", f"unavailable ({type(e).__name__})", str(task.max_episode_length)


def _task_row(task: Task) -> tuple[str, ...]:
    params = ", ".join(f"{k}={v}" for k, v in (*task.env_kwargs, *task.env_params))
    obs_dim, actions, ep_len = _env_columns(task)
    kept = str(task.obs_mask or "all")
    return (
        task.id,
        task.package,
        task.env_id,
        params,
        kept,
        obs_dim,
        actions,
        ep_len,
        ", ".join(task.paper_rows),
        task.description,
    )


def tasks_table() -> Table:
    """Every task with its env's shapes (each env is built once)."""
    columns = ("task", "package", "env id", "params", "obs kept", "obs dim", "actions", "max ep len", "paper")
    table = _table("tasks", (*columns, "description"))
    for task in TASKS.values():
        table.add_row(*_task_row(task))
    return table


def agent_table(name: str) -> Table:
    """One agent's hyperparameters with their defaults, and where the defaults come from."""
    source = agent_registry.config_source(name)
    caption = f"defaults ({source.kind}): {source.summary}"
    table = _table(f"agent {name}", ("hyperparameter", "default", "type"), caption=caption, caption_justify="left")
    for field, default, typ in agent_registry.config_fields(name):
        table.add_row(field, repr(default), typ)
    return table


def preset_rows(name: str) -> list[tuple[str, ...]]:
    """One row per preset of agent `name`: its source and the fields it sets away from the defaults."""
    base = {k: v for k, v, _ in agent_registry.flat_fields(agent_registry.default_config(name))}
    rows = []
    for p in agent_registry.PRESETS[name].values():
        values = agent_registry.flat_fields(agent_registry.preset_config(name, p.name))
        diff = ", ".join(f"{k}={v!r}" for k, v, _ in values if base[k] != v)
        rows.append((name, p.name, p.description, f"{p.source.kind}: {p.source.summary}", diff or "(none)"))
    return rows


def presets_table() -> Table:
    columns = ("agent", "preset", "description", "source", "differs from the defaults")
    table = _table("presets (--agent NAME@PRESET or --preset PRESET)", columns)
    for name in agent_registry.PRESETS:
        for row in preset_rows(name):
            table.add_row(*row)
    return table


_TABLES: dict[str, Callable[[], list[Table]]] = {
    "suites": lambda: [suites_table()],
    "tasks": lambda: [tasks_table()],
    "agents": lambda: [agent_table(name) for name in agent_registry.AGENTS],
    "presets": lambda: [presets_table()],
}


def tables(what: str) -> list[Table]:
    """The tables of `rtrrl-bench list WHAT` (`all`: every one, in the order of `WHAT`)."""
    return [table for key in WHAT if what in ("all", key) for table in _TABLES[key]()]


def constants_table(doc: dict[str, Any]) -> Table:
    """A normalization constants document: one row per task, its protocol in the title."""
    p = doc["floor_protocol"]
    title = (
        f"normalization constants v{doc['version']} (floor: {p['agent']}, seeds {p['seeds']}, "
        f"{p['budget']['max_env_steps']:,} env steps; measured {p['measured_utc']})"
    )
    table = _table(title, ("task", "floor", "± std", "floor (final)", "ceiling", "ceiling source"))
    for tid, c in doc["tasks"].items():
        numbers = (f"{c['floor']:.4g}", f"{c['floor_std']:.2g}", f"{c['floor_final']:.4g}", f"{c['ceiling']:.4g}")
        table.add_row(escape(tid), *numbers, escape(c["ceiling_source"]))
    return table
