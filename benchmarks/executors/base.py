"""What every executor shares: the protocols between an executor and its caller, claiming a unit's
runs before it computes, and the one way results reach disk (the calling process alone writes
`results/`, as each unit finishes, and logs the unit's speed in `speeds.json` for `--dry-run`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from benchmarks import calibration
from benchmarks.claims import Claim, Claims
from benchmarks.plan import Unit
from benchmarks.program import failure_results
from benchmarks.schema import RunResult
from benchmarks.storage import StorageError, move_aside, resume_state, write_result

__all__ = ["Executor", "RunListener", "claim_unit", "failure_results", "finish_unit", "joined", "write_unit_results"]


def write_unit_results(out_dir: Path, unit: Unit, results: list[RunResult]) -> None:
    """Write each seed's file atomically; an existing file is moved aside first, never overwritten.
    An OS error stops here as a `StorageError` naming the file: the files already written stay."""
    for r in results:
        path = unit.path(out_dir, r.seed)
        try:
            if path.exists():
                state, _ = resume_state(path, r.config_hash)
                move_aside(path, state)  # stale | corrupt | failed (| done, if a finished run is redone)
            write_result(path, r)
        except OSError as e:
            raise StorageError(e, path) from None


class RunListener(Protocol):
    """What an executor tells its caller (the progress display) as a grid runs. Calls come from
    the driver's thread only; a unit may start more than once (a lost worker reran it)."""

    def on_claim(self, unit: Unit, claim: Claim) -> None:
        """Before `unit` computes: the part of it this runner holds (`claim.unit`, which the other
        calls then name) and the runs left to other runners."""

    def on_start(self, unit: Unit) -> None: ...

    def on_epoch(self, unit: Unit, steps: int, active_left: int) -> None:
        """`steps`: env steps the block did this epoch; `active_left`: seeds still training."""

    def on_result(self, unit: Unit, results: list[RunResult]) -> None: ...


def claim_unit(claims: Claims, unit: Unit, listener: RunListener | None) -> Unit | None:
    """The runs of `unit` this runner may compute now (None: none), told to the listener."""
    claim = claims.claim(unit)
    if listener is not None:
        listener.on_claim(unit, claim)
    return claim.unit


def finish_unit(
    out_dir: Path, claims: Claims, unit: Unit, results: list[RunResult], listener: RunListener | None
) -> None:
    write_unit_results(out_dir, unit, results)
    claims.release(unit, written=True)
    calibration.record(out_dir, results)  # after the results: a speed log never stands in for one
    if listener is not None:
        listener.on_result(unit, results)


@contextmanager
def joined(out_dir: Path, command: str, claims: Claims | None) -> Iterator[Claims]:
    """The caller's membership of `out_dir`, or one for this call alone."""
    if claims is not None:
        yield claims
        return
    with Claims(out_dir, command) as own:
        yield own


class Executor(Protocol):
    """Runs units somewhere (`local`, `ray_executor`). Wherever they compute, the calling process
    alone claims their runs and writes `results/`, with `claim_unit` and `finish_unit`. Without
    `claims`, the executor joins the results directory itself for the duration of the call."""

    def execute(
        self,
        units: Sequence[Unit],
        out_dir: Path,
        command: str,
        listener: RunListener | None = None,
        claims: Claims | None = None,
    ) -> None: ...
