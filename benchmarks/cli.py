"""`rtrrl-bench`: run grids, list what exists, build reports.

User errors (unknown names, bad numbers, unwritable paths, bad config files) print one
line and exit 2 before anything is written; a grid whose runs failed exits 1.
"""

from __future__ import annotations

import os

# One XLA CPU thread per process: jax 0.10 deadlocks when as many vmapped LAPACK calls
# (QR in orthogonal inits, cholesky, ...) wait on XLA's CPU pool as it has threads, and
# one thread costs nothing measurable for these small programs (it also steadies them).
# Must be set before jax starts; export NPROC to override.
os.environ.setdefault("NPROC", "1")

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

EXIT_USER_ERROR = 2
DEFAULT_CACHE = "~/.cache/rtrrl-bench/jax"
EXIT_RUNS_FAILED = 1
EXIT_STORAGE = 3


class UserError(click.ClickException):
    exit_code = EXIT_USER_ERROR


class StorageFailure(click.ClickException):
    """The OS refused a write mid-way (disk full, permissions, read-only, a path that became a file)."""

    exit_code = EXIT_STORAGE


def parse_seeds(text: str | None) -> list[int] | None:
    """`3` -> 0,1,2 (a count); `0-4` -> 0..4; `1,4,7` -> those seeds."""
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
        raise UserError(f"--seeds {text!r}: expected a count (3), a range (0-4) or a list (1,4,7)") from None
    if not seeds or min(seeds) < 0:
        raise UserError(f"--seeds {text!r}: seeds must be non-negative and at least one")
    return seeds


def _positive(ctx: Any, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"must be a positive integer (got {value})")
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Benchmark RTRRL against PPO baselines on gymnax, popgym and brax tasks."""


def _command_line() -> str:
    """The command as typed, recorded in every result file's provenance."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=240)  # piped: do not squeeze tables into 80 columns


def _cache_dir(value: str) -> str | None:
    """`--compile-cache` (or $RTRRL_BENCH_COMPILE_CACHE): a directory, or 'none' for no cache. Not
    expanded here: Ray workers expand `~` on their own machines."""
    return None if value.lower() == "none" else value


def _enable_cache(value: str) -> None:
    from benchmarks import compile_cache

    try:
        directory = _cache_dir(value)
        compile_cache.enable(os.path.expanduser(directory) if directory else None)
    except OSError as e:
        raise UserError(f"cannot use compile cache {value}: {e.strerror or e}") from None


def _projection(plan: Any, out_dir: Path, speed_files: Sequence[str], jobs: int | None, on_ray: bool) -> Any:
    """`--dry-run`'s hours: the plan's units timed with the speeds measured on this device."""
    from benchmarks import calibration, provenance
    from benchmarks.executors.local import default_jobs

    try:
        measured = calibration.measurements(out_dir)
        for name in speed_files:
            if not Path(name).is_file():
                raise UserError(f"--speeds {name}: no such file")
            measured += calibration.read(Path(name))
    except ValueError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot read speeds: {e}") from None
    workers = 0 if on_ray else (jobs or default_jobs(len(plan.units)))  # a Ray cluster's size is its own
    device = provenance.static_provenance()["device"]
    return calibration.project(plan.units, sorted(set(measured), key=repr), device, workers)


RAY_OPTIONS = ("address", "ray_cpus", "ray_gpus", "max_retries", "exception_retries")


