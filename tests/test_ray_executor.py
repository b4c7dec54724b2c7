"""The Ray executor on real local multi-node Ray clusters (`ray.cluster_utils.Cluster`): the same
files as the local executor, a worker node killed mid-grid, an interrupted driver resumed,
failures after bounded retries, the per-node compilation cache. Run with `nox -s ray`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")  # `nox -s ray` installs the extra; `.ci/run` runs that session
from ray.cluster_utils import Cluster  # noqa: E402

from benchmarks.executors.ray_executor import RayExecutor, deferred_interrupts  # noqa: E402
from benchmarks.plan import make_plan  # noqa: E402
from reports.load import load_results  # noqa: E402

pytestmark = pytest.mark.ray

FAST = [
    "--max-steps",
    "4000",
    "--eval-interval",
    "2000",
    "--set",
    "eval.eval_steps=200",
    "--set",
    "eval.final_episodes=2",
]
LONG = {
    "budget": {"max_env_steps": 12_000_000, "eval_interval": 1_000_000},
    "eval": {"eval_steps": 200, "final_episodes": 2},
}
"""Units that run for seconds after compiling, so a node can be killed or a driver interrupted mid-unit
(the random agent steps CartPole at several million steps/s on one CPU core)."""
LONG_ARGS = [
    "--max-steps",
    "12000000",
    "--eval-interval",
    "1000000",
    "--set",
    "eval.eval_steps=200",
    "--set",
    "eval.final_episodes=2",
]
FAST_HEALTH = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 200,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 5,
}
"""Declare a killed node dead in about a second (Ray's default is about 30 s)."""


@pytest.fixture
def make_cluster():
    """A head without CPUs (the driver's node: work lands on worker nodes only) plus N 1-CPU nodes."""
    made = []

    def make(nodes: int = 2) -> tuple[Cluster, list]:
        c = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20, "_system_config": FAST_HEALTH},
        )
        workers = [c.add_node(num_cpus=1, object_store_memory=80 * 2**20) for _ in range(nodes)]
        c.wait_for_nodes()
        made.append(c)
        return c, workers

    yield make
    if ray.is_initialized():
        ray.shutdown()
    for c in made:
        c.shutdown()


@pytest.fixture
def interruptible():
    """SIGINT at Python's default in this process, and so in the drivers it starts, whatever the
    suite inherited. A suite started in the background of a script (`.ci/run &`) inherits SIGINT
    ignored, and so does every driver it starts, which then rightly runs its grid to the end: that,
    not a race, made the interrupted-driver test fail in some sessions and pass in others. (A Python
    handler is reset to the default across exec, and the child's Python installs its own.)"""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _seed_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("seed_*") if p.is_file())


def _comparable(path: Path) -> dict:
    """A result file minus what legitimately differs between executors: timings, provenance."""
    d = json.loads(path.read_text())
    d.pop("timing")
    prov = d.pop("provenance")
    d["curve"].pop("wall_time")
    return {**d, "git": (prov["git_commit"], prov["git_dirty"])}


class Recorder:
    """A RunListener that counts what the executor reports."""

    def __init__(self, on_start=None):
        self.starts: Counter = Counter()
        self.results: Counter = Counter()
        self.epochs = 0
        self.held = 0  # runs another runner held (none here: one runner per directory)
        self._on_start = on_start

    def on_claim(self, unit, claim):
        self.held += len(claim.held)

    def on_start(self, unit):
        self.starts[unit] += 1
        if self._on_start is not None:
            self._on_start(self)

    def on_epoch(self, unit, steps, active_left):
        self.epochs += 1

    def on_result(self, unit, results):
        self.results[unit] += 1


def test_a_grid_on_two_nodes_writes_the_local_executors_files(make_cluster, cli, tmp_path):
    cluster, _ = make_cluster(2)
    grid = ["run", "--suite", "smoke", "--block-size", "1", *FAST]
    code, _, err = cli(*grid, "--out", str(tmp_path / "local"))
    assert code == 0, err
    code, _, err = cli(*grid, "--out", str(tmp_path / "ray"), "--executor", "ray", "--address", cluster.address)
    assert code == 0, err
    assert "4 completed" in err
    files = _seed_files(tmp_path / "local")
    assert len(files) == 4 and _seed_files(tmp_path / "ray") == files
    for f in files:
        assert _comparable(tmp_path / "ray" / f) == _comparable(tmp_path / "local" / f), f
    plans = [sorted((tmp_path / d / "smoke").glob("plan_*.json")) for d in ("local", "ray")]
    assert [p.name for p in plans[0]] == [p.name for p in plans[1]] and len(plans[0]) == 1
    assert not ray.is_initialized(), "the driver disconnects when the grid is done"


