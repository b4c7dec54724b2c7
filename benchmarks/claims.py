"""Runners that share one results directory divide its runs instead of computing them twice.

Two `rtrrl-bench run` on the same `--out` (two terminals, or the jobs of a batch array on a
shared filesystem) cooperate: before a unit computes, its runner *claims* each of the unit's runs.
A run claimed by another live runner is left to it, a run that another runner finished since the
plan was made is skipped, and the claims are released as the results are written. So the runners
share one grid and every run is computed once.

Liveness comes from the kernel, not from timeouts. Each runner holds an exclusive `flock` on its
own file in `<out>/.rtrrl-bench/runners/` (host, pid, start time, command) for as long as it runs;
the kernel, or the NFS lock manager, drops that lock when the process dies, `kill -9` included. A
claim whose runner file is no longer locked is stale: the next runner that wants the run takes it
over and says whose it was. Every check-and-claim happens under a short exclusive lock on
`<out>/.rtrrl-bench/lock`, so two runners can never claim the same run.

On a filesystem without locks (`flock` unsupported) claiming is off, with one warning line.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import provenance
from benchmarks.config import config_hash
from benchmarks.plan import Unit
from benchmarks.storage import StorageError, resume_state

STATE_DIR = ".rtrrl-bench"
"""Inside a results directory: the runners' files and their claims (never part of a dataset)."""

_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


@dataclass(frozen=True)
class Holder:
    """A runner as its file describes it."""

    host: str = "?"
    pid: int = 0
    started: str = "?"
    command: str = ""

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}"


@dataclass
class Claim:
    """What claiming one unit gave: the unit cut down to the runs this runner now holds (None when
    it holds none), and what became of the others."""

    unit: Unit | None
    held: dict[int, Holder] = field(default_factory=dict)
    """seed -> the live runner that has it."""
    done: list[int] = field(default_factory=list)
    """Seeds whose result another runner wrote after this runner's plan was made."""
    taken_over: dict[int, Holder] = field(default_factory=dict)
    """seed -> the dead runner whose stale claim this runner took."""


