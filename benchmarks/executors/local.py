"""The local executor: units run in this process (`jobs=1`) or in worker processes.

Workers only compute; this process alone writes `results/`, as units finish. With one XLA CPU
thread per process (NPROC=1), a second worker is how the second core is used. A worker that
dies (OOM, kill) breaks the whole pool: the units in flight are rerun one at a time, so only
a unit that kills its worker when alone gets a failure record.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue as queue_module
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import jax

from benchmarks import compile_cache, provenance
from benchmarks.claims import Claims
from benchmarks.executors.base import RunListener, claim_unit, failure_results, finish_unit, joined
from benchmarks.plan import Unit, import_plugins
from benchmarks.program import run_unit
from benchmarks.schema import RunResult

WORKER_DIED = "worker process died (killed or out of memory)"


class LocalExecutor:
    def __init__(self, jobs: int = 1, plugins: Sequence[str] = ()):
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.plugins = tuple(plugins)  # modules that register agents/tasks, imported by each worker

    def execute(
        self,
        units: Sequence[Unit],
        out_dir: Path,
        command: str,
        listener: RunListener | None = None,
        claims: Claims | None = None,
    ) -> None:
        with joined(out_dir, command, claims) as held:

            def claim(unit: Unit) -> Unit | None:
                return claim_unit(held, unit, listener)

            def finish(unit: Unit, results: list[RunResult]) -> None:
                finish_unit(out_dir, held, unit, results, listener)

            if self.jobs == 1 or len(units) <= 1:
                for planned in units:
                    unit = claim(planned)
                    if unit is None:
                        continue
                    if listener is not None:
                        listener.on_start(unit)
                    finish(unit, run_unit(unit, command, listener.on_epoch if listener is not None else None))
                return
            jobs = min(self.jobs, len(units))
            _execute_in_workers(list(units), jobs, command, listener, claim, finish, self.plugins)


def default_jobs(num_units: int) -> int:
    """Worker processes when the user names none: one per CPU core (at most 8) on a CPU
    backend; one on an accelerator, where processes would compete for its memory."""
    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(os.cpu_count() or 1, 8, num_units))


_progress_queue: Any = None  # set in each worker by `_worker_init`


def _die_with_parent(parent: int) -> None:
    """Linux: end this worker when the runner dies, even by `kill -9`, instead of computing on for
    nobody (elsewhere a worker notices only when its result cannot be sent)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            return
    if os.getppid() != parent:  # the runner died before this worker got here
        os._exit(1)


PR_SET_PDEATHSIG = 1


def _worker_init(queue: Any, plugins: tuple[str, ...], cache_dir: str | None, parent: int) -> None:
    global _progress_queue
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops workers
    _progress_queue = queue
    compile_cache.enable(cache_dir)
    import_plugins(plugins)


def _worker_run(index: int, unit: Unit, command: str) -> list[RunResult]:
    _progress_queue.put((index, None, None))  # started

    def report(_unit: Unit, steps: int, active: int) -> None:
        _progress_queue.put((index, steps, active))

    return run_unit(unit, command, report)


def _execute_in_workers(
    units: list[Unit],
    jobs: int,
    command: str,
    listener: RunListener | None,
    claim: Callable[[Unit], Unit | None],
    finish: Callable[[Unit, list[RunResult]], None],
    plugins: tuple[str, ...] = (),
) -> None:
    """Units are claimed as they are handed to a worker, so that runners sharing the results
    directory split the grid between them as it runs."""
    ctx = multiprocessing.get_context("spawn")  # never fork a process that has started jax
    queue = ctx.Queue()

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            jobs,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(queue, plugins, compile_cache.directory(), os.getpid()),
        )

    todo = list(enumerate(units))
    suspects: set[int] = set()  # units in flight when a worker died: rerun alone
    pool = new_pool()
    running: dict[Future, tuple[int, Unit, str]] = {}

    def drain() -> None:
        while True:
            try:
                index, steps, active = queue.get_nowait()
            except queue_module.Empty:
                return
            if listener is None:
                continue
            if steps is None:
                listener.on_start(units[index])
            else:
                listener.on_epoch(units[index], steps, active)

    try:
        while todo or running:
            broken = False
            while todo and len(running) < jobs:
                alone = todo[0][0] in suspects
                if alone and running:
                    break
                index, unit = todo.pop(0)
                if index not in suspects:  # a suspect is already claimed (and cut down) by this runner
                    claimed = claim(unit)
                    if claimed is None:
                        continue
                    units[index] = unit = claimed
                try:
                    future = pool.submit(_worker_run, index, unit, command)
                except BrokenProcessPool:  # a worker died since the last check
                    todo.insert(0, (index, unit))
                    broken = True
                    break
                running[future] = (index, unit, provenance.utc_now())
                if alone:
                    break
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED) if running else (set(), set())
            drain()
            for future in done:
                if isinstance(future.exception(), BrokenProcessPool):
                    broken = True
                    continue
                _, unit, started = running.pop(future)
                try:
                    results = future.result()
                except Exception as e:  # infrastructure (pickling, plugin import), not the unit's code
                    results = failure_results(unit, f"{type(e).__name__}: {e}", command, started)
                finish(unit, results)
            if broken:
                in_flight = list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                if len(in_flight) == 1 and in_flight[0][0] in suspects:
                    _, unit, started = in_flight[0]
                    finish(unit, failure_results(unit, WORKER_DIED, command, started))
                else:
                    suspects.update(index for index, _, _ in in_flight)
                    todo[:0] = [(index, unit) for index, unit, _ in in_flight]
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    drain()