def test_a_worker_node_killed_mid_grid_every_run_completes_exactly_once(make_cluster, tmp_path):
    cluster, nodes = make_cluster(2)
    plan = make_plan(tmp_path / "ray", "smoke", None, None, [0, 1], LONG, block_size=1)
    assert len(plan.units) == 4
    killed = []

    def kill_second_node_once_both_are_busy(rec):
        if sum(rec.starts.values()) == 2 and not killed:  # one unit running on each node
            cluster.remove_node(nodes[1], allow_graceful=False)
            killed.append(time.monotonic())

    rec = Recorder(on_start=kill_second_node_once_both_are_busy)
    executor = RayExecutor(cluster.address, max_retries=2)
    executor.execute(plan.units, tmp_path / "ray", "test", rec)
    assert killed, "the node was killed while both nodes ran a unit"
    assert set(rec.results) == set(plan.units) and set(rec.results.values()) == {1}, "each unit finished once"
    assert rec.held == 0, "the only runner on its directory holds every run"
    assert sum(rec.starts.values()) > len(plan.units), "the lost node's unit ran again elsewhere"
    files = [p.name for p in (tmp_path / "ray").rglob("*") if p.is_file() and "seed_" in p.name]
    assert sorted(files) == sorted(f"seed_{s}.json" for _ in range(2) for s in (0, 1)), (
        "no duplicates, nothing moved aside"
    )
    loaded = load_results(tmp_path / "ray")
    assert loaded.rejected == [] and [r["status"] for r in loaded.runs] == ["completed"] * 4
    # the rerun gives the numbers an undisturbed run gives
    from benchmarks.executors.local import LocalExecutor

    LocalExecutor(1).execute(plan.units, tmp_path / "local", "test")
    for f in _seed_files(tmp_path / "local"):
        assert _comparable(tmp_path / "ray" / f) == _comparable(tmp_path / "local" / f), f


def test_an_interrupted_driver_reruns_only_the_missing_units(make_cluster, cli, tmp_path, interruptible):
    cluster, _ = make_cluster(2)
    out = tmp_path / "res"
    cmd = [
        str(Path(sys.executable).with_name("rtrrl-bench")),
        "run",
        "--suite",
        "smoke",
        "--seeds",
        "3",
        "--block-size",
        "1",
        "--out",
        str(out),
        "--executor",
        "ray",
        "--address",
        cluster.address,
        *LONG_ARGS,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out.exists() and _seed_files(out)):  # interrupt once the first unit is written
        if proc.poll() is not None:
            pytest.fail(f"the driver ended early: {proc.communicate()[1]}")
        assert time.monotonic() < deadline, "no unit finished in time"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; finished runs are saved" in err
    first = {f: (out / f).stat().st_mtime_ns for f in _seed_files(out)}
    assert 1 <= len(first) < 6, first
    assert load_results(out).rejected == []

    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2:  # the driver's tasks were cancelled with it
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.2)
    ray.shutdown()

    code, _, err = cli(*cmd[1:])
    assert code == 0, err
    assert f"{6 - len(first)} runs to do" in err and f"{len(first)} already done" in err
    assert {f: (out / f).stat().st_mtime_ns for f in first} == first, "finished runs are not redone"
    assert len(_seed_files(out)) == 6, "every run once, nothing moved aside"
    assert [r["status"] for r in load_results(out).runs] == ["completed"] * 6


def test_a_ctrl_c_whose_interrupt_a_ray_call_swallows_still_stops_the_grid(make_cluster, tmp_path, interruptible):
    """Ray's blocking calls run the SIGINT handler from C++, inside the call: the signal arrives here
    the way Ray delivers it, inside a call that swallows a KeyboardInterrupt. The grid must stop
    anyway, and Ctrl-C must work again afterwards."""
    cluster, _ = make_cluster(1)
    plan = make_plan(tmp_path, "smoke", None, None, [0, 1, 2], LONG, block_size=1)
    assert len(plan.units) == 6

    def ctrl_c_swallowed_like_ray(rec):
        if sum(rec.starts.values()) == 1:
            try:
                signal.raise_signal(signal.SIGINT)  # the handler runs before this call returns
            except KeyboardInterrupt:
                pass

    rec = Recorder(on_start=ctrl_c_swallowed_like_ray)
    with pytest.raises(KeyboardInterrupt):
        RayExecutor(cluster.address).execute(plan.units, tmp_path, "test", rec)
    assert sum(rec.results.values()) < len(plan.units), "the grid stopped before its end"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "Ctrl-C raises again"


