"""Load and validate result files against the exported JSON Schema. A malformed file is listed as
rejected, never a crash; a file the OS will not let us read stops the report (`UnreadableResults`).

Also reads the JSON the report compares against (the `rtrrl_data` package: normalization
constants, the paper's tables) as plain files: `reports/` never imports training code.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

import rtrrl_data

SCHEMA_PATH = Path(__file__).with_name("run_result.schema.json")
DATA_DIR = rtrrl_data.DATA_DIR
"""The `rtrrl_data` package: its JSON ships as package data, so an installed wheel has it."""
PLAN_FORMAT = "rtrrl-bench/plan/v1"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@dataclass
class Loaded:
    runs: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    planned: dict[str, set[tuple[str, str, int]]] = field(default_factory=dict)
    """suite -> (task, agent, seed) that some `rtrrl-bench run` asked for (its `plan_*.json`)."""


def validate(data: Any) -> str | None:
    """The first schema violation of a parsed file, or None when valid."""
    err = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if err is None:
        return None
    where = "/".join(map(str, err.absolute_path)) or "(top level)"
    return f"{where}: {err.message}"


class UnreadableResults(Exception):
    """The OS refuses to read part of the results tree (permissions, I/O error, a broken link). A
    report without those files would silently drop their runs, so there is no report instead."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def _walk(results_dir: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` under `results_dir`, sorted; hidden directories (the runners'
    `.rtrrl-bench`, a report being built) are not results. Raises `UnreadableResults`."""

    def fail(e: OSError) -> None:
        raise UnreadableResults(Path(e.filename or results_dir), e.strerror or str(e))

    found, seen = [], set()
    for root, dirs, files in os.walk(results_dir, onerror=fail, followlinks=True):  # linked-in datasets count
        seen.add(os.path.realpath(root))
        dirs[:] = [d for d in dirs if not d.startswith(".") and os.path.realpath(Path(root, d)) not in seen]
        found += [Path(root, f) for f in files if fnmatch.fnmatchcase(f, pattern)]
    unique: dict[str, Path] = {}
    for path in sorted(found):  # a file reached through two links counts once (the first path in order)
        unique.setdefault(os.path.realpath(path), path)
    return sorted(unique.values())


def _read(path: Path) -> str:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the report forever
            raise UnreadableResults(path, "not a regular file")
        return path.read_bytes().decode()
    except OSError as e:
        raise UnreadableResults(path, e.strerror or str(e)) from None


def load_results(results_dir: Path) -> Loaded:
    """Every `seed_*.json` under `results_dir` (moved-aside files end differently and are ignored).
    A file that is not valid JSON or not a valid result is listed in `rejected`; one the OS will not
    let us read raises `UnreadableResults`."""
    out = Loaded()
    for path in _walk(Path(results_dir), "seed_*.json"):
        try:
            data = json.loads(_read(path))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            out.rejected.append((path, f"unreadable JSON: {e}"))
            continue
        problem = validate(data)
        if problem:
            out.rejected.append((path, f"schema: {problem}"))
            continue
        out.runs.append(data)
        out.paths.append(path)
    for path in _walk(Path(results_dir), "plan_*.json"):
        try:
            plan = json.loads(_read(path))
            if plan.get("format") != PLAN_FORMAT:
                raise ValueError(f"format {plan.get('format')!r} is not {PLAN_FORMAT!r}")
            runs = {(str(r["task"]), str(r["agent"]), int(r["seed"])) for r in plan["runs"]}
            out.planned.setdefault(str(plan["suite"]), set()).update(runs)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
            out.rejected.append((path, f"unreadable plan: {e}"))
    return out


def load_reference(name: str, data_dir: Path | None = None) -> dict[str, Any] | None:
    """`normalization.json` or `paper_tables.json`; None when absent (the report says so)."""
    path = (data_dir or DATA_DIR) / name
    if not path.is_file():
        return None
    return json.loads(path.read_text())


class ConstantsError(ValueError):
    """A user's constants file that cannot be used (unreadable, malformed, or redefining a task the
    package's table already has)."""


def with_user_constants(constants: dict[str, Any] | None, path: Path) -> dict[str, Any]:
    """The package's constants plus a user's file for their own tasks (written by `rtrrl-bench
    normalization --measure --task ID --plugin MODULE --write FILE`). The package's tasks keep their
    versioned numbers: a user file may add tasks, never move a published constant."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConstantsError(f"cannot read constants file {path}: {getattr(e, 'strerror', None) or e}") from None
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    if not isinstance(tasks, dict) or not tasks:
        raise ConstantsError(f"{path}: no `tasks` in it (write one with `rtrrl-bench normalization --write FILE`)")
    for tid, c in tasks.items():
        ok = isinstance(c, dict) and all(isinstance(c.get(k), int | float) for k in ("floor", "ceiling"))
        if not ok or not c["ceiling"] > c["floor"]:
            raise ConstantsError(f"{path}: task {tid!r} needs numbers `floor` < `ceiling`")
    base = constants or {"version": None, "floor_protocol": doc.get("floor_protocol", {}), "tasks": {}}
    clash = sorted(set(tasks) & set(base["tasks"]))
    if clash:
        named = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
        raise ConstantsError(f"{path} redefines the package's constants for {named}; a user file may only add tasks")
    return {**base, "tasks": {**base["tasks"], **tasks}, "user_constants": {"file": str(path), "tasks": sorted(tasks)}}