class Claims:
    """This process's membership of a results directory: `with Claims(out) as claims:` registers
    the runner, `claims.claim(unit)` before a unit computes, `claims.release(unit)` once its results
    are written; leaving the block releases whatever is still held."""

    def __init__(self, out_dir: Path, command: str = ""):
        self.root = Path(out_dir) / STATE_DIR
        self.command = command
        self.enabled = True
        self.warning: str | None = None
        """Why claiming is off (set on entry), for the caller to print."""
        self.stale: dict[Holder, int] = {}
        """Dead runners found on entry -> how many of their claims were cleared."""
        self._name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._fd: int | None = None
        self._mine: set[Path] = set()

    # ---- membership -------------------------------------------------------------------------
    def __enter__(self) -> Claims:
        runners = self.root / "runners"
        me = runners / f"{self._name}.json"
        try:
            runners.mkdir(parents=True, exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():  # like .pytest_cache: a committed results tree never carries it
                ignore.write_text("# rtrrl-bench's runner coordination, never data\n*\n")
            fd = os.open(me, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as e:
            raise StorageError(e, runners) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            os.unlink(me)
            if e.errno not in _NO_LOCKS:
                raise StorageError(e, me) from None
            self.enabled = False
            self.warning = (
                f"cannot lock files in {self.root} ({e.strerror}): runners sharing this directory are not coordinated"
            )
            return self
        self._fd = fd
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": provenance.utc_now()}
        try:
            os.write(fd, (json.dumps({**holder, "command": self.command}) + "\n").encode())
            with self._mutex():
                self._clear_dead()
        except OSError as e:
            self.__exit__(None, None, None)
            raise StorageError(e, me) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        try:
            with self._mutex():
                for path in list(self._mine):
                    self._drop(path)
        except OSError:
            pass  # a claim left behind is stale as soon as this process's lock goes
        try:
            os.unlink(self.root / "runners" / f"{self._name}.json")
        except OSError:
            pass
        os.close(self._fd)  # drops the runner lock
        self._fd = None

    # ---- claiming ---------------------------------------------------------------------------
    def claim(self, unit: Unit) -> Claim:
        """Take every run of `unit` that is neither finished nor held by a live runner."""
        if not self.enabled:
            return Claim(unit)
        out_dir = self.root.parent
        got: list[int] = []
        result = Claim(None)
        try:
            with self._mutex():
                for seed in unit.seeds:
                    path = self._claim_path(unit, seed)
                    owner = self._owner(path)
                    if owner is not None and owner[0] != self._name and owner[2]:
                        result.held[seed] = owner[1]
                        continue
                    state, _ = resume_state(unit.path(out_dir, seed), config_hash(unit.run_config(seed)))
                    if state == "done":
                        result.done.append(seed)
                        if owner is not None and owner[0] == self._name:
                            self._drop(path)
                        continue
                    if owner is not None and owner[0] != self._name:
                        result.taken_over[seed] = owner[1]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(self._name + "\n")
                    self._mine.add(path)
                    got.append(seed)
        except OSError as e:
            raise StorageError(e, e.filename or self.root) from None
        if got:
            result.unit = unit if len(got) == len(unit.seeds) else dataclasses.replace(unit, seeds=tuple(got))
        return result

    def release(self, unit: Unit) -> None:
        """Give up the claims on `unit`'s runs (their results are written, or they will never be)."""
        if not self.enabled:
            return
        try:
            with self._mutex():
                for seed in unit.seeds:
                    path = self._claim_path(unit, seed)
                    if path in self._mine:
                        self._drop(path)
        except OSError as e:
            raise StorageError(e, e.filename or self.root) from None

    def holders(self, units: list[Unit]) -> dict[Holder, int]:
        """Read-only, without joining (`--dry-run`): how many of these runs live runners hold now."""
        counts: dict[Holder, int] = {}
        if not (self.root / "lock").exists():
            return counts
        for unit in units:
            for seed in unit.seeds:
                owner = self._owner(self._claim_path(unit, seed))
                if owner is not None and owner[2]:
                    counts[owner[1]] = counts.get(owner[1], 0) + 1
        return counts

    # ---- internals --------------------------------------------------------------------------
    def _claim_path(self, unit: Unit, seed: int) -> Path:
        return self.root / "claims" / unit.suite / unit.task.id / unit.label / f"seed_{seed}"

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _drop(self, path: Path) -> None:
        self._mine.discard(path)
        try:
            if path.read_text().strip() == self._name:
                path.unlink()
        except FileNotFoundError:
            pass
        _remove_empty_parents(path.parent, self.root / "claims")

    def _runner(self, name: str) -> tuple[Holder, bool]:
        """(who, alive) for a runner's name; a missing or unlocked runner file is a dead runner."""
        path = self.root / "runners" / f"{name}.json"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return _holder_from_name(name), False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                alive = False
            except BlockingIOError:
                alive = True
            text = b"".join(iter(lambda: os.read(fd, 65536), b"")).decode(errors="replace")
        finally:
            os.close(fd)
        try:
            data = json.loads(text)
            return Holder(str(data["host"]), int(data["pid"]), str(data["started"]), str(data["command"])), alive
        except (ValueError, KeyError, TypeError):
            return _holder_from_name(name), alive

    def _owner(self, path: Path) -> tuple[str, Holder, bool] | None:
        """(runner name, who, alive) of an existing claim; None when the run is unclaimed."""
        try:
            name = path.read_text().strip()
        except FileNotFoundError:
            return None
        if name == self._name:
            return name, Holder(), True
        return (name, *self._runner(name))

    def _clear_dead(self) -> None:
        """Remove dead runners' files and their claims (under the mutex), remembering whose they were."""
        runners = self.root / "runners"
        dead: dict[str, Holder] = {}
        for path in sorted(runners.glob("*.json")):
            name = path.name.removesuffix(".json")
            if name == self._name:
                continue
            holder, alive = self._runner(name)
            if not alive:
                dead[name] = holder
        claims = self.root / "claims"
        for path in sorted(claims.rglob("seed_*")) if claims.is_dir() else []:
            owner = self._owner(path)
            if owner is not None and not owner[2]:
                dead.setdefault(owner[0], owner[1])
                self.stale[dead[owner[0]]] = self.stale.get(dead[owner[0]], 0) + 1
                path.unlink()
                _remove_empty_parents(path.parent, claims)
        for name in dead:
            try:
                (runners / f"{name}.json").unlink()
            except FileNotFoundError:
                pass


def _holder_from_name(name: str) -> Holder:
    host, _, rest = name.rpartition("-")[0].rpartition("-")
    try:
        return Holder(host=host or "?", pid=int(rest))
    except ValueError:
        return Holder()


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    """Tidy the claims tree (under the mutex, so no runner is creating a claim in between)."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