def test_a_deferred_ctrl_c_reaches_the_handler_in_place_once_at_the_check_or_on_leaving(interruptible):
    calls = []
    signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    with deferred_interrupts() as check:
        signal.raise_signal(signal.SIGINT)
        assert calls == [], "nothing runs inside the call the signal lands in"
        check()
        check()
        assert calls == [signal.SIGINT], "at the check, once"
        signal.raise_signal(signal.SIGINT)  # after the last check, e.g. during the final drain
    assert calls == [signal.SIGINT] * 2, "not dropped on leaving"
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt), deferred_interrupts() as check:
        signal.raise_signal(signal.SIGINT)
        check()


def test_an_ignored_sigint_stays_ignored_as_under_the_local_executor(interruptible):
    """A command started with SIGINT ignored (`cmd &` in a script) runs to the end with either executor."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with deferred_interrupts() as check:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "the launcher's choice stands"
        signal.raise_signal(signal.SIGINT)
        check()


def test_failures_after_bounded_retries_become_records(make_cluster, tmp_path):
    import fault_agents  # noqa: F401  (the driver imports the plugin; the executor ships it to the nodes)

    cluster, _ = make_cluster(2)
    fast = {"budget": {"max_env_steps": 4000, "eval_interval": 2000}, "eval": {"eval_steps": 200, "final_episodes": 2}}
    plan = make_plan(tmp_path, "smoke", ["CartPole-v1"], ["test-boom", "test-crash", "random"], [0], fast)
    rec = Recorder()
    RayExecutor(cluster.address, plugins=["fault_agents"], max_retries=1, exception_retries=2).execute(
        plan.units, tmp_path, "test", rec
    )
    by_agent = {u.agent: u for u in plan.units}
    assert rec.starts[by_agent["test-boom"]] == 3, "1 run + 2 exception retries"
    assert rec.starts[by_agent["test-crash"]] == 2, "1 run + 1 retry after the lost worker"
    assert rec.starts[by_agent["random"]] == 1
    runs = {r["agent"]: r for r in load_results(tmp_path).runs}
    assert runs["random"]["status"] == "completed"
    assert runs["test-boom"]["status"] == "failed" and "RuntimeError: boom" in runs["test-boom"]["message"]
    assert runs["test-crash"]["status"] == "failed" and "worker process or node lost" in runs["test-crash"]["message"]


def test_units_on_a_node_share_its_compilation_cache(make_cluster, tmp_path):
    """One 1-CPU node runs four seed blocks of one program in turn: the first compiles and fills
    the node's cache, the other three load what it cached (jax's own cache-hit events, counted
    per block in `timing.compile_cache_hits`), and compile faster."""
    cluster, _ = make_cluster(1)
    fast = {"budget": {"max_env_steps": 4000, "eval_interval": 2000}, "eval": {"eval_steps": 200, "final_episodes": 2}}

    def timings(out: Path, cache: str | None) -> list[dict]:
        plan = make_plan(out, "smoke", ["CartPole-v1"], ["random"], [0, 1, 2, 3], fast, block_size=1)
        RayExecutor(cluster.address, compile_cache=cache).execute(plan.units, out, "test")
        return [r["timing"] for r in load_results(out).runs]

    cold = timings(tmp_path / "a", None)
    assert [t["compile_cache_hits"] for t in cold] == [None] * 4 and {t["compile_cache"] for t in cold} == {None}
    warm = timings(tmp_path / "b", str(tmp_path / "cache"))
    hits = sorted(t["compile_cache_hits"] for t in warm)
    # (jax caches a program only if it took >= 0.5 s to compile: a small one may be cached later)
    assert hits[0] == 0 and hits[1] >= 1, hits
    assert {t["compile_cache"] for t in warm} == {str(tmp_path / "cache")}
    first = next(t for t in warm if t["compile_cache_hits"] == 0)
    assert all(t["compile_s"] < first["compile_s"] for t in warm if t is not first), warm


def test_an_unreachable_cluster_is_a_one_line_user_error(cli, tmp_path):
    t0 = time.monotonic()
    code, _, err = cli(
        "run",
        "--suite",
        "smoke",
        "--out",
        str(tmp_path / "res"),
        "--executor",
        "ray",
        "--address",
        "127.0.0.1:9",
        *FAST,
    )
    assert code == 2 and time.monotonic() - t0 < 30
    assert err.strip().count("\n") == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in err, err
    assert not [p for p in (tmp_path / "res").rglob("*") if p.is_file()], "nothing written"
    for args, message in [
        (["--address", "nowhere"], "expected auto, HOST:PORT"),
        (["--ray-cpus", "0"], "CPUs per unit must be positive"),
        (["--max-retries", "-1"], "retries must be non-negative"),
    ]:
        code, _, err = cli("run", "--suite", "smoke", "--out", str(tmp_path / "res"), "--executor", "ray", *args, *FAST)
        assert code == 2 and err.strip().count("\n") == 0 and message in err, err
    assert not [p for p in (tmp_path / "res").rglob("*") if p.is_file()]
