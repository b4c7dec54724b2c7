"""What every executor shares: the protocols between an executor and its caller, and the one
way results reach disk (the calling process alone writes `results/`, as each unit finishes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from benchmarks.plan import Unit
from benchmarks.program import failure_results
from benchmarks.schema import RunResult
from benchmarks.storage import move_aside, resume_state, write_result

__all__ = ["Executor", "RunListener", "failure_results", "write_unit_results"]


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
    """Runs units somewhere (`local`, `ray_executor`). Wherever they compute, the calling process
    alone writes `results/`, with `write_unit_results`, as each unit finishes."""

    def execute(
        self, units: Sequence[Unit], out_dir: Path, command: str, listener: RunListener | None = None
    ) -> None: ...
