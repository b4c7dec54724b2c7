"""What each `rtrrl-bench` command accepts: its options' names, types, defaults and help.

Declared apart from the commands (`benchmarks/cli.py`) so that a command reads as its wiring.
Related options reach a command as one value: `grid` (a `launch.GridOptions`: what `run` plans)
and `ray` (the `--executor ray` options). The order here is the order of `--help`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

DEFAULT_CACHE = "~/.cache/rtrrl-bench/jax"

F = TypeVar("F", bound=Callable[..., Any])


def positive(ctx: Any, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"must be a positive integer (got {value})")
    return value


def _stack(options: Sequence[Callable[[Any], Any]]) -> Callable[[F], F]:
    """One decorator applying `options`, listed in `--help` in this order."""

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


GRID = [
    click.option("--suite", default="quick", show_default=True, help="Suite to run (see `rtrrl-bench list suites`)."),
    click.option(
        "--difficulty",
        type=click.Choice(["easy", "medium", "hard", "all"], case_sensitive=False),
        default=None,
        help="Task list of a suite with difficulties (popgym; default: easy).",
    ),
    click.option("--task", "tasks", multiple=True, help="Run only these tasks (repeatable); default: the suite's."),
    click.option(
        "--agent",
        "agents",
        multiple=True,
        help="Run only these agents (repeatable; NAME or NAME@PRESET); default: the suite's.",
    ),
    click.option(
        "--preset",
        "presets",
        multiple=True,
        metavar="[AGENT=]NAME",
        help="Run a named preset (`rtrrl-bench list presets`) instead of the defaults: for every agent of the "
        "run that has it, or for AGENT only (repeatable). Runs are labelled AGENT@NAME.",
    ),
    click.option("--seeds", default=None, help="Seed count (3), range (0-4) or list (1,4,7); default: the suite's."),
    click.option("--max-steps", type=int, callback=positive, help="Override budget.max_env_steps."),
    click.option(
        "--eval-interval", type=int, callback=positive, help="Override budget.eval_interval (env steps per evaluation)."
    ),
    click.option("--patience", type=int, callback=positive, help="Override budget.patience (evaluations)."),
    click.option(
        "--profile",
        type=click.Choice(["default", "paper"]),
        default="default",
        show_default=True,
        help="Budgets: the suite's own per task, or the paper's (50M env steps, patience 20) everywhere.",
    ),
    click.option(
        "--block-size", type=int, callback=positive, help="Seeds per vmapped block (default: all seeds of a pair)."
    ),
    click.option(
        "--out", default="results", show_default=True, type=click.Path(file_okay=False), help="Results directory."
    ),
    click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="SCOPE.FIELD=VALUE",
        help="Override a setting: <agent>.<field>, task.<field>, budget.<field>, eval.<field> (repeatable).",
    ),
    click.option(
        "--config", "config_file", type=click.Path(dir_okay=False), help="TOML/JSON file of overrides (--set wins)."
    ),
]
"""`run`'s options that say what to plan: the fields of `launch.GridOptions`, in `--help` order."""


def grid_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`GRID`, handed to the command as one `grid: launch.GridOptions`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from benchmarks.launch import GridOptions  # imports the registries: only when the command runs

        grid = GridOptions(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(GridOptions)})
        return command(*args, grid=grid, **kwargs)

    return _stack(GRID)(wrapper)


RAY_OPTIONS = ("address", "ray_cpus", "ray_gpus", "max_retries", "exception_retries")
RAY = [
    click.option(
        "--address",
        default=None,
        metavar="auto|HOST:PORT",
        help="Ray: the cluster to join (auto: the one `ray start` runs here); default: start Ray on this machine.",
    ),
    click.option("--ray-cpus", type=float, default=1.0, show_default=True, help="Ray: CPUs each unit asks for."),
    click.option(
        "--ray-gpus",
        type=float,
        default=None,
        help="Ray: GPU share each unit asks for (default: 0.25 on a cluster with GPUs, else 0).",
    ),
    click.option(
        "--max-retries",
        type=int,
        default=3,
        show_default=True,
        help="Ray: reruns of a unit whose worker process or node is lost, before a failure record.",
    ),
    click.option(
        "--exception-retries",
        type=int,
        default=1,
        show_default=True,
        help="Ray: reruns of a unit whose code raised, before a failure record.",
    ),
]


def ray_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`RAY`, handed to the command as one dict `ray` (with `given`: the options the user set, so
    that the local executor can refuse them)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        ray = {name: kwargs.pop(name) for name in RAY_OPTIONS}
        ray["given"] = [
            f"--{name.replace('_', '-')}"
            for name in RAY_OPTIONS
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
        ]
        return command(*args, ray=ray, **kwargs)

    return _stack(RAY)(wrapper)


