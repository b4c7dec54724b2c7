"""How long a plan will take, from how fast its (agent, task) pairs ran before.

A grid at the paper's protocol is hundreds of hours at most and a fraction of that in practice
(most seeds stop early), so choosing one needs numbers, not guesses. Every unit the runner
finishes leaves one measurement in `<out>/speeds.json` (`record`): its device, block size, how
many env steps its longest seed ran, how long the block took, and what share of its budget the
block used. `project` turns a plan into hours with them: *at most* (every block runs its whole
budget) and *expected* (blocks stop as early as the pair's measured blocks did), as one worker
process each (`core_hours`) and as wall time on `jobs` workers, scheduled the way the local
executor hands units out (in plan order, to the first free worker).

Speeds are per (task, agent label, device): a measurement from another device is never used. A
pair never measured borrows the median over the tasks its agent was measured on, and says so.
A block size other than the measured one is scaled linearly (vmapped seeds share the work, so
this overestimates the larger block). Speeds include whatever shared the machine when they were
measured (a second worker on the other core, for instance).
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.plan import Unit
from benchmarks.schema import FINISHED_STATUSES, RunResult
from benchmarks.storage import StorageError, atomic_write_text, read_result

FILE_NAME = "speeds.json"
VERSION = 1


@dataclass(frozen=True)
class Measurement:
    """One finished block of seeds of one (task, agent) on one device."""

    task: str
    agent: str
    device: str
    block_size: int
    seed_steps: int
    """Env steps of the block's longest-running seed: the block computes until its last seed stops."""
    run_s: float
    """Seconds the block ran after compiling, evaluations included."""
    budget_used: float
    """`seed_steps` / the env steps one seed's budget allows."""

    @property
    def seconds_per_seed_step(self) -> float:
        return self.run_s / self.seed_steps


def measure(results: Sequence[RunResult]) -> Measurement | None:
    """What one finished block of seeds says about its pair's speed; None when none of its seeds
    finished with timing."""
    done = [r for r in results if r.status in FINISHED_STATUSES and r.timing is not None and r.env_steps > 0]
    if not done:
        return None
    first = done[0]
    budget = int(first.config.get("budget", {}).get("max_env_steps", 0))
    seed_steps = max(r.env_steps for r in done)
    return Measurement(
        task=first.task,
        agent=first.agent,
        device=first.provenance.device,
        block_size=first.timing.block_size,
        seed_steps=seed_steps,
        run_s=first.timing.run_s,
        budget_used=min(1.0, seed_steps / budget) if budget > 0 else 1.0,
    )


def _key(results: Sequence[RunResult]) -> str:
    r = results[0]
    seeds = r.timing.block_seeds if r.timing is not None else sorted(x.seed for x in results)
    return f"{r.suite}/{r.task}/{r.agent}/{','.join(map(str, seeds))}@{r.provenance.started_utc}"


def scan(out_dir: Path) -> dict[str, Measurement]:
    """Measurements of the blocks whose result files are in `out_dir` (unreadable files are skipped:
    the runner redoes them, and they say nothing about speed)."""
    blocks: dict[str, list[RunResult]] = {}
    for path in sorted(Path(out_dir).glob("*/*/*/seed_*.json")):
        try:
            r = read_result(path)
        except ValueError:
            continue
        if r.timing is not None:
            seeds = ",".join(map(str, r.timing.block_seeds))
            blocks.setdefault(f"{r.suite}/{r.task}/{r.agent}/{seeds}/{r.timing.run_s!r}", []).append(r)
    return {_key(rs): m for rs in blocks.values() if (m := measure(rs)) is not None}


def read(path: Path) -> list[Measurement]:
    """The measurements in a speeds file; [] when it does not exist. A file that is not one raises
    ValueError naming it."""
    try:
        return list(_read_blocks(path).values())
    except FileNotFoundError:
        return []


