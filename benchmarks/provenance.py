"""Where a result came from: code version, package versions, device, host, time."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

GIT_COMMIT_ENV = "RTRRL_BENCH_GIT_COMMIT"
GIT_DIRTY_ENV = "RTRRL_BENCH_GIT_DIRTY"
"""Set by a driver that ships its code to workers (the Ray executor): the workers' copy is the
driver's tree, which is where the git state must come from."""
PACKAGES = ("jax", "jaxlib", "flax", "optax", "distrax", "gymnax", "popgym", "brax", "numpy", "rtrrl-bench")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the source tree this code runs from (or of the driver's tree it was
    shipped from); (None, None) outside git."""
    if GIT_COMMIT_ENV in os.environ:
        dirty = os.environ.get(GIT_DIRTY_ENV, "")
        return os.environ[GIT_COMMIT_ENV] or None, bool(int(dirty)) if dirty else None
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def static_provenance() -> dict:
    """Everything except the start/end times and the command."""
    import jax

    commit, dirty = git_state()
    device = jax.devices()[0]
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "platform": device.platform,
        "device": f"{device.device_kind} x{jax.device_count()} ({platform.machine()}, {os.cpu_count()} cpus)",
        "host": socket.gethostname(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "nproc": os.environ.get("NPROC"),
    }
