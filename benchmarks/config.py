"""Run configuration: overrides from the command line and config files, canonical JSON and its hash.

Override keys are `<agent>.<field>` (e.g. `random.num_envs`; a field of a nested group as
`rtrrl.compat.shared_action_key`), `task.<field>` (applies to every task of the run) and
`budget.<field>` / `eval.<field>`. Values are checked against
the dataclass field's type; a config file (TOML or JSON) holds the same keys as tables:

    [budget]
    max_env_steps = 100000
    [task]
    max_episode_length = 1000
    [agent.random]
    num_envs = 4
    [agent.rtrrl.compat]
    shared_action_key = true

A run's identity is the hash of its config's canonical JSON: a file whose hash matches is done.
So that a new option does not make every committed run stale, a dataclass field may declare its
*neutral* value, the behaviour before the field existed (key `NEUTRAL`; agents spell it out, as
they do not import benchmarks):

    memory_cap: int | None = field(default=None, metadata={"neutral": None})

`to_jsonable` leaves a field at its neutral value out of the config, the stored one and the hashed
one alike (so a file's `config_hash` stays the hash of its own `config`); a missing field reads as
its neutral value. Any other value is recorded and changes the hash. Fields that existed when a
dataset was made declare nothing: they are always recorded.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError


class ConfigError(Exception):
    """A user error in overrides or config files (reported as one line, exit 2)."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


NEUTRAL = "neutral"
"""Key of `dataclasses.field(metadata=...)` that declares a field's neutral value (module docstring)."""


def is_neutral(f: dataclasses.Field, value: Any) -> bool:
    """Whether `value` of field `f` is the neutral value it declares (compared as recorded JSON)."""
    if NEUTRAL not in f.metadata:
        return False
    return canonical_json(to_jsonable(value)) == canonical_json(to_jsonable(f.metadata[NEUTRAL]))


def to_jsonable(obj: Any) -> Any:
    """Dataclasses/tuples -> plain JSON data (tuples become lists); a dataclass field at its
    declared neutral value is left out (module docstring)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        values = ((f, getattr(obj, f.name)) for f in dataclasses.fields(obj))
        return {f.name: to_jsonable(v) for f, v in values if not is_neutral(f, v)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def parse_value(text: str) -> Any:
    """A command-line value: JSON if it parses (numbers, true, [1,3]), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_set_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """`["random.num_envs=4", "task.obs_mask=odd"]` -> {"random": {"num_envs": 4}, "task": {...}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        scope, dot, name = key.strip().partition(".")
        if not sep or not dot or not scope or not name:
            raise ConfigError(
                f"--set {item!r}: expected SCOPE.FIELD=VALUE, e.g. random.num_envs=4 or budget.patience=5"
            )
        *groups, field = name.split(".")  # `rtrrl.compat.shared_action_key`: a nested settings group
        target = out.setdefault(scope, {})
        for group in groups:
            target = target.setdefault(group, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {item!r}: {scope}.{group} is set as a value and as a group")
        target[field] = parse_value(value.strip())
    return out


def load_config_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML or JSON config file into the same shape as `parse_set_options`."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"config file {p} is not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: expected a table at the top level")
    out: dict[str, dict[str, Any]] = {}
    for scope, table in data.items():
        if scope == "agent":
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ConfigError(f"config file {p}: [agent.<name>] tables expected")
            for name, fields in table.items():
                out.setdefault(name, {}).update(fields)
        elif isinstance(table, dict):
            out.setdefault(scope, {}).update(table)
        else:
            raise ConfigError(f"config file {p}: {scope!r} must be a table")
    return out


def merge_overrides(*layers: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Later layers win (config file first, then --set)."""

    def merge(into: dict[str, Any], fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if isinstance(value, dict) and isinstance(into.get(name), dict):  # a nested group: merge, not replace
                merge(into[name], value)
            else:
                into[name] = copy.deepcopy(value)

    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for scope, fields in layer.items():
            merge(out.setdefault(scope, {}), fields)
    return out


def apply_overrides(obj: Any, overrides: dict[str, Any], what: str, allowed: tuple[str, ...] | None = None) -> Any:
    """A copy of the frozen dataclass `obj` with `overrides`, each value validated against its field type."""
    if not overrides:
        return obj
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj) if allowed is None or f.name in allowed]
    changes = {}
    for name, value in overrides.items():
        if name not in names:
            raise ConfigError(f"{what} has no setting {name!r}; valid: {', '.join(names)}")
        current = getattr(obj, name)
        if name in ("env_params", "env_kwargs") and isinstance(value, dict):  # merge into the task's own
            value = tuple(sorted({**dict(current), **value}.items()))
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = apply_overrides(current, value, f"{what}.{name}")
            continue
        try:
            changes[name] = TypeAdapter(hints[name]).validate_python(value, strict=False)
        except ValidationError as e:
            msg = e.errors()[0]["msg"]
            raise ConfigError(f"{what}.{name}={value!r}: {msg}") from None
    try:
        return dataclasses.replace(obj, **changes)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: {e}") from None
