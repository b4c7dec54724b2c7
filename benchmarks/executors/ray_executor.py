"""The Ray executor: each unit (agent, task, seed block) is one Ray task on a Ray cluster.

- Ray schedules every unit on any node with the resources it asks for (CPUs; a GPU fraction
  when the cluster has GPUs) and reruns it, up to `max_retries` times, when its worker process
  or node is lost. A unit whose code raised is resubmitted up to `exception_retries` times;
  after either bound, the unit gets failure records.
- Results travel back to the driver, which alone writes `results/`: no shared filesystem.
  Planning and resume are the runner's, unchanged; a unit's results are written once, however
  many times it ran.
- The driver ships its own `agents/` and `benchmarks/` (and `--plugin` modules) to the
  workers, so every node runs the driver's code (nodes need only the same Python packages), and
  the workers record the driver's git state.
- Each worker enables the persistent compilation cache (`compile_cache`, expanded on the worker:
  one cache per node), so a seed block loads what a neighbour on its node compiled.
- Workers report each unit's start and epochs to a small actor on the driver's node, which
  the driver drains for the progress display.
- Ctrl-C stops the grid at the driver's next poll, like the local executor: finished units stay
  written, units in flight are abandoned (their Ray tasks are stopped). A driver that
  inherited SIGINT ignored (`cmd &` in a script) ignores it, like the local executor too.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import compile_cache as xla_cache
from benchmarks import provenance
from benchmarks.claims import Claims
from benchmarks.config import ConfigError
from benchmarks.executors.base import RunListener, claim_unit, failure_results, finish_unit, joined
from benchmarks.plan import Unit, import_plugins
from benchmarks.program import run_unit
from benchmarks.schema import RunResult

DEFAULT_GPU_FRACTION = 0.25
"""GPU share of one unit on a cluster with GPUs: 4 small units share a GPU (each process
allocates GPU memory as it needs it, `XLA_PYTHON_CLIENT_PREALLOCATE=false`)."""
POLL_S = 0.25
"""How often the driver drains progress while waiting for results."""


@contextmanager
def deferred_interrupts() -> Iterator[Callable[[], None]]:
    """While the driver works on Ray, a Ctrl-C is deferred, never dropped: the SIGINT handler in place
    runs at the next call of the yielded check, or on leaving without an exception.

    Ray's blocking calls run the handler from C++, inside the call, where a KeyboardInterrupt would
    depend on Ray passing it on; deferred, it is raised from our own code. What SIGINT means stays
    the caller's: an ignored SIGINT (a script's `cmd &` starts its job so) stays ignored, as under the
    local executor, rather than stopping the grid only while units are waited on. Outside the main
    thread (no handlers there), or under a handler set from C (SIG_DFL, None), nothing changes.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield lambda: None
        return
    received: list[int] = []

    def check() -> None:
        if received:
            received.clear()
            previous(signal.SIGINT, None)

    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
    check()  # a Ctrl-C after the last check (during the final drain) still counts


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install -e '.[ray]'") from None
    return ray


