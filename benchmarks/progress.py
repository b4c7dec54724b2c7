"""Progress display for a grid: env steps with steps/s and ETA, units done / running / failed,
plus one line per finished unit. It is the executors' `RunListener`, whichever executor runs.

The bar's total is the planned env steps still possible: when seeds stop early, their
unspent budget leaves the total, and when a lost worker's unit starts again, its whole budget
is ahead again; so the ETA stays honest.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from benchmarks.calibration import Projection, UnitProjection
from benchmarks.claims import Claim, Holder
from benchmarks.plan import Plan, Unit
from benchmarks.schema import RunResult


class _SpeedColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} steps/s" if speed else "- steps/s", style="cyan")


def _seed_range(seeds: tuple[int, ...]) -> str:
    if len(seeds) > 1 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


class GridProgress:
    def __init__(self, plan: Plan, enabled: bool | None = None):
        self.plan = plan
        self.console = Console(stderr=True, soft_wrap=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.units_done = 0
        self.units_failed = 0  # units with a failed run
        self.restarts = 0  # units started again after a lost worker or node
        self.statuses: Counter[str] = Counter()
        self._remaining: dict[int, int] = {}  # id(unit) -> env steps it may still run
        self._epochs_done: dict[int, int] = {}
        self._running: set[int] = set()
        self._progress: Progress | None = None
        self._task_id = None
        self.units_total = len(plan.units)
        self.held: Counter[Holder] = Counter()  # runs left to other live runners, by runner
        self.done_elsewhere = 0  # runs another runner finished after this plan was made

    # --- plan --------------------------------------------------------------------------------
    def print_plan(self, dry_run: bool, projection: Projection | None = None) -> None:
        p = self.plan
        for unit in p.units:
            self._remaining[id(unit)] = unit.planned_env_steps
        total = sum(self._remaining.values())
        self.console.print(
            f"{p.num_runs} runs to do in {len(p.units)} units ({total:,} env steps at most); "
            f"{len(p.skipped)} already done; {len(p.redo)} existing files to redo"
        )
        for path, why in p.redo:
            self.console.print(f"  redo {path} ({why})")
        if not dry_run:
            return
        names = [f"{u.suite}/{u.task.id}/{u.label} seeds {_seed_range(u.seeds)}" for u in p.units]
        width = max(map(len, names), default=0)
        estimates = projection.units if projection is not None else [None] * len(names)
        if projection is not None:
            self._say(f"  {'unit':<{width}}  {'at most':>9} {'expected':>9}")
        for name, estimate in zip(names, estimates, strict=True):
            self._say(f"  {name:<{width}}  {_hours(estimate)}".rstrip())
        if projection is not None and p.units:
            self._say(_projection_summary(projection))

    # --- live --------------------------------------------------------------------------------
    def __enter__(self) -> GridProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[units]}"),
                _SpeedColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task_id = self._progress.add_task(
                "training", total=sum(self._remaining.values()), units=self._units_text()
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def _units_text(self) -> str:
        text = f"units {self.units_done}/{self.units_total} · {len(self._running)} running"
        if self.units_failed:
            text += f" · {self.units_failed} failed"
        if self.restarts:
            text += f" · {self.restarts} restarted"
        return text

    def _grow_total(self, delta: int, advance: int = 0) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._task_id, advance=advance, total=task.total + delta, units=self._units_text())

    def on_claim(self, unit: Unit, claim: Claim) -> None:
        """The claimed part of `unit` replaces it; runs another runner holds or finished leave the total."""
        before = self._remaining.pop(id(unit), 0)
        after = 0
        if claim.unit is not None:
            after = self._remaining[id(claim.unit)] = claim.unit.planned_env_steps
        else:
            self.units_total -= 1
        self._grow_total(after - before)
        self.held.update(claim.held.values())
        self.done_elsewhere += len(claim.done)
        where = f"{unit.task.id} {unit.label}"
        for holder, seeds in _by_holder(claim.taken_over).items():
            self._say(f"{where} seeds {_seed_range(seeds)}: taking over from a runner that is gone ({holder})")
        for holder, seeds in _by_holder(claim.held).items():
            self._say(f"{where} seeds {_seed_range(seeds)}: left to the runner that holds them ({holder})")
        if claim.done:
            self._say(f"{where} seeds {_seed_range(tuple(claim.done))}: already written by another runner")

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def on_start(self, unit: Unit) -> None:
        key = id(unit)
        if key in self._running or self._epochs_done.get(key):  # started again: its work so far is lost
            self.restarts += 1  # (the bar keeps what it counted; the whole unit's steps are ahead again)
            before = self._remaining.get(key, 0)
            self._remaining[key] = unit.planned_env_steps
            self._grow_total(self._remaining[key] - before)
        self._running.add(key)
        self._epochs_done[key] = 0
        self._grow_total(0)

    def on_epoch(self, unit: Unit, steps: int, active_left: int) -> None:
        key = id(unit)
        steps_per_epoch, epochs = unit.steps_per_epoch, unit.num_epochs
        self._running.add(key)
        self._epochs_done[key] = done = self._epochs_done.get(key, 0) + 1
        before = self._remaining.get(key, unit.planned_env_steps)
        self._remaining[key] = active_left * steps_per_epoch * (epochs - done)
        self._grow_total(self._remaining[key] + steps - before, advance=steps)

    def on_result(self, unit: Unit, results: list[RunResult]) -> None:
        self.units_done += 1
        self._running.discard(id(unit))
        if any(r.status == "failed" for r in results):
            self.units_failed += 1
        self._grow_total(-self._remaining.pop(id(unit), 0))
        counts = Counter(r.status for r in results)
        self.statuses.update(counts)
        best = [r.best_score for r in results if r.best_score is not None]
        timing = results[0].timing
        speed = f", {timing.steps_per_s:,.0f} steps/s, compile {timing.compile_s:.1f} s" if timing else ""
        status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        best_txt = f", best {min(best):.4g}..{max(best):.4g}" if best else ""
        line = (
            f"[{self.units_done}/{self.units_total}] {unit.task.id} {unit.label} seeds "
            f"{_seed_range(unit.seeds)}: {status}{best_txt}{speed}"
        )
        self.console.print(line, markup=False, highlight=False)
        for r in results:
            if r.status == "failed":
                self.console.print(f"  seed {r.seed} failed: {r.message}", markup=False, highlight=False)

    def summary(self) -> int:
        """Print the grid's totals; return the number of failed runs."""
        text = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "nothing"
        if self.done_elsewhere:
            text += f"; {self.done_elsewhere} written by other runners meanwhile"
        self._say(f"done: {text}")
        for holder, n in sorted(self.held.items(), key=lambda kv: str(kv[0])):
            self._say(
                f"{n} runs were left to another runner ({holder}); "
                "if it does not finish them, re-running this command does"
            )
        return self.statuses.get("failed", 0)


