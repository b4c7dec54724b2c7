"""`rtrrl-bench`: run grids, list what exists, build reports.

Wiring only: each command hands its options (declared in `cli_options`) to the modules that
decide (`launch`, `floors`, `listing`, `reports.build`), prints, and maps errors to exit codes.
User errors (unknown names, bad numbers, unwritable paths, bad config files: a `ConfigError`
below the CLI) print one line and exit 2 before anything is written; a grid whose runs failed
exits 1; the OS refusing a write part-way exits 3; an interrupt exits 130.
"""

from __future__ import annotations

import os

# One XLA CPU thread per process: jax 0.10 deadlocks when as many vmapped LAPACK calls
# (QR in orthogonal inits, cholesky, ...) wait on XLA's CPU pool as it has threads, and
# one thread costs nothing measurable for these small programs (it also steadies them).
# Must be set before jax starts; export NPROC to override.
os.environ.setdefault("NPROC", "1")

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from benchmarks import cli_options as options

if TYPE_CHECKING:  # the CLI imports what a command needs when it runs: `--help` stays fast
    from benchmarks.claims import Claims
    from benchmarks.floors import ConstantsRequest
    from benchmarks.launch import GridOptions
    from benchmarks.plan import Plan
    from benchmarks.progress import GridProgress

EXIT_USER_ERROR = 2
EXIT_RUNS_FAILED = 1
EXIT_STORAGE = 3


class UserError(click.ClickException):
    exit_code = EXIT_USER_ERROR


class StorageFailure(click.ClickException):
    """The OS refused a write mid-way (disk full, permissions, read-only, a path that became a file)."""

    exit_code = EXIT_STORAGE


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


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """A ConfigError raised below the CLI (the project's user error) -> one line, exit 2."""
    from benchmarks.config import ConfigError

    try:
        yield
    except ConfigError as e:
        raise UserError(str(e)) from None


def _enable_cache(value: str) -> None:
    from benchmarks import compile_cache

    try:
        directory = _cache_dir(value)
        compile_cache.enable(os.path.expanduser(directory) if directory else None)
    except OSError as e:
        raise UserError(f"cannot use compile cache {value}: {e.strerror or e}") from None


