"""The result file schema: one JSON file per (suite, task, agent, seed).

Versioned: bump `SCHEMA_VERSION` on any change of the file. v2 added `curve.diagnostics`, v3
`config_source`; v1 and v2 files (without them) still validate and load. The layout of `config`
has its own version, `CONFIG_FORMAT_VERSION`, because it is hashed: a field added beside `config`
must not make every committed run stale. `reports/` never imports this module; it validates
files against the JSON Schema exported from it (`reports/run_result.schema.json`, kept in sync by
a test and `rtrrl-bench schema`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

SCHEMA_VERSION = 3
"""The layout of a result file; files of every earlier version still validate."""
CONFIG_FORMAT_VERSION = 2
"""The layout of `config`, recorded inside it as `config.schema_version` and so part of the hash:
bump it only for a change that should make every existing run stale."""

Status = Literal["completed", "early-stopped", "diverged", "failed"]
FINISHED_STATUSES: tuple[str, ...] = ("completed", "early-stopped", "diverged")
"""Runs that resume skips. `failed` runs (exceptions) are redone."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _without_null(data: dict[str, Any], key: str) -> dict[str, Any]:
    """`data` without `key` where it is null: an optional field that is absent stays absent."""
    if data.get(key, False) is None:
        del data[key]
    return data


class Curve(_Strict):
    """One entry per evaluation, in order. Scores are null where not finite (divergence)."""

    env_steps: list[int] = Field(description="training env steps of this seed at the evaluation")
    wall_time: list[float] = Field(description="seconds since the block started running (compile excluded)")
    eval_score: list[float | None] = Field(description="paper metric [algorithm.md P5] at the evaluation")
    train_return: list[float | None] = Field(
        description="mean return of training episodes finished since the previous evaluation; null if none"
    )
    train_episodes: list[int] = Field(description="training episodes finished since the previous evaluation")
    diagnostics: dict[str, list[float | None]] = Field(
        default_factory=dict,
        description="the agent's learning-health numbers at each evaluation (name -> one value per evaluation), "
        "computed inside the training program: e.g. entropy, td_error, saturation for the RTRRL family; "
        "entropy, approx_kl, clip_fraction, value_loss, explained_variance for PPO (README: Learning "
        "diagnostics); null where not finite (added in v2: absent in v1 files)",
    )


class Timing(_Strict):
    compile_s: float = Field(description="compiling the block's programs (shared by its seeds)")
    run_s: float = Field(description="running the block after compilation (shared by its seeds)")
    steps_per_s: float = Field(description="all seeds' training env steps of the block / run_s")
    block_size: int = Field(description="seeds trained together in one vmapped program")
    block_seeds: list[int]
    compile_cache: str | None = Field(
        description="persistent compilation cache in use (compile_s is small on a hit); null if off"
    )
    compile_cache_hits: int | None = Field(
        default=None,
        description="programs of the block (init, epoch, final) loaded from the persistent cache "
        "instead of compiled; null if the cache is off (added after v1's first files: absent there)",
    )


SourceKind = Literal["paper", "library", "screen", "tuned", "none", "unrecorded"]
"""`agents.sources.KINDS` (this module stays free of the agents, a test keeps the two equal)."""


class ConfigSource(_Strict):
    """How the agent's base configuration (its defaults or its preset) was chosen (`agents.sources`),
    and what this run changed in it. Beside `config`, never hashed: a better record of the same
    configuration must not make a run stale."""

    kind: SourceKind = Field(
        description="paper (the paper's settings or its authors' code) | library (a library's published defaults, "
        "not tuned here) | screen (chosen by a screen in this project) | tuned | none (nothing to choose) | "
        "unrecorded (registered without a source)"
    )
    summary: str = Field(description="one sentence on where the base configuration comes from")
    tasks: list[str] = Field(description="screen/tuned: the tasks the choice was measured on; empty otherwise")
    seeds: list[int] = Field(description="screen/tuned: the seeds of every compared configuration; empty otherwise")
    configurations: int | None = Field(description="screen/tuned: how many configurations were compared")
    env_steps: int | None = Field(description="screen/tuned: the env-step budget of one run")
    reference: str | None = Field(description="the document in this repository that records the choice")
    overrides: dict[str, Any] = Field(
        description="hyperparameters where this run departs from the base configuration, by their `--set` name "
        "(e.g. a suite's `meta_rl` or a user's `--set`); the summary describes the base alone"
    )
    recorded: str | None = Field(
        default=None,
        description="present only where the record was added to an existing file, and how it was matched to the "
        "run; absent where the runner wrote it with the run",
    )

    @model_serializer(mode="wrap")
    def _omit_unset_recorded(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A runner's record carries no `recorded` key at all, rather than a null one."""
        return _without_null(handler(self), "recorded")


class Provenance(_Strict):
    git_commit: str | None
    git_dirty: bool | None
    python: str
    packages: dict[str, str | None]
    platform: str = Field(description="jax backend: cpu, gpu, tpu")
    device: str
    host: str
    xla_flags: str | None
    nproc: str | None
    started_utc: str
    ended_utc: str
    command: str


class RunResult(_Strict):
    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    run_id: str = Field(description="suite/task/agent/seed")
    suite: str
    task: str
    agent: str
    seed: int
    config: dict[str, Any] = Field(description="agent hyperparameters, task settings, budget and evaluation protocol")
    config_hash: str = Field(description="sha256 of the canonical JSON of config")
    config_source: ConfigSource | None = Field(
        default=None,
        description="how the agent's configuration was chosen, with this run's overrides; not part of config or "
        "its hash (added in v3: absent in v1 and v2 files)",
    )
    status: Status
    message: str | None = Field(description="why the run failed or diverged; null otherwise")
    stop_reason: str | None = Field(description="budget | patience | divergence | error")
    curve: Curve
    best_score: float | None = Field(
        description="best paper-metric score over evaluations (the paper's per-run result)"
    )
    best_step: int | None = Field(description="env steps at the best evaluation")
    final_eval_score: float | None = Field(description="paper-metric score at the last evaluation")
    final_score: float | None = Field(
        description="final-policy score: mean return of complete episodes from shared eval keys"
    )
    env_steps: int = Field(description="training env steps done by this seed")
    num_evals: int
    timing: Timing | None
    provenance: Provenance

    @model_serializer(mode="wrap")
    def _omit_missing_source(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A v1 or v2 file read and written again stays as it was."""
        return _without_null(handler(self), "config_source")


def json_schema() -> dict[str, Any]:
    schema = RunResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"rtrrl-bench/run-result/v{SCHEMA_VERSION}"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
