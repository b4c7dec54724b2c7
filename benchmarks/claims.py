"""Runners that share one results directory divide its runs instead of computing them twice.

Two `rtrrl-bench run` on the same `--out` (two terminals, or the jobs of a batch array on a
shared filesystem) cooperate: before a unit computes, its runner *claims* each of the unit's runs.
A run claimed by another live runner is left to it, a run that another runner wrote since this
runner's plan was made is skipped, and claims turn into "written" marks as results are written.
So the runners share one grid and every run is computed once.

The claims live in one table, `<out>/.rtrrl-bench/claims.json`, which is only read and replaced
(atomically) while holding an exclusive lock on `<out>/.rtrrl-bench/lock`: a lock, then a fresh
open, is what makes a file's contents current on every client of an NFS share, whereas a
client may trust a cached "no such file" for a result file for up to a minute.

Liveness comes from locks, not timeouts. Each runner holds an exclusive `flock` on its own file
in `<out>/.rtrrl-bench/runners/` (host, pid, start time, command) for as long as it runs; the
kernel, or the NFS lock manager, drops it when the process dies, `kill -9` included. A claim whose
runner file is no longer locked is stale: the next runner clears it on entry, or takes it over
when it wants the run, and says whose it was. On a filesystem without locks (`flock`
unsupported) claiming is off, with one warning line.
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
from typing import Any

from benchmarks import provenance
from benchmarks.config import config_hash
from benchmarks.plan import Unit
from benchmarks.storage import StorageError, atomic_write_text, resume_state

STATE_DIR = ".rtrrl-bench"
"""Inside a results directory: the runners' files and the claims table (never part of a dataset)."""

_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
Table = dict[str, dict[str, Any]]
"""run key (`suite/task/label/seed`) -> {"runner": name, "state": "claimed" | "written", "config_hash": ...}."""


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
    """Seeds whose result another runner wrote (or that are finished on disk) since the plan."""
    taken_over: dict[int, Holder] = field(default_factory=dict)
    """seed -> the dead runner whose stale claim this runner took."""