def ray_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The `--executor ray` options, handed to the command as one dict `ray` (with `given`: the
    options the user set, so that the local executor can refuse them)."""

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

    options = [
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
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _ray_executor(executor: str, jobs: int | None, ray: dict[str, Any], plugins: Sequence[str], cache: str) -> Any:
    """Check that the options fit the executor; for Ray, its executor (not yet connected)."""
    if executor == "local":
        if ray["given"]:
            raise UserError(f"{', '.join(ray['given'])} apply to --executor ray")
        return None
    if jobs is not None:
        raise UserError("--jobs applies to the local executor; on Ray each unit asks for --ray-cpus CPUs")
    from benchmarks.config import ConfigError
    from benchmarks.executors.ray_executor import RayExecutor

    try:
        return RayExecutor(
            ray["address"],
            plugins,
            ray["ray_cpus"],
            ray["ray_gpus"],
            ray["max_retries"],
            ray["exception_retries"],
            _cache_dir(cache),
        )
    except ConfigError as e:
        raise UserError(str(e)) from None


@cli.command()
@click.option("--suite", default="quick", show_default=True, help="Suite to run (see `rtrrl-bench list suites`).")
@click.option(
    "--difficulty",
    type=click.Choice(["easy", "medium", "hard", "all"], case_sensitive=False),
    default=None,
    help="Task list of a suite with difficulties (popgym; default: easy).",
)
@click.option("--task", "tasks", multiple=True, help="Run only these tasks (repeatable); default: the suite's.")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    help="Run only these agents (repeatable; NAME or NAME@PRESET); default: the suite's.",
)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    metavar="[AGENT=]NAME",
    help="Run a named preset (`rtrrl-bench list presets`) instead of the defaults: for every agent of the "
    "run that has it, or for AGENT only (repeatable). Runs are labelled AGENT@NAME.",
)
@click.option("--seeds", default=None, help="Seed count (3), range (0-4) or list (1,4,7); default: the suite's.")
@click.option("--max-steps", type=int, callback=_positive, help="Override budget.max_env_steps.")
@click.option(
    "--eval-interval", type=int, callback=_positive, help="Override budget.eval_interval (env steps per evaluation)."
)
@click.option("--patience", type=int, callback=_positive, help="Override budget.patience (evaluations).")
@click.option(
    "--profile",
    type=click.Choice(["default", "paper"]),
    default="default",
    show_default=True,
    help="Budgets: the suite's own per task, or the paper's (50M env steps, patience 20) everywhere.",
)
@click.option(
    "--block-size", type=int, callback=_positive, help="Seeds per vmapped block (default: all seeds of a pair)."
)
@click.option(
    "--out", default="results", show_default=True, type=click.Path(file_okay=False), help="Results directory."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SCOPE.FIELD=VALUE",
    help="Override a setting: <agent>.<field>, task.<field>, budget.<field>, eval.<field> (repeatable).",
)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML/JSON file of overrides (--set wins)."
)
@click.option(
    "--jobs",
    type=int,
    callback=_positive,
    help="Local executor: worker processes (default: one per CPU core, at most 8, on CPU; 1 on an accelerator).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where units compute: this machine, or a Ray cluster (pip install -e '.[ray]').",
)
@ray_options
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Import a module that registers extra agents or tasks (repeatable).",
)
@click.option(
    "--compile-cache",
    default=lambda: os.environ.get("RTRRL_BENCH_COMPILE_CACHE", DEFAULT_CACHE),
    show_default="$RTRRL_BENCH_COMPILE_CACHE or ~/.cache/rtrrl-bench/jax",
    help="Persistent XLA compilation cache directory shared by runs and workers; 'none' turns it off.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would run, with the hours it projects from measured speeds, and exit.",
)
@click.option(
    "--speeds",
    "speed_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="More measured speeds for --dry-run's projection, besides <out>/speeds.json "
    "(e.g. data/reference/speeds.json; repeatable).",
)
@click.option("--progress/--no-progress", default=None, help="Live progress bar (default: when a terminal).")
def run(
    suite: str,
    difficulty: str | None,
    tasks: Sequence[str],
    agents: Sequence[str],
    presets: Sequence[str],
    seeds: str | None,
    max_steps: int | None,
    eval_interval: int | None,
    patience: int | None,
    profile: str,
    block_size: int | None,
    out: str,
    sets: Sequence[str],
    config_file: str | None,
    jobs: int | None,
    executor: str,
    ray: dict[str, Any],
    plugins: Sequence[str],
    compile_cache: str,
    dry_run: bool,
    speed_files: Sequence[str],
    progress: bool | None,
) -> None:
    """Train a grid of agents x tasks x seeds and write one JSON file per run (resumable)."""
    from benchmarks.claims import Claims
    from benchmarks.config import ConfigError, load_config_file, merge_overrides, parse_set_options
    from benchmarks.plan import import_plugins, make_plan
    from benchmarks.progress import GridProgress
    from benchmarks.storage import StorageError, check_writable, write_plan

    out_dir = Path(out)
    ray_executor = _ray_executor(executor, jobs, ray, plugins, compile_cache)  # option errors first
    try:
        import_plugins(plugins)
        cli_budget = {
            k: v
            for k, v in {"max_env_steps": max_steps, "eval_interval": eval_interval, "patience": patience}.items()
            if v is not None
        }
        layers = [load_config_file(config_file)] if config_file else []
        layers += [{"budget": cli_budget} if cli_budget else {}, parse_set_options(list(sets))]
        plan = make_plan(
            out_dir,
            suite,
            tasks or None,
            agents or None,
            parse_seeds(seeds),
            merge_overrides(*layers),
            block_size,
            difficulty.lower() if difficulty else None,
            profile,
            presets,
        )
    except ConfigError as e:
        raise UserError(str(e)) from None
    if not dry_run:
        try:
            check_writable(out_dir)
        except OSError as e:
            raise UserError(f"cannot write results to {out_dir}: {e.strerror or e}") from None

    reporter = GridProgress(plan, enabled=progress)
    if dry_run:
        reporter.print_plan(True, _projection(plan, out_dir, speed_files, jobs, ray_executor is not None))
        for holder, n in Claims(out_dir).holders(plan.units).items():
            click.echo(f"{n} of these runs are being computed by another runner now ({holder})", err=True)
        return
    reporter.print_plan(False)
    command = _command_line()
    _enable_cache(compile_cache)
    if ray_executor is not None:
        runner = ray_executor
        if plan.units:
            try:
                runner.connect()  # before anything is written: an unreachable cluster is a user error
            except ConfigError as e:
                raise UserError(str(e)) from None
    else:
        from benchmarks.executors.local import LocalExecutor, default_jobs

        runner = LocalExecutor(jobs or default_jobs(len(plan.units)), plugins)
    claims = Claims(out_dir, command)
    try:
        try:  # before any work: a user error
            write_plan(out_dir, plan.suite, plan.runs, command)
            if not plan.units:
                return
            claims.__enter__()
        except StorageError as e:
            raise UserError(f"cannot write results to {e.path}: {e.reason}") from None
        if claims.warning:
            click.echo(f"rtrrl-bench: warning: {claims.warning}", err=True)
        for holder, n in claims.stale.items():
            click.echo(f"cleared {n} claims of a runner that is gone ({holder}); their runs are redone", err=True)
        try:
            with reporter:
                runner.execute(plan.units, out_dir, command, reporter, claims)
        except StorageError as e:
            raise StorageFailure(
                f"cannot write {e.path}: {e.reason}. Finished runs are saved; "
                "re-run the command to do the rest once the cause is fixed"
            ) from None
    finally:
        claims.__exit__(None, None, None)
        if executor == "ray":
            runner.close()
    if reporter.summary():
        sys.exit(EXIT_RUNS_FAILED)


@cli.command("list")
@click.argument("what", type=click.Choice(["all", "suites", "tasks", "agents", "presets"]), default="all")
def list_(what: str) -> None:
    """Show suites, tasks, agents with their hyperparameters and defaults, and the agents' presets."""
    from rich.table import Table

    import agents as agent_registry
    from benchmarks.suites import SUITES
    from benchmarks.tasks import TASKS

    console = _console()
    if what in ("all", "suites"):
        t = Table(title="suites")
        for c in ("suite", "tasks", "agents", "seeds", "max steps", "eval every", "patience", "description"):
            t.add_column(c)
        for s in SUITES.values():
            b = s.budget
            steps = f"{b.max_env_steps:,}"
            if s.task_budgets:  # per-task budgets: their range
                caps = [s.budget_for(t).max_env_steps for t in s.tasks]
                steps = f"{min(caps):,}-{max(caps):,}"
            t.add_row(
                s.name,
                str(len(s.tasks)),
                ", ".join(s.agents),
                str(s.seeds),
                steps,
                f"{b.eval_interval:,}",
                str(b.patience),
                s.description,
            )
        console.print(t)
    if what in ("all", "tasks"):
        t = Table(title="tasks")
        for c in (
            "task",
            "package",
            "env id",
            "params",
            "obs kept",
            "obs dim",
            "actions",
            "max ep len",
            "paper",
            "description",
        ):
            t.add_column(c)
        from benchmarks.envs import make_env

        for task in TASKS.values():
            params = ", ".join(f"{k}={v}" for k, v in (*task.env_kwargs, *task.env_params))
            try:
                spec = make_env(task).spec
                obs_dim, ep_len = str(spec.obs_dim), str(spec.max_episode_length)
                actions = (
                    f"{spec.num_actions} discrete"
                    if spec.action_kind == "discrete"
                    else f"{spec.action_dim}-d box [{min(spec.action_low):g}, {max(spec.action_high):g}]"
                )
            except Exception as e:  # a package without a backend here: still list the task
                obs_dim, actions, ep_len = "?", f"unavailable ({type(e).__name__})", str(task.max_episode_length)
            t.add_row(
                task.id,
                task.package,
                task.env_id,
                params,
                str(task.obs_mask or "all"),
                obs_dim,
                actions,
                ep_len,
                ", ".join(task.paper_rows),
                task.description,
            )
        console.print(t)
    if what in ("all", "agents"):
        for name in agent_registry.AGENTS:
            source = agent_registry.config_source(name)
            t = Table(
                title=f"agent {name}", caption=f"defaults ({source.kind}): {source.summary}", caption_justify="left"
            )
            for c in ("hyperparameter", "default", "type"):
                t.add_column(c)
            for field, default, typ in agent_registry.config_fields(name):
                t.add_row(field, repr(default), typ)
            console.print(t)
    if what in ("all", "presets"):
        t = Table(title="presets (--agent NAME@PRESET or --preset PRESET)")
        for c in ("agent", "preset", "description", "source", "differs from the defaults"):
            t.add_column(c)
        for name, presets in agent_registry.PRESETS.items():
            base = dict((k, v) for k, v, _ in agent_registry.flat_fields(agent_registry.default_config(name)))
            for p in presets.values():
                values = agent_registry.flat_fields(agent_registry.preset_config(name, p.name))
                diff = ", ".join(f"{k}={v!r}" for k, v, _ in values if base[k] != v)
                t.add_row(name, p.name, p.description, f"{p.source.kind}: {p.source.summary}", diff or "(none)")
        console.print(t)


