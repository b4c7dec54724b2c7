"""Side by side with the authors' RTRRL code (`tools/perf.py --section reference`).

The authors' code runs at its own lock-file pins (jax 0.5.0, flax 0.10.3, gymnax 0.0.8, ...) in a
second virtual environment, built once and cached under `~/.cache/rtrrl-bench/reference/`.
Their source comes from GitHub at the pinned commit, or from `--reference-src` (a checkout or a
git directory holding that commit) where GitHub cannot be reached. popjym, which their
environment module imports at load time, is a GitHub-only package: where it cannot be
installed, a stand-in with an empty registry takes its place (the timed task is a gymnax task,
for which their code never consults popjym), and the output says so.

Each round runs one process per (side, batch): ours (`rtrrl`'s default config through
`Agent.train`), theirs on XLA's legacy CPU runtime and theirs on jax 0.5's default (thunk)
runtime; rounds rotate the order. Every process compiles, then times repeated chunks of
training and reports the median; the table shows the median over rounds and the ratio of ours
to their faster runtime. When their code cannot be fetched or installed, the section prints one
line saying why and is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REFERENCE_URL = "https://github.com/FranzKnut/RTRRL-AAAI25"
REFERENCE_COMMIT = "b71fd6efeb32c7f984be283006c5ee190fcd7e90"
"""The authors' repository at its newest commit when this harness was written ("better defaults")."""
LEGACY_RUNTIME = "--xla_cpu_use_thunk_runtime=false"
STAND_INS = {
    "popjym": {
        "__init__.py": "from . import registration\n\n\ndef make(env_id, *args, **kwargs):\n"
        "    raise KeyError(f'{env_id}: popjym is a stand-in here (GitHub unreachable)')\n",
        "registration.py": "REGISTERED_ENVS = ()\n",
    }
}
"""Git-only packages their code imports but the timed gymnax task never uses."""
HERE = Path(__file__).resolve().parent


class Unavailable(Exception):
    """The reference cannot be run here; the message is the one line the section prints."""


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rtrrl-bench" / "reference" / REFERENCE_COMMIT[:12]


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    except OSError as e:
        raise Unavailable(f"{what}: {e.strerror or e}") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        fatal = [line for line in lines if line.startswith("fatal:")]  # git's reason, also inside pip's output
        errors = [line for line in lines if line.startswith(("ERROR:", "error:"))]
        raise Unavailable(f"{what}: {(fatal or errors or lines or [f'exit {proc.returncode}'])[-1]}")
    return proc