@cli.command()
@options.run_options
def run(
    grid: GridOptions,
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
    from benchmarks import launch
    from benchmarks.progress import GridProgress

    out_dir = Path(grid.out)
    with _user_errors():  # the executor's option errors first
        ray_executor = launch.ray_executor(executor, jobs, ray, plugins, _cache_dir(compile_cache))
        plan = launch.plan_grid(grid, plugins)
    if not dry_run:
        _check_writable(out_dir)
    reporter = GridProgress(plan, enabled=progress)
    if dry_run:
        return _dry_run(plan, reporter, out_dir, speed_files, jobs, ray_executor is not None)
    reporter.print_plan(False)
    command = _command_line()
    _enable_cache(compile_cache)
    runner = _runner(ray_executor, plan, jobs, plugins)
    with contextlib.ExitStack() as stack:
        if ray_executor is not None:
            stack.callback(ray_executor.close)  # runs last: after the claims are given up
        claims = _join(stack, out_dir, plan, command)
        if claims is None:  # nothing to do
            return
        _execute(runner, plan, out_dir, command, reporter, claims)
    if reporter.summary():
        sys.exit(EXIT_RUNS_FAILED)


def _check_writable(out_dir: Path) -> None:
    from benchmarks.storage import check_writable

    try:
        check_writable(out_dir)
    except OSError as e:
        raise UserError(f"cannot write results to {out_dir}: {e.strerror or e}") from None


def _dry_run(
    plan: Plan, reporter: GridProgress, out_dir: Path, speed_files: Sequence[str], jobs: int | None, ray: bool
) -> None:
    """The plan with its projected hours, and the runs other live runners hold; nothing written."""
    from benchmarks import launch
    from benchmarks.claims import Claims

    with _user_errors():
        projection = launch.projection(plan, out_dir, speed_files, jobs, ray)
    reporter.print_plan(True, projection)
    for holder, n in Claims(out_dir).holders(plan.units).items():
        click.echo(f"{n} of these runs are being computed by another runner now ({holder})", err=True)


def _runner(ray_executor: Any, plan: Plan, jobs: int | None, plugins: Sequence[str]) -> Any:
    """The executor, ready: Ray connected before anything is written (an unreachable cluster is a user error)."""
    if ray_executor is None:
        from benchmarks.executors.local import LocalExecutor, default_jobs

        return LocalExecutor(jobs or default_jobs(len(plan.units)), plugins)
    if plan.units:
        with _user_errors():
            ray_executor.connect()
    return ray_executor


def _join(stack: contextlib.ExitStack, out_dir: Path, plan: Plan, command: str) -> Claims | None:
    """Record the plan and join the runners sharing `out_dir` (left when `stack` closes); None when
    nothing is left to do. A write refused here, before any work, is a user error."""
    from benchmarks.claims import Claims
    from benchmarks.storage import StorageError, write_plan

    try:
        write_plan(out_dir, plan.suite, plan.runs, command)
        if not plan.units:
            return None
        claims = stack.enter_context(Claims(out_dir, command))
    except StorageError as e:
        raise UserError(f"cannot write results to {e.path}: {e.reason}") from None
    if claims.warning:
        click.echo(f"rtrrl-bench: warning: {claims.warning}", err=True)
    for holder, n in claims.stale.items():
        click.echo(f"cleared {n} claims of a runner that is gone ({holder}); their runs are redone", err=True)
    return claims


def _execute(runner: Any, plan: Plan, out_dir: Path, command: str, reporter: GridProgress, claims: Claims) -> None:
    from benchmarks.storage import StorageError

    try:
        with reporter:
            runner.execute(plan.units, out_dir, command, reporter, claims)
    except StorageError as e:
        raise StorageFailure(
            f"cannot write {e.path}: {e.reason}. Finished runs are saved; "
            "re-run the command to do the rest once the cause is fixed"
        ) from None


@cli.command("list")
@options.list_argument
def list_(what: str) -> None:
    """Show suites, tasks, agents with their hyperparameters and defaults, and the agents' presets."""
    from benchmarks import listing

    console = _console()
    for table in listing.tables(what):
        console.print(table)


@cli.command()
@options.report_options
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
    from reports.build import Options

    res = Path(results)
    if not res.is_dir():
        raise UserError(f"no results directory {res}")
    target = Path(headline_into) if headline_into else None
    if target is not None:  # checked before the build, which takes a while
        _check_headline_target(target)
    constants_file = Path(constants) if constants else None
    opts = Options(reps=reps, seed=seed, screenshot=screenshot, constants=constants_file, unranked=tuple(unranked))
    built = _build_report(res, Path(out) if out else res / "report", opts)
    click.echo(f"report: {built.readme}")
    click.echo(f"leaderboard: {built.html}")
    if target is not None:
        _embed_headline(target, built.readme.parent / "headline.md")
        click.echo(f"headline: {target}")
    if built.rejected:
        click.echo(f"{built.rejected} files rejected (listed in the report)", err=True)
    if built.screenshot_note and screenshot:
        click.echo(f"screenshot skipped: {built.screenshot_note}", err=True)


def _check_headline_target(target: Path) -> None:
    from reports import headline

    try:
        headline.embedded(target.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {target}: {getattr(e, 'strerror', None) or e}") from None
    except ValueError as e:
        raise UserError(f"{target} {e}") from None


def _build_report(results: Path, out: Path, opts: Any) -> Any:
    from reports.build import ReportWriteError, build_report
    from reports.load import ConstantsError, UnreadableResults

    try:
        return build_report(results, out, opts)
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


def _embed_headline(target: Path, headline_md: Path) -> None:
    from benchmarks.storage import atomic_write_text
    from reports import headline

    try:
        atomic_write_text(target, headline.embed(target.read_text(), headline_md.read_text()))
    except OSError as e:
        raise StorageFailure(f"cannot write the headline into {target}: {e.strerror or e}; it is unchanged") from None
    except ValueError as e:  # the file changed during the build
        raise UserError(f"{target} {e}; the report is built, the file unchanged") from None


@cli.command()
@options.normalization_options
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
    from benchmarks import floors, listing
    from benchmarks import normalization as norm
    from benchmarks.plan import import_plugins

    with _user_errors():
        import_plugins(plugins)
        floors.register_ceilings(ceilings)
        request = floors.constants_request(
            measure=measure, from_dir=from_dir, write_to=write_to, tasks=tasks, results_dir=results_dir
        )
    if request.floors_from == "measure":
        _enable_cache(os.environ.get("RTRRL_BENCH_COMPILE_CACHE", options.DEFAULT_CACHE))
    doc = _constants(request, jobs, plugins)
    _console().print(listing.constants_table(doc))
    if request.target is not None:
        try:
            norm.write(doc, request.target)
        except OSError as e:
            raise UserError(f"cannot write {request.target}: {e.strerror or e}") from None
        click.echo(f"wrote {request.target}")


def _constants(request: ConstantsRequest, jobs: int, plugins: Sequence[str]) -> dict[str, Any]:
    from benchmarks import floors
    from benchmarks.config import ConfigError
    from benchmarks.storage import StorageError

    try:
        return floors.build_constants(request, command=_command_line(), jobs=jobs, plugins=plugins)
    except ConfigError as e:  # no stored table
        raise UserError(str(e)) from None
    except (ValueError, KeyError) as e:  # FloorError, a ceiling not above its floor, a task without a ceiling
        raise UserError(str(e).strip("'\"")) from None
    except StorageError as e:
        raise StorageFailure(f"cannot write {e.path}: {e.reason}") from None


@cli.command()
@options.schema_options
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