class Claims:
    """This process's membership of a results directory: `with Claims(out) as claims:` registers
    the runner, `claims.claim(unit)` before a unit computes, `claims.release(unit, written=True)`
    once its results are written; leaving the block gives up whatever is still claimed."""

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
        self._mine: set[str] = set()

    # ---- membership -------------------------------------------------------------------------
    def __enter__(self) -> Claims:
        runners = self.root / "runners"
        me = runners / f"{self._name}.json"
        staging = runners / f".{self._name}.new"  # locked before it gets a name other runners look at
        try:
            runners.mkdir(parents=True, exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():  # like .pytest_cache: a committed results tree never carries it
                ignore.write_text("# rtrrl-bench's runner coordination, never data\n*\n")
            fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as e:
            raise StorageError(e, runners) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows this name: never contended
        except OSError as e:
            os.close(fd)
            _unlink(staging)
            if e.errno not in _NO_LOCKS:
                raise StorageError(e, staging) from None
            self.enabled = False
            self.warning = (
                f"cannot lock files in {self.root} ({e.strerror}): runners sharing this directory are not coordinated"
            )
            return self
        self._fd = fd
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": provenance.utc_now()}
        try:
            os.write(fd, (json.dumps({**holder, "command": self.command}) + "\n").encode())
            os.rename(staging, me)
            with self._table() as table:
                self._clear_dead(table)
        except OSError as e:
            self.__exit__(None, None, None)
            raise StorageError(e, me) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        try:
            with self._table() as table:
                for key in self._mine:
                    if table.get(key, {}).get("runner") == self._name and table[key]["state"] == "claimed":
                        del table[key]
        except OSError:
            pass  # what is left is stale as soon as this process's lock goes
        self._mine.clear()
        _unlink(self.root / "runners" / f"{self._name}.json")
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
        with self._storage_errors(), self._table() as table:
            alive: dict[str, tuple[Holder, bool]] = {}
            for seed in unit.seeds:
                key, want = _key(unit, seed), config_hash(unit.run_config(seed))
                entry = table.get(key)
                owner = entry["runner"] if entry else None
                if owner is not None and owner != self._name and owner not in alive:
                    alive[owner] = self._runner(owner)
                if entry and entry["state"] == "written" and entry.get("config_hash") == want:
                    result.done.append(seed)  # another runner's result, whatever a cached lookup says
                    continue
                if entry and entry["state"] == "claimed" and owner != self._name and alive[owner][1]:
                    result.held[seed] = alive[owner][0]
                    continue
                if resume_state(unit.path(out_dir, seed), want)[0] == "done":
                    result.done.append(seed)
                    continue
                if entry and entry["state"] == "claimed" and owner != self._name:
                    result.taken_over[seed] = alive[owner][0]
                table[key] = {"runner": self._name, "state": "claimed", "config_hash": want}
                self._mine.add(key)
                got.append(seed)
        if got:
            result.unit = unit if len(got) == len(unit.seeds) else dataclasses.replace(unit, seeds=tuple(got))
        return result

    def release(self, unit: Unit, written: bool) -> None:
        """Give up the claims on `unit`'s runs: as written (other runners then skip them even before
        they can see the files) or not. Best-effort: a claim left behind goes stale with this runner."""
        if not self.enabled:
            return
        try:
            with self._table() as table:
                for seed in unit.seeds:
                    key = _key(unit, seed)
                    if table.get(key, {}).get("runner") == self._name:
                        if written:
                            table[key]["state"] = "written"
                        else:
                            del table[key]
                    self._mine.discard(key)
        except OSError:
            pass

    def holders(self, units: list[Unit]) -> dict[Holder, int]:
        """Read-only, without joining (`--dry-run`): how many of these runs live runners hold now."""
        counts: dict[Holder, int] = {}
        try:
            table = _read_table(self.root / "claims.json")
            alive: dict[str, tuple[Holder, bool]] = {}
            for unit in units:
                for seed in unit.seeds:
                    entry = table.get(_key(unit, seed))
                    if entry and entry["state"] == "claimed":
                        holder, live = alive.setdefault(entry["runner"], self._runner(entry["runner"]))
                        if live:
                            counts[holder] = counts.get(holder, 0) + 1
        except OSError:
            pass  # a dry run only informs
        return counts

    # ---- internals --------------------------------------------------------------------------
    @contextmanager
    def _table(self) -> Iterator[Table]:
        """The claims table under the directory's lock; written back (atomically) when changed."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.root / "claims.json"
            table = _read_table(path)
            before = json.dumps(table, sort_keys=True)
            yield table
            if json.dumps(table, sort_keys=True) != before:
                atomic_write_text(path, json.dumps(table, indent=0, sort_keys=True) + "\n")
        finally:
            os.close(fd)

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as e:
            raise StorageError(e, self.root / "claims.json") from None

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

    def _clear_dead(self, table: Table) -> None:
        """Drop dead runners' claims and files; with no other runner alive, the written marks too
        (they only matter to runners that planned before the result appeared)."""
        runners = self.root / "runners"
        names = {p.name.removesuffix(".json") for p in runners.glob("*.json")} | {e["runner"] for e in table.values()}
        names.discard(self._name)
        status = {name: self._runner(name) for name in sorted(names)}
        for key, entry in list(table.items()):
            holder, alive = status[entry["runner"]]
            if entry["state"] == "claimed" and not alive:
                self.stale[holder] = self.stale.get(holder, 0) + 1
                del table[key]
            elif entry["state"] == "written" and not any(live for _, live in status.values()):
                del table[key]
        for name, (_, alive) in status.items():
            if not alive:
                _unlink(runners / f"{name}.json")


def _key(unit: Unit, seed: int) -> str:
    return f"{unit.suite}/{unit.task.id}/{unit.label}/{seed}"


def _read_table(path: Path) -> Table:
    """The claims table; a missing or unreadable one is empty (its claims are then lost, not wrong:
    a run may be computed twice, never skipped)."""
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError):
        return {}
    ok = isinstance(table, dict) and all(
        isinstance(e, dict) and isinstance(e.get("runner"), str) and e.get("state") in ("claimed", "written")
        for e in table.values()
    )
    return table if ok else {}


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _holder_from_name(name: str) -> Holder:
    host, _, rest = name.rpartition("-")[0].rpartition("-")
    try:
        return Holder(host=host or "?", pid=int(rest))
    except ValueError:
        return Holder()