def reference_source(given: str | None, root: Path) -> Path:
    """A directory holding the authors' code at REFERENCE_COMMIT (cached after the first call)."""
    dest = root / "src"
    if (dest / "rtrrl.py").exists():
        return dest
    if given and (Path(given) / "rtrrl.py").exists():
        return Path(given)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="src.", dir=root))
    try:
        if given:  # a git directory (bare clone or mirror) that holds the commit
            cmd = f"git --git-dir={given!r} archive --format=tar {REFERENCE_COMMIT} | tar -x -C {str(tmp)!r}"
            what = f"cannot read commit {REFERENCE_COMMIT[:7]} of the authors' code from {given}"
            _run(["bash", "-o", "pipefail", "-c", cmd], what, timeout=120)
        else:
            what = f"cannot fetch the authors' code from {REFERENCE_URL} (--reference-src PATH: a local copy)"
            _run(["git", "clone", "--quiet", REFERENCE_URL, str(tmp)], what, timeout=300)
            _run(["git", "-C", str(tmp), "checkout", "--quiet", REFERENCE_COMMIT], what, timeout=60)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def lock_pins(source: Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(`name==version` for every PyPI package in their poetry.lock, [(name, git url, commit)])."""
    with open(source / "poetry.lock", "rb") as f:
        lock = tomllib.load(f)
    pins, git = [], []
    for pkg in lock["package"]:
        src = pkg.get("source", {})
        if src.get("type") == "git":
            git.append((pkg["name"], src["url"], src.get("resolved_reference") or src.get("reference", "HEAD")))
        else:
            pins.append(f"{pkg['name']}=={pkg['version']}")
    return pins, git


def reference_venv(source: Path, root: Path) -> tuple[Path, list[str]]:
    """(python of the reference environment, notes on what it holds), built once."""
    venv, stamp = root / "venv", root / "venv" / "complete.json"
    python = venv / "bin" / "python"
    if stamp.exists():
        return python, json.loads(stamp.read_text())["notes"]
    shutil.rmtree(venv, ignore_errors=True)
    print(f"reference: building {venv} from their poetry.lock (once; about a minute)", flush=True)
    _run([sys.executable, "-m", "venv", str(venv)], "cannot create the reference virtual environment", timeout=300)
    pins, git = lock_pins(source)
    reqs = root / "requirements.txt"
    reqs.write_text("\n".join(pins) + "\n")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check"]
    _run([*pip, "-r", str(reqs)], "cannot install the reference's lock-file pins", timeout=1800)
    notes = []
    for name, url, rev in git:
        try:
            _run([*pip, f"git+{url}@{rev}"], f"{name} from {url}", timeout=600)
        except Unavailable as e:
            if name not in STAND_INS:
                raise
            query = [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
            pkg = Path(_run(query, "cannot locate the reference's site-packages").stdout.strip()) / name
            pkg.mkdir(parents=True, exist_ok=True)
            for file, text in STAND_INS[name].items():
                (pkg / file).write_text(text)
            notes.append(f"{name}: a stand-in with an empty registry ({e}; the timed gymnax task never uses it)")
    stamp.write_text(json.dumps({"commit": REFERENCE_COMMIT, "notes": notes}))
    return python, notes


@dataclass(frozen=True)
class Sample:
    side: str  # "ours", "theirs (legacy runtime)", "theirs (thunk runtime)"
    batch: int
    steps_per_s: float


def _child_env(xla_flags: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "PYTHONPATH")}
    env.update(NPROC=os.environ.get("NPROC", "1"), JAX_PLATFORMS="cpu")
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    return env


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_ours(batch: int, chunk_steps: int, chunks: int) -> float:
    cmd = [sys.executable, str(HERE / "perf_reference.py"), "ours", str(batch), str(chunk_steps), str(chunks)]
    out = _last_json(_run(cmd, "timing ours failed", env=_child_env(os.environ.get("XLA_FLAGS")), timeout=900))
    return out["steps"] / out["median_s"]


def time_theirs(python: Path, source: Path, batch: int, episodes: int, legacy: bool) -> float:
    cmd = [str(python), str(HERE / "reference_rtrrl_child.py"), str(source), str(batch), str(episodes)]
    env = _child_env(LEGACY_RUNTIME if legacy else None)
    out = _last_json(_run(cmd, "timing the authors' code failed", env=env, timeout=900, cwd=source))
    return out["steps_per_episode"] / out["median_s"]


def ours_child(batch: int, chunk_steps: int, chunks: int) -> None:
    """Median seconds of `rtrrl` training chunks (default config, `batch` envs sharing parameters)."""
    import dataclasses
    import time

    import jax

    import agents as registry
    from agents import threefry
    from benchmarks.envs import make_env
    from benchmarks.program import compiler_options
    from benchmarks.tasks import TASKS

    threefry.activate()  # as the runner compiles
    cfg = registry.default_config("rtrrl")
    agent = registry.make_agent("rtrrl", dataclasses.replace(cfg, num_envs=batch))
    env = make_env(TASKS["CartPole-vel"])
    iters = max(1, chunk_steps // agent.steps_per_iteration(env.spec))
    train = jax.jit(lambda s: agent.train(s, env, iters), compiler_options=compiler_options())
    state = jax.jit(lambda k: agent.init(k, env))(jax.random.PRNGKey(0))
    state, _ = jax.block_until_ready(train(state))  # compile and warm up
    durations = []
    for _ in range(chunks):
        t = time.perf_counter()
        state, _ = jax.block_until_ready(train(state))
        durations.append(time.perf_counter() - t)
    steps = iters * agent.steps_per_iteration(env.spec)
    print(json.dumps({"jax": jax.__version__, "steps": steps, "median_s": statistics.median(durations)}))


def reference_table(given_source: str | None, rounds: int = 3, batches: tuple[int, ...] = (1, 16)) -> None:
    root = cache_root()
    try:
        source = reference_source(given_source, root)
        python, notes = reference_venv(source, root)
    except Unavailable as e:
        print(f"reference: skipped, {e}")
        return
    print(
        f"reference: the authors' code at {REFERENCE_COMMIT[:7]} (their lock-file pins) vs ours, default configs, "
        f"CartPole-vel (theirs: gymnax CartPole-v1, obs_mask='even'), {rounds} interleaved rounds, medians"
    )
    for note in notes:
        print(f"  note: {note}")
    samples: list[Sample] = []
    sides = ("ours", "theirs (legacy runtime)", "theirs (thunk runtime)")
    jobs = [(side, b) for side in sides for b in batches]
    try:
        for r in range(rounds):
            for side, batch in jobs[r % len(jobs) :] + jobs[: r % len(jobs)]:
                if side == "ours":
                    rate = time_ours(batch, chunk_steps=20_000 if batch == 1 else 64_000, chunks=5)
                else:
                    episodes = 40 if batch == 1 else 12
                    rate = time_theirs(python, source, batch, episodes, legacy="legacy" in side)
                samples.append(Sample(side, batch, rate))
                print(f"  round {r + 1}: {side:<26} batch {batch:>3}: {rate:>12,.0f} steps/s", flush=True)
    except Unavailable as e:
        print(f"reference: stopped, {e}")
        return
    print(f"{'batch':>7}{'ours':>12}{'theirs legacy':>15}{'theirs thunk':>14}{'ours / fastest theirs':>23}")
    for batch in batches:
        med = {
            side: statistics.median(s.steps_per_s for s in samples if s.side == side and s.batch == batch)
            for side, _ in jobs
        }
        legacy, thunk = med["theirs (legacy runtime)"], med["theirs (thunk runtime)"]
        ratio = med["ours"] / max(legacy, thunk)
        print(f"{batch:>7}{med['ours']:>12,.0f}{legacy:>15,.0f}{thunk:>14,.0f}{ratio:>22.2f}x")


if __name__ == "__main__" and sys.argv[1:2] == ["ours"]:
    sys.path.insert(0, str(HERE.parent))
    ours_child(*map(int, sys.argv[2:5]))
