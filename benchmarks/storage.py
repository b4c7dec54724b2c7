"""Result files on disk: layout, atomic writes, validation and the resume decision."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from benchmarks.schema import FINISHED_STATUSES, RunResult


class StorageError(Exception):
    """An OS error on a results directory (disk full, no permission, read-only, a path that became a
    file), naming the file the user knows: the CLI prints it as one line."""

    def __init__(self, error: OSError, path: Path | str):
        self.path = Path(path)
        self.reason = error.strerror or str(error)
        super().__init__(f"{self.path}: {self.reason}")


def result_path(out_dir: Path, suite: str, task: str, agent: str, seed: int) -> Path:
    """`results/<suite>/<task>/<agent>/seed_<n>.json`."""
    return Path(out_dir) / suite / task / agent / f"seed_{seed}.json"


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux), since setting it
    to read it back races with threads creating files."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory + fsync + rename: readers see the old
    file or the new one, never a partial one, even if the process dies mid-write. The file gets
    the mode an ordinary write would (0666 less the umask), not the temp file's private 0600, so
    that colleagues on a shared filesystem can read results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        except OSError as e:  # a filesystem without modes (vfat, some FUSE/CIFS mounts): its own rules apply
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.ENOSYS):
                raise
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_result(path: Path, result: RunResult) -> None:
    atomic_write_text(path, json.dumps(result.model_dump(mode="json"), indent=1, allow_nan=False) + "\n")


def read_result(path: Path) -> RunResult:
    """Parse and validate one result file (raises ValueError with the reason)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"unreadable: {e}") from None
    try:
        return RunResult.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise ValueError(f"invalid: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


ResumeState = Literal["missing", "done", "failed", "stale", "corrupt"]


def resume_state(path: Path, config_hash: str) -> tuple[ResumeState, str]:
    """What to do with an existing file: only `done` is skipped; the rest are (re)run."""
    if not path.exists():
        return "missing", ""
    try:
        result = read_result(path)
    except ValueError as e:
        return "corrupt", str(e)
    if result.config_hash != config_hash:
        return "stale", f"config hash {result.config_hash[:12]} != {config_hash[:12]}"
    if result.status not in FINISHED_STATUSES:
        return "failed", result.message or result.status
    return "done", result.status


def move_aside(path: Path, reason: str) -> Path:
    """Keep an old file under a name the loaders ignore (`*.json.<reason>-<utc>`), never overwrite it."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    os.replace(path, target)
    return target


PLAN_FORMAT = "rtrrl-bench/plan/v1"


def write_plan(out_dir: Path, suite: str, runs: list[tuple[str, str, int]], command: str) -> Path:
    """Record which runs a command planned (`<suite>/plan_<hash>.json`), so a report can tell
    planned-but-missing runs from runs nobody asked for. One file per distinct run set: re-running
    the same command rewrites the same file, and the report takes the union over all files."""
    runs = sorted(set(runs))
    digest = hashlib.sha256(json.dumps([suite, runs]).encode()).hexdigest()[:16]
    path = Path(out_dir) / suite / f"plan_{digest}.json"
    data = {
        "format": PLAN_FORMAT,
        "suite": suite,
        "command": command,
        "runs": [{"task": t, "agent": a, "seed": s} for t, a, s in runs],
    }
    try:
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    except OSError as e:
        raise StorageError(e, path) from None
    return path


def check_writable(out_dir: Path) -> None:
    """Fail before any work if results cannot be written (raises OSError)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=out_dir)
    os.close(fd)
    os.unlink(tmp)