class _ProgressSink:
    """Collects (unit index, steps | None, active) messages from workers; None steps = started."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int | None, int | None]] = []

    def put(self, item: tuple[int, int | None, int | None]) -> None:
        self.items.append(item)

    def drain(self) -> list[tuple[int, int | None, int | None]]:
        items, self.items = self.items, []
        return items


def _unit_task(
    index: int, unit: Unit, command: str, plugins: tuple[str, ...], compile_cache: str | None, sink: Any
) -> list[RunResult]:
    """The body of one Ray task: set up this worker process (idempotent), run the unit."""
    xla_cache.enable(os.path.expanduser(compile_cache) if compile_cache else None)
    import_plugins(plugins)
    import ray

    ray.get(sink.put.remote((index, None, None)))  # delivered before the unit can crash its worker

    def report(_unit: Unit, steps: int, active: int) -> None:
        sink.put.remote((index, steps, active))

    return run_unit(unit, command, report)


def _raised(results: list[RunResult]) -> bool:
    """run_unit turns an exception into failure records (status failed, no timing) for every seed."""
    return all(r.status == "failed" and r.timing is None for r in results)


def _shipped_modules(plugins: Sequence[str]) -> list[str]:
    """Paths of the top-level packages/modules the workers import from the driver's copy
    (installed packages, e.g. a plugin from site-packages, are the nodes' own)."""
    names = ["agents", "benchmarks", *(p.split(".")[0] for p in plugins)]
    out: list[str] = []
    for name in dict.fromkeys(names):
        module = sys.modules.get(name) or importlib.import_module(name)
        file = getattr(module, "__file__", None)
        if file is None or "site-packages" in file:
            continue
        path = Path(file).parent if Path(file).name == "__init__.py" else Path(file)
        out.append(str(path))
    return out


class RayExecutor:
    def __init__(
        self,
        address: str | None = None,
        plugins: Sequence[str] = (),
        cpus_per_unit: float = 1.0,
        gpus_per_unit: float | None = None,
        max_retries: int = 3,
        exception_retries: int = 1,
        compile_cache: str | None = None,
    ):
        """`address`: None starts a Ray instance on this machine; `auto` joins the cluster that
        `ray start` runs here; `HOST:PORT` (or `ray://HOST:PORT`) joins that cluster.
        `gpus_per_unit`: None = `DEFAULT_GPU_FRACTION` if the cluster has GPUs, else 0."""
        if cpus_per_unit <= 0:
            raise ConfigError(f"CPUs per unit must be positive (got {cpus_per_unit})")
        if gpus_per_unit is not None and (
            gpus_per_unit < 0 or (gpus_per_unit > 1 and not float(gpus_per_unit).is_integer())
        ):
            raise ConfigError(f"GPUs per unit must be a fraction in [0, 1] or a whole number (got {gpus_per_unit})")
        if max_retries < 0 or exception_retries < 0:
            raise ConfigError("retries must be non-negative")
        _host_port(address)
        self.address = address
        self.plugins = tuple(plugins)
        self.cpus_per_unit = cpus_per_unit
        self.gpus_per_unit = gpus_per_unit
        self.max_retries = max_retries
        self.exception_retries = exception_retries
        self.compile_cache = compile_cache
        self._ray: ModuleType | None = None
        self._owns_connection = False

    # ---- connection ---------------------------------------------------------------------------
    def connect(self) -> None:
        """Join (or start) the cluster; a user error if Ray is missing or the cluster unreachable."""
        ray = _import_ray()
        if not ray.is_initialized():  # (a caller's own Ray session keeps its runtime env: nodes use their code)
            kwargs: dict[str, Any] = {
                "log_to_driver": False,
                "logging_level": "WARNING",
                "runtime_env": self._runtime_env(),
            }
            if self.address is None:
                kwargs["include_dashboard"] = False
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = self.address or "a new local instance"
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ConfigError(f"cannot connect to Ray cluster at {where}: {first}") from None
            self._owns_connection = True
        self._ray = ray

    def close(self) -> None:
        if self._ray is not None and self._owns_connection:
            self._ray.shutdown()
        self._ray, self._owns_connection = None, False

    def _gpus(self) -> float:
        if self.gpus_per_unit is not None:
            return self.gpus_per_unit
        return DEFAULT_GPU_FRACTION if self._ray.cluster_resources().get("GPU", 0) > 0 else 0.0

    def _runtime_env(self) -> dict[str, Any]:
        commit, dirty = provenance.git_state()
        env = {
            "NPROC": os.environ.get("NPROC", "1"),
            "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "false"),
            provenance.GIT_COMMIT_ENV: commit or "",
            provenance.GIT_DIRTY_ENV: "" if dirty is None else str(int(dirty)),
        }
        if os.environ.get("XLA_FLAGS"):
            env["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
        return {"env_vars": env, "py_modules": _shipped_modules(self.plugins)}

    # ---- running ------------------------------------------------------------------------------
    def execute(
        self,
        units: Sequence[Unit],
        out_dir: Path,
        command: str,
        listener: RunListener | None = None,
        claims: Claims | None = None,
    ) -> None:
        if not units:
            return
        if self._ray is None:
            self.connect()
            try:
                return self.execute(units, out_dir, command, listener, claims)
            finally:
                self.close()
        with joined(out_dir, command, claims) as held:
            # every unit is submitted at once, so this runner claims the whole grid it can get
            mine = [u for u in (claim_unit(held, unit, listener) for unit in units) if u is not None]
            if mine:
                self._execute(mine, out_dir, command, listener, held)

    def _execute(
        self, units: list[Unit], out_dir: Path, command: str, listener: RunListener | None, held: Claims
    ) -> None:
        # from the first Ray call to the last: a Ctrl-C while the grid is set up waits for the first check
        with deferred_interrupts() as check_interrupt:
            self._run(units, out_dir, command, listener, held, check_interrupt)

    def _run(
        self,
        units: list[Unit],
        out_dir: Path,
        command: str,
        listener: RunListener | None,
        held: Claims,
        check_interrupt: Callable[[], None],
    ) -> None:
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        sink = (
            ray.remote(_ProgressSink)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            .remote()
        )
        task = ray.remote(_unit_task)
        resources = {
            "num_cpus": self.cpus_per_unit,
            "num_gpus": self._gpus(),
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }

        def submit(index: int) -> Any:
            u = units[index]
            name = f"{u.task.id}/{u.label}/seeds {','.join(map(str, u.seeds))}"
            return task.options(name=name, **resources).remote(
                index, u, command, self.plugins, self.compile_cache, sink
            )

        started = {i: provenance.utc_now() for i in range(len(units))}
        attempts = {i: 1 for i in range(len(units))}
        pending: dict[Any, int] = {submit(i): i for i in range(len(units))}

        def drain() -> None:
            try:
                items = ray.get(sink.drain.remote())
            except ray.exceptions.RayError:  # progress is best-effort; results are not
                return
            if listener is None:
                return
            for index, steps, active in items:
                if steps is None:
                    listener.on_start(units[index])
                else:
                    listener.on_epoch(units[index], steps, active)

        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                drain()
                check_interrupt()  # a Ctrl-C during either call was deferred until here
                for ref in ready:
                    index = pending.pop(ref)
                    unit = units[index]
                    try:
                        results = ray.get(ref)
                        retry = _raised(results) and attempts[index] <= self.exception_retries
                    except ray.exceptions.RayError as e:  # lost worker/node, after Ray's own retries
                        results = failure_results(unit, _lost_message(e, self.max_retries), command, started[index])
                        retry = False
                    if retry:
                        attempts[index] += 1
                        pending[submit(index)] = index
                        continue
                    finish_unit(out_dir, held, unit, results, listener)
            drain()
        except BaseException:  # Ctrl-C: stop the grid's tasks, keep what was written
            if not self._owns_connection:  # else `close` ends this driver's job, and Ray its tasks
                for ref in pending:
                    ray.cancel(ref)
            raise
        finally:
            ray.kill(sink)


def _host_port(address: str | None) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT address; None for none, `auto`, `local` and URLs."""
    if not address or address in ("auto", "local") or "://" in address:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    return host.strip("[]"), int(port)


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Ray waits for an unreachable HOST:PORT without end; fail in seconds instead."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=timeout_s).close()
    except OSError as e:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address}: {e.strerror or e} (is `ray start --head` running there?)"
        ) from None


def _lost_message(e: Exception, retries: int) -> str:
    kind = type(e).__name__
    first = next((line.strip() for line in str(e).splitlines() if line.strip()), kind)
    return f"worker process or node lost ({kind}; ran {retries + 1} times): {first}"[:1000]
