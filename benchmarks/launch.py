"""What `rtrrl-bench run` makes of its options before any work: the plan (seeds, override layers,
plugins), the executor the options ask for, and the dry run's projected hours.

Plain functions, so that each rule is testable without the CLI; every refusal is a ConfigError
whose message is the one line the user sees (the CLI exits 2 with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import ConfigError, load_config_file, merge_overrides, parse_set_options
from benchmarks.plan import Plan, import_plugins, make_plan


@dataclass(frozen=True)
class GridOptions:
    """The options of `rtrrl-bench run` that say what to plan: which runs, their settings, where
    (docs/cli.md). Empty tuples and None mean the suite's own."""

    suite: str = "quick"
    difficulty: str | None = None
    tasks: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    seeds: str | None = None
    max_steps: int | None = None
    eval_interval: int | None = None
    patience: int | None = None
    profile: str = "default"
    block_size: int | None = None
    out: str = "results"
    sets: tuple[str, ...] = ()
    config_file: str | None = None

    @property
    def budget(self) -> dict[str, int | None]:
        """The budget options, None where not given."""
        return {"max_env_steps": self.max_steps, "eval_interval": self.eval_interval, "patience": self.patience}


def plan_grid(grid: GridOptions, plugins: Sequence[str] = ()) -> Plan:
    """Import the plugins, then plan `grid` (writes nothing). The checks run in the order a user
    fixes them: plugins, the override layers, seeds, then names and values (`make_plan`)."""
    import_plugins(plugins)
    layers = overrides(grid.config_file, grid.budget, grid.sets)
    seeds = parse_seeds(grid.seeds)
    level = grid.difficulty.lower() if grid.difficulty else None
    tasks, agents = grid.tasks or None, grid.agents or None
    return make_plan(
        Path(grid.out), grid.suite, tasks, agents, seeds, layers, grid.block_size, level, grid.profile, grid.presets
    )


def parse_seeds(text: str | None) -> list[int] | None:
    """`3` -> 0,1,2 (a count); `0-4` -> 0..4; `1,4,7` -> those seeds; None: the suite's."""
    if text is None:
        return None
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        elif "-" in text.strip()[1:]:
            lo, hi = text.split("-", 1)
            seeds = list(range(int(lo), int(hi) + 1))
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(n))
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected a count (3), a range (0-4) or a list (1,4,7)") from None
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"--seeds {text!r}: seeds must be non-negative and at least one")
    return seeds


def overrides(config_file: str | None, budget: dict[str, int | None], sets: Sequence[str]) -> dict[str, Any]:
    """The override layers, later ones winning: the config file, then the budget options that were
    given (`--max-steps`, ...), then `--set`."""
    given = {k: v for k, v in budget.items() if v is not None}
    layers = [load_config_file(config_file)] if config_file else []
    layers += [{"budget": given} if given else {}, parse_set_options(list(sets))]
    return merge_overrides(*layers)


def ray_executor(
    executor: str, jobs: int | None, ray: dict[str, Any], plugins: Sequence[str], cache_dir: str | None
) -> Any:
    """Check that the options fit the executor; for Ray, its executor (not yet connected), else None.
    `ray`: the `--executor ray` options, with `given` the ones the user set."""
    if executor == "local":
        if ray["given"]:
            raise ConfigError(f"{', '.join(ray['given'])} apply to --executor ray")
        return None
    if jobs is not None:
        raise ConfigError("--jobs applies to the local executor; on Ray each unit asks for --ray-cpus CPUs")
    from benchmarks.executors.ray_executor import RayExecutor

    return RayExecutor(
        address=ray["address"],
        plugins=plugins,
        cpus_per_unit=ray["ray_cpus"],
        gpus_per_unit=ray["ray_gpus"],
        max_retries=ray["max_retries"],
        exception_retries=ray["exception_retries"],
        compile_cache=cache_dir,
    )


def projection(plan: Any, out_dir: Path, speed_files: Sequence[str], jobs: int | None, on_ray: bool) -> Any:
    """`--dry-run`'s hours: the plan's units timed with the speeds measured on this device
    (`<out>/speeds.json` and `speed_files`)."""
    from benchmarks import calibration, provenance
    from benchmarks.executors.local import default_jobs

    try:
        measured = calibration.measurements(out_dir)
        for name in speed_files:
            if not Path(name).is_file():
                raise ConfigError(f"--speeds {name}: no such file")
            measured += calibration.read(Path(name))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"cannot read speeds: {e}") from None
    workers = 0 if on_ray else (jobs or default_jobs(len(plan.units)))  # a Ray cluster's size is its own
    device = provenance.static_provenance()["device"]
    return calibration.project(plan.units, sorted(set(measured), key=repr), device, workers)
