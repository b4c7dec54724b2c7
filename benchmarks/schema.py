"""The result file schema: one JSON file per (suite, task, agent, seed).

Versioned: bump `SCHEMA_VERSION` on any change. v2 added `curve.diagnostics`; v1 files (without
it) still validate and load. `reports/` never imports
this module; it validates files against the JSON Schema exported from it
(`reports/run_result.schema.json`, kept in sync by a test and `rtrrl-bench schema`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2

Status = Literal["completed", "early-stopped", "diverged", "failed"]
FINISHED_STATUSES: tuple[str, ...] = ("completed", "early-stopped", "diverged")
"""Runs that resume skips. `failed` runs (exceptions) are redone."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    schema_version: Literal[1, 2] = SCHEMA_VERSION
    run_id: str = Field(description="suite/task/agent/seed")
    suite: str
    task: str
    agent: str
    seed: int
    config: dict[str, Any] = Field(description="agent hyperparameters, task settings, budget and evaluation protocol")
    config_hash: str = Field(description="sha256 of the canonical JSON of config")
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


def json_schema() -> dict[str, Any]:
    schema = RunResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"rtrrl-bench/run-result/v{SCHEMA_VERSION}"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