def _read_blocks(path: Path) -> dict[str, Measurement]:
    try:
        data = json.loads(path.read_text())
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        return {k: Measurement(**entry) for k, entry in data["blocks"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a speeds file ({e})") from None


def measurements(out_dir: Path) -> list[Measurement]:
    """What `--dry-run` projects from: `<out>/speeds.json` together with the result files themselves
    (results written before speeds were logged, or copied in from another directory). An
    unreadable log is left out: the result files say the same."""
    blocks = scan(Path(out_dir))
    try:
        blocks.update(_read_blocks(Path(out_dir) / FILE_NAME))
    except (FileNotFoundError, ValueError):
        pass
    return list(blocks.values())


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Two runners sharing `out_dir` must not lose each other's measurements (read, add, replace)."""
    state = out_dir / ".rtrrl-bench"
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / "speeds.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # a filesystem without locks: claims.py has already said so
        yield
    finally:
        os.close(fd)


def record(out_dir: Path, results: Sequence[RunResult]) -> None:
    """Add a finished block's measurement to `<out>/speeds.json`. The first record in a directory
    that already holds results starts from them; an unreadable speeds file is rebuilt the same way
    (no result depends on it)."""
    m = measure(results)
    if m is None:
        return
    out_dir = Path(out_dir)
    path = out_dir / FILE_NAME
    try:
        with _locked(out_dir):
            try:
                blocks = _read_blocks(path)
            except (FileNotFoundError, ValueError):
                blocks = scan(out_dir)
            blocks[_key(results)] = m
            write(path, blocks)
    except OSError as e:
        raise StorageError(e, path) from None


def write(path: Path, blocks: dict[str, Measurement]) -> None:
    """A speeds file (atomically): `record`'s, or one made with `scan` for results logged before."""
    text = json.dumps({"version": VERSION, "blocks": {k: asdict(v) for k, v in sorted(blocks.items())}}, indent=1)
    atomic_write_text(path, text + "\n")


@dataclass(frozen=True)
class UnitProjection:
    unit: Unit
    at_most_s: float | None
    """Seconds if every seed runs its whole budget; None without any measurement of the agent."""
    expected_s: float | None
    source: str
    """`measured` (this pair), `borrowed` (the agent's median over other tasks) or `unknown`."""


@dataclass(frozen=True)
class Projection:
    units: list[UnitProjection]
    jobs: int
    """Worker processes (0: unknown, as on a Ray cluster: no wall time then)."""
    device: str
    measurements: int
    """Blocks measured on `device` that the projection drew on."""

    def core_hours(self, expected: bool = False) -> float:
        return sum(_secs(u, expected) for u in self.units) / 3600

    def wall_hours(self, expected: bool = False) -> float:
        """Plan order, each unit to the first free worker (what the local executor does)."""
        workers = [0.0] * max(1, self.jobs)
        for u in self.units:
            heapq.heapreplace(workers, workers[0] + _secs(u, expected))
        return max(workers) / 3600


def _secs(u: UnitProjection, expected: bool) -> float:
    value = u.expected_s if expected else u.at_most_s
    return value or 0.0


def project(units: Sequence[Unit], measurements: Sequence[Measurement], device: str, jobs: int) -> Projection:
    """Hours of `units` on `device` from `measurements` (see the module docstring)."""
    here = [m for m in measurements if m.device == device]
    by_pair: dict[tuple[str, str], list[Measurement]] = {}
    by_agent: dict[str, dict[str, list[Measurement]]] = {}
    for m in here:
        by_pair.setdefault((m.task, m.agent), []).append(m)
        by_agent.setdefault(m.agent, {}).setdefault(m.task, []).append(m)
    out = []
    for unit in units:
        budget = unit.steps_per_epoch * unit.num_epochs
        pair = by_pair.get((unit.task.id, unit.label))
        if pair:
            rate, used, source = _seconds_per_seed_step(pair, len(unit.seeds)), _used(pair), "measured"
        elif unit.label in by_agent:
            per_task = by_agent[unit.label].values()
            rate = statistics.median(_seconds_per_seed_step(ms, len(unit.seeds)) for ms in per_task)
            used, source = statistics.median(_used(ms) for ms in per_task), "borrowed"
        else:
            out.append(UnitProjection(unit, None, None, "unknown"))
            continue
        out.append(UnitProjection(unit, budget * rate, budget * rate * used, source))
    return Projection(out, jobs, device, len(here))


def _seconds_per_seed_step(ms: Sequence[Measurement], block_size: int) -> float:
    """Median over blocks, each scaled linearly to `block_size` seeds unless measured at that size."""
    same = [m.seconds_per_seed_step for m in ms if m.block_size == block_size]
    if same:
        return statistics.median(same)
    return statistics.median(m.seconds_per_seed_step * block_size / m.block_size for m in ms)


def _used(ms: Sequence[Measurement]) -> float:
    return statistics.mean(m.budget_used for m in ms)