def _fmt_hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.1f} h" if hours >= 0.1 else f"{seconds / 60:.0f} min"


def _hours(u: UnitProjection | None) -> str:
    if u is None:
        return ""
    if u.at_most_s is None:
        return "?"
    text = f"{_fmt_hours(u.at_most_s):>9} {_fmt_hours(u.expected_s or 0.0):>9}"
    return text + ("  (the agent's median speed)" if u.source == "borrowed" else "")


def _projection_summary(p: Projection) -> str:
    counts = Counter(u.source for u in p.units)
    if counts["unknown"] == len(p.units):
        return (
            f"projection: none of these agents has a measured speed on {p.device} "
            "(run a few units first, or pass --speeds FILE)"
        )
    lines = [f"projection on {p.device}, from {p.measurements} measured blocks:"]
    at_most, expected = "every seed runs its whole budget", "blocks stop as early as the measured ones did"
    for label, why, exp in (("at most ", at_most, False), ("expected", expected, True)):
        work = f"{p.core_hours(exp):,.1f} worker-hours"
        if p.jobs:
            workers = f"{p.jobs} worker{'s' if p.jobs > 1 else ''}"
            lines.append(f"  {label} {p.wall_hours(exp):,.1f} h on {workers} ({work}): {why}")
        else:
            lines.append(f"  {label} {work}: {why}")
    if counts["borrowed"]:
        lines.append(f"  {counts['borrowed']} unit(s) never measured use their agent's median speed on other tasks")
    if counts["unknown"]:
        lines.append(f"  {counts['unknown']} unit(s) marked ? (agent never measured here) are not counted")
    return "\n".join(lines)


def _by_holder(seeds: dict[int, Holder]) -> dict[Holder, tuple[int, ...]]:
    out: dict[Holder, list[int]] = {}
    for seed, holder in sorted(seeds.items()):
        out.setdefault(holder, []).append(seed)
    return {h: tuple(s) for h, s in out.items()}
