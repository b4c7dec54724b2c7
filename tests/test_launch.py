"""What `rtrrl-bench run` makes of its options, without the CLI: seeds, the override layers, the
executor the options ask for, the plan, and the refusals' order (the first one a user would fix)."""

from __future__ import annotations

import dataclasses

import click
import pytest

from benchmarks import cli_options, launch
from benchmarks.config import ConfigError
from benchmarks.suites import SUITES

NO_RAY = {"address": None, "ray_cpus": 1.0, "ray_gpus": None, "max_retries": 3, "exception_retries": 1, "given": []}


@pytest.mark.parametrize(
    "text, seeds",
    [(None, None), ("3", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("4-4", [4]), ("1,4,7", [1, 4, 7]), ("4,", [4])],
)
def test_seeds_are_a_count_a_range_or_a_list(text, seeds):
    assert launch.parse_seeds(text) == seeds


@pytest.mark.parametrize(
    "text, message",
    [
        ("two", "--seeds 'two': expected a count (3), a range (0-4) or a list (1,4,7)"),
        ("0", "--seeds '0': expected a count"),
        ("-1", "--seeds '-1': expected a count"),
        ("3-1", "--seeds '3-1': seeds must be non-negative and at least one"),
        (",", "--seeds ',': seeds must be non-negative and at least one"),
        ("1,-2", "--seeds '1,-2': seeds must be non-negative"),
    ],
)
def test_bad_seeds_are_refused_by_the_option(text, message):
    with pytest.raises(ConfigError) as e:
        launch.parse_seeds(text)
    assert str(e.value).startswith(message)


def test_override_layers_file_then_budget_options_then_set(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[budget]\nmax_env_steps = 4000\npatience = 7\n[agent.random]\nnum_envs = 3\nunroll = 2\n")
    budget = {"max_env_steps": 8000, "eval_interval": None, "patience": None}
    got = launch.overrides(str(config), budget, ["random.num_envs=5"])
    assert got["budget"] == {"max_env_steps": 8000, "patience": 7}, "a given option wins over the file; None: not given"
    assert got["random"] == {"num_envs": 5, "unroll": 2}, "--set wins over the file, field by field"
    assert launch.overrides(None, {"max_env_steps": None}, []) == launch.overrides(None, {}, [])


def test_ray_options_belong_to_the_ray_executor():
    assert launch.ray_executor("local", 4, NO_RAY, (), None) is None
    with pytest.raises(ConfigError, match="^--ray-cpus, --max-retries apply to --executor ray$"):
        launch.ray_executor("local", None, {**NO_RAY, "given": ["--ray-cpus", "--max-retries"]}, (), None)
    with pytest.raises(ConfigError, match="^--jobs applies to the local executor"):
        launch.ray_executor("ray", 2, NO_RAY, (), None)
    ray = {"address": "auto", "ray_cpus": 2.0, "ray_gpus": 0.5, "max_retries": 5, "exception_retries": 2, "given": []}
    e = launch.ray_executor("ray", None, ray, ("mine",), "/cache")
    assert (e.address, e.cpus_per_unit, e.gpus_per_unit, e.max_retries, e.exception_retries) == ("auto", 2.0, 0.5, 5, 2)
    assert (e.plugins, e.compile_cache) == (("mine",), "/cache")
    with pytest.raises(
        ConfigError, match="CPUs per unit must be positive"
    ):  # the executor's own checks, as user errors
        launch.ray_executor("ray", None, {**ray, "ray_cpus": 0.0}, (), None)


def test_a_grid_is_planned_with_its_options(tmp_path):
    grid = launch.GridOptions(
        suite="smoke", tasks=("MemoryChain-4",), seeds="1", max_steps=4000, eval_interval=1000, out=str(tmp_path)
    )
    plan = launch.plan_grid(grid, ())
    assert [(u.task.id, u.agent, u.seeds) for u in plan.units] == [("MemoryChain-4", "random", (0,))]
    assert (plan.units[0].budget.max_env_steps, plan.units[0].budget.eval_interval) == (4000, 1000)
    assert plan.units[0].budget.patience == SUITES["smoke"].budget.patience
    assert not any(tmp_path.iterdir()), "planning writes nothing"


@pytest.mark.parametrize(
    "grid, plugins, message",
    [
        (launch.GridOptions(suite="nope", seeds="two"), ("no_such_module",), "cannot import plugin 'no_such_module'"),
        (launch.GridOptions(suite="nope", seeds="two", sets=("random.num_envs",)), (), "expected SCOPE.FIELD=VALUE"),
        (launch.GridOptions(suite="nope", seeds="two"), (), "--seeds 'two'"),
        (launch.GridOptions(suite="nope"), (), "unknown suite 'nope'"),
    ],
)
def test_the_first_refusal_is_the_first_thing_to_fix(tmp_path, grid, plugins, message):
    with pytest.raises(ConfigError, match=message):
        launch.plan_grid(dataclasses.replace(grid, out=str(tmp_path)), plugins)


def test_the_run_command_hands_its_grid_options_over_as_one_record():
    """Every field of GridOptions is an option of `run`, and the bundle is exactly those."""
    command = click.command()(cli_options.grid_options(lambda grid: grid))
    assert [p.name for p in command.params] == [f.name for f in dataclasses.fields(launch.GridOptions)]
    ctx = command.make_context("run", ["--task", "A", "--task", "B", "--seeds", "3"])
    assert ctx.invoke(command.callback, **ctx.params) == launch.GridOptions(tasks=("A", "B"), seeds="3")