@cli.command()
@click.option("--results", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", default=None, help="Report directory (default: <results>/report).")
@click.option(
    "--reps",
    type=int,
    default=50_000,
    show_default=True,
    callback=_positive,
    help="Bootstrap resamples for the aggregate metrics.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every resampler and permutation test.")
@click.option(
    "--screenshot/--no-screenshot",
    default=True,
    show_default=True,
    help="Render the leaderboard in headless Chromium to screenshot.png (when installed).",
)
@click.option(
    "--constants",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Normalization constants for your own tasks (`rtrrl-bench normalization --measure --task ID "
    "--plugin MODULE --write FILE`), added to the package's.",
)
@click.option(
    "--unranked",
    multiple=True,
    metavar="AGENT",
    help="Show AGENT only at its own budget: left out of every ranking and of the common budget "
    "(e.g. a run capped below the others for speed); the report says so (repeatable).",
)
@click.option(
    "--headline-into",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Also write the report's headline into FILE (e.g. your README), between the lines "
    "`<!-- rtrrl-bench headline: begin -->` and `<!-- rtrrl-bench headline: end -->`.",
)
def report(
    results: str,
    out: str | None,
    reps: int,
    seed: int,
    screenshot: bool,
    constants: str | None,
    unranked: tuple[str, ...],
    headline_into: str | None,
) -> None:
    """Validate every result file and build the report (markdown, CSV/LaTeX, figures, HTML, summary.json).

    Every ranking compares agents at a common env-step budget per task (docs/reports.md)."""
    from reports import headline
    from reports.build import Options, ReportWriteError, build_report
    from reports.load import ConstantsError, UnreadableResults

    res = Path(results)
    if not res.is_dir():
        raise UserError(f"no results directory {res}")
    target = Path(headline_into) if headline_into else None
    if target is not None:  # checked before the build, which takes a while
        try:
            headline.embedded(target.read_text())
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read {target}: {getattr(e, 'strerror', None) or e}") from None
        except ValueError as e:
            raise UserError(f"{target} {e}") from None
    opts = Options(
        reps=reps,
        seed=seed,
        screenshot=screenshot,
        constants=Path(constants) if constants else None,
        unranked=tuple(unranked),
    )
    try:
        built = build_report(res, Path(out) if out else res / "report", opts)
    except ConstantsError as e:
        raise UserError(str(e)) from None
    except UnreadableResults as e:
        raise UserError(
            f"cannot read {e.path}: {e.reason}; no report was built (any previous one is unchanged)"
        ) from None
    except ReportWriteError as e:
        kept = "any previous report is unchanged"
        if not e.started:
            raise UserError(f"cannot write the report to {e.path}: {e.reason}") from None
        raise StorageFailure(f"cannot write the report: {e.path}: {e.reason}; {kept}") from None
    click.echo(f"report: {built.readme}")
    click.echo(f"leaderboard: {built.html}")
    if target is not None:
        from benchmarks.storage import atomic_write_text

        try:
            text = (built.readme.parent / "headline.md").read_text()
            atomic_write_text(target, headline.embed(target.read_text(), text))
        except OSError as e:
            raise StorageFailure(
                f"cannot write the headline into {target}: {e.strerror or e}; it is unchanged"
            ) from None
        except ValueError as e:  # the file changed during the build
            raise UserError(f"{target} {e}; the report is built, the file unchanged") from None
        click.echo(f"headline: {target}")
    if built.rejected:
        click.echo(f"{built.rejected} files rejected (listed in the report)", err=True)
    if built.screenshot_note and screenshot:
        click.echo(f"screenshot skipped: {built.screenshot_note}", err=True)


@cli.command()
@click.option(
    "--measure",
    is_flag=True,
    help="Re-measure the floors with the runner (random agent, the floor protocol) and write the constants.",
)
@click.option(
    "--write",
    "write_to",
    is_flag=False,
    flag_value="",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="[FILE]",
    help="Write the constants to FILE (default rtrrl_data/normalization.json); "
    "without --measure/--from: rewrite the stored floors with the current ceilings.",
)
@click.option(
    "--task", "tasks", multiple=True, metavar="ID", help="Only these tasks (repeatable); default: every task."
)
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="With --measure: keep the runs here (finished ones are reused); default: a temporary directory.",
)
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Compute the floors from `rtrrl-bench run --suite normalization --out DIR` instead of measuring.",
)
@click.option(
    "--jobs", type=int, default=1, show_default=True, callback=_positive, help="Worker processes for --measure."
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Import a module that registers your own tasks (repeatable), to measure their floors.",
)
@click.option(
    "--ceiling",
    "ceilings",
    multiple=True,
    metavar="ID=VALUE",
    help="The ceiling of your own task (the best return an episode can have), when its plugin registers none.",
)
def normalization(
    measure: bool,
    write_to: str | None,
    tasks: Sequence[str],
    results_dir: str | None,
    from_dir: str | None,
    jobs: int,
    plugins: Sequence[str],
    ceilings: Sequence[str],
) -> None:
    """Show the normalization constants (floor = random agent, ceiling), or re-measure the floors.

    For your own tasks: `--measure --task ID --plugin MODULE --write FILE`, then
    `rtrrl-bench report --constants FILE`; the package's table is never touched."""
    from rich.markup import escape
    from rich.table import Table

    from benchmarks import floors as floors_mod
    from benchmarks import normalization as norm
    from benchmarks.config import ConfigError
    from benchmarks.plan import import_plugins
    from benchmarks.storage import StorageError
    from benchmarks.tasks import TASKS, resolve_task_id

    try:
        import_plugins(plugins)
    except ConfigError as e:
        raise UserError(str(e)) from None
    for text in ceilings:
        tid, sep, value = text.partition("=")
        try:
            number = float(value) if sep else None
        except ValueError:
            number = None
        if number is None:
            raise UserError(f"--ceiling {text!r}: expected ID=VALUE with a number")
        try:
            norm.register_ceiling(resolve_task_id(tid), number, "given on the command line (--ceiling)")
        except ValueError as e:
            raise UserError(str(e)) from None
    if measure and from_dir:
        raise UserError("--measure and --from exclude each other (--results DIR keeps a measurement's runs)")
    if results_dir and not measure:
        raise UserError("--results needs --measure")
    task_ids = sorted({resolve_task_id(t) for t in tasks})
    unknown = [t for t in task_ids if t not in TASKS]
    if unknown:
        raise UserError(f"unknown task {unknown[0]!r}; see `rtrrl-bench list tasks`")
    target = None if write_to is None else Path(write_to) if write_to else norm.PATH
    if target is None and measure:
        target = norm.PATH
    partial = bool(task_ids) and set(task_ids) != set(TASKS)
    if target is not None and partial and target.resolve() == norm.PATH.resolve():
        raise UserError(f"{norm.PATH} must hold every task measured by one command: with --task, pass --write FILE")
    if target is not None and not target.parent.is_dir():
        raise UserError(f"cannot write {target}: no directory {target.parent}")
    if from_dir and not Path(from_dir).is_dir():
        raise UserError(f"no results directory {from_dir}")
    if target is not None:  # every ceiling known before minutes of measuring
        for tid in task_ids or sorted(TASKS):
            try:
                norm.ceiling(TASKS[tid])
            except KeyError as e:
                raise UserError(str(e).strip("'\"")) from None

    try:
        if measure or from_dir:
            command = _command_line()
            if measure:
                _enable_cache(os.environ.get("RTRRL_BENCH_COMPILE_CACHE", DEFAULT_CACHE))
                floors = floors_mod.measure_floors(
                    task_ids or None,
                    results_dir=Path(results_dir) if results_dir else None,
                    jobs=jobs,
                    command=command,
                    verbose=True,
                    plugins=plugins,
                )
            else:
                floors = floors_mod.floors_from_results(Path(from_dir), task_ids or None)
            doc = norm.constants(floors, floors_mod.protocol(), task_ids or None)
        else:
            if not norm.PATH.is_file():
                raise UserError(f"no constants file {norm.PATH}; measure with `rtrrl-bench normalization --measure`")
            stored = norm.load()
            if target is not None:  # re-render the stored floors with this version's ceilings
                doc = norm.constants(stored["tasks"], stored["floor_protocol"], task_ids or None)
            else:
                doc = {**stored, "tasks": {t: c for t, c in stored["tasks"].items() if not task_ids or t in task_ids}}
    except (ValueError, KeyError) as e:  # FloorError, a ceiling not above its floor, a task without a ceiling
        raise UserError(str(e).strip("'\"")) from None
    except StorageError as e:
        raise StorageFailure(f"cannot write {e.path}: {e.reason}") from None

    console = _console()
    p = doc["floor_protocol"]
    t = Table(
        title=f"normalization constants v{doc['version']} (floor: {p['agent']}, seeds {p['seeds']}, "
        f"{p['budget']['max_env_steps']:,} env steps; measured {p['measured_utc']})"
    )
    for c in ("task", "floor", "± std", "floor (final)", "ceiling", "ceiling source"):
        t.add_column(c)
    for tid, c in doc["tasks"].items():
        t.add_row(
            escape(tid),
            f"{c['floor']:.4g}",
            f"{c['floor_std']:.2g}",
            f"{c['floor_final']:.4g}",
            f"{c['ceiling']:.4g}",
            escape(c["ceiling_source"]),
        )
    console.print(t)
    if target is not None:
        try:
            norm.write(doc, target)
        except OSError as e:
            raise UserError(f"cannot write {target}: {e.strerror or e}") from None
        click.echo(f"wrote {target}")


@cli.command()
@click.option("--write", type=click.Path(dir_okay=False), default=None, help="Write the JSON Schema to this file.")
def schema(write: str | None) -> None:
    """Print (or write) the JSON Schema of result files."""
    from benchmarks.schema import json_schema_text

    text = json_schema_text()
    if write:
        Path(write).write_text(text)
    else:
        click.echo(text, nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click in non-standalone mode so every user error is one line, exit 2."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="rtrrl-bench", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(EXIT_USER_ERROR)
    except click.ClickException as e:
        click.echo(f"rtrrl-bench: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code if isinstance(e, (UserError, StorageFailure)) else EXIT_USER_ERROR)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("rtrrl-bench: interrupted; finished runs are saved, re-run the command to resume", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