EXECUTOR = [
    click.option(
        "--jobs",
        type=int,
        callback=positive,
        help="Local executor: worker processes (default: one per CPU core, at most 8, on CPU; 1 on an accelerator).",
    ),
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where units compute: this machine, or a Ray cluster (pip install -e '.[ray]').",
    ),
]
RUN_TAIL = [
    click.option(
        "--plugin",
        "plugins",
        multiple=True,
        metavar="MODULE",
        help="Import a module that registers extra agents or tasks (repeatable).",
    ),
    click.option(
        "--compile-cache",
        default=lambda: os.environ.get("RTRRL_BENCH_COMPILE_CACHE", DEFAULT_CACHE),
        show_default="$RTRRL_BENCH_COMPILE_CACHE or ~/.cache/rtrrl-bench/jax",
        help="Persistent XLA compilation cache directory shared by runs and workers; 'none' turns it off.",
    ),
    click.option(
        "--dry-run",
        is_flag=True,
        help="Show what would run, with the hours it projects from measured speeds, and exit.",
    ),
    click.option(
        "--speeds",
        "speed_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="More measured speeds for --dry-run's projection, besides <out>/speeds.json "
        "(e.g. data/reference/speeds.json; repeatable).",
    ),
    click.option("--progress/--no-progress", default=None, help="Live progress bar (default: when a terminal)."),
]


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every option of `rtrrl-bench run`: `grid`, the executor's (with `ray`), then the rest."""
    return grid_options(_stack(EXECUTOR)(ray_options(_stack(RUN_TAIL)(command))))


REPORT = [
    click.option("--results", default="results", show_default=True, type=click.Path(file_okay=False)),
    click.option("--out", default=None, help="Report directory (default: <results>/report)."),
    click.option(
        "--reps",
        type=int,
        default=50_000,
        show_default=True,
        callback=positive,
        help="Bootstrap resamples for the aggregate metrics.",
    ),
    click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of every resampler and permutation test."
    ),
    click.option(
        "--screenshot/--no-screenshot",
        default=True,
        show_default=True,
        help="Render the leaderboard in headless Chromium to screenshot.png (when installed).",
    ),
    click.option(
        "--constants",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="Normalization constants for your own tasks (`rtrrl-bench normalization --measure --task ID "
        "--plugin MODULE --write FILE`), added to the package's.",
    ),
    click.option(
        "--unranked",
        multiple=True,
        metavar="AGENT",
        help="Show AGENT only at its own budget: left out of every ranking and of the common budget "
        "(e.g. a run capped below the others for speed); the report says so (repeatable).",
    ),
    click.option(
        "--headline-into",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="Also write the report's headline into FILE (e.g. your README), between the lines "
        "`<!-- rtrrl-bench headline: begin -->` and `<!-- rtrrl-bench headline: end -->`.",
    ),
]
report_options = _stack(REPORT)
NORMALIZATION = [
    click.option(
        "--measure",
        is_flag=True,
        help="Re-measure the floors with the runner (random agent, the floor protocol) and write the constants.",
    ),
    click.option(
        "--write",
        "write_to",
        is_flag=False,
        flag_value="",
        default=None,
        type=click.Path(dir_okay=False),
        metavar="[FILE]",
        help="Write the constants to FILE (default rtrrl_data/normalization.json); "
        "without --measure/--from: rewrite the stored floors with the current ceilings.",
    ),
    click.option(
        "--task", "tasks", multiple=True, metavar="ID", help="Only these tasks (repeatable); default: every task."
    ),
    click.option(
        "--results",
        "results_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="With --measure: keep the runs here (finished ones are reused); default: a temporary directory.",
    ),
    click.option(
        "--from",
        "from_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Compute the floors from `rtrrl-bench run --suite normalization --out DIR` instead of measuring.",
    ),
    click.option(
        "--jobs", type=int, default=1, show_default=True, callback=positive, help="Worker processes for --measure."
    ),
    click.option(
        "--plugin",
        "plugins",
        multiple=True,
        metavar="MODULE",
        help="Import a module that registers your own tasks (repeatable), to measure their floors.",
    ),
    click.option(
        "--ceiling",
        "ceilings",
        multiple=True,
        metavar="ID=VALUE",
        help="The ceiling of your own task (the best return an episode can have), when its plugin registers none.",
    ),
]
normalization_options = _stack(NORMALIZATION)
list_argument = click.argument(
    "what", type=click.Choice(["all", "suites", "tasks", "agents", "presets"]), default="all"
)
schema_options = click.option(
    "--write", type=click.Path(dir_okay=False), default=None, help="Write the JSON Schema to this file."
)
