"""Load and validate result files against the exported JSON Schema; never crash on one bad file.

Also reads the JSON the report compares against (the `rtrrl_data` package: normalization
constants, the paper's tables) as plain files: `reports/` never imports training code.
"""

from __future__ import annotations

import json
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


def load_results(results_dir: Path) -> Loaded:
    """Every `seed_*.json` under `results_dir` (moved-aside files end differently and are ignored)."""
    out = Loaded()
    for path in sorted(Path(results_dir).rglob("seed_*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            out.rejected.append((path, f"unreadable JSON: {e}"))
            continue
        problem = validate(data)
        if problem:
            out.rejected.append((path, f"schema: {problem}"))
            continue
        out.runs.append(data)
        out.paths.append(path)
    for path in sorted(Path(results_dir).rglob("plan_*.json")):
        try:
            plan = json.loads(path.read_text())
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
