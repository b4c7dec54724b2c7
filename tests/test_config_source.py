"""Every configuration says where it came from (`agents.sources`), every result file records it
with the run's overrides (`config_source`), and none of that moves a config hash."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

import agents as agent_registry
from agents.random_agent import RandomAgent, RandomConfig
from agents.sources import KINDS, RTRRL_SCREEN, SCREEN_PROBE_TASKS, ConfigSource
from benchmarks.config import config_hash
from benchmarks.plan import make_plan
from benchmarks.program import run_unit
from benchmarks.schema import CONFIG_FORMAT_VERSION, SCHEMA_VERSION, SourceKind
from benchmarks.suites import SCREEN_BUDGET, SUITES
from reports.load import load_results, validate

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

SHIPPED = {
    "random": "none",
    "rtrrl": "screen",
    "rtrrl-rtrl": "paper",
    "rtrrl-lru": "paper",
    "linear-td": "paper",
    "ppo": "library",
    "ppo-gru": "library",
    "ppo-lstm": "library",
    "ppo-ctrnn": "paper",
}
"""The kind of every shipped agent's defaults (docs/agents.md: Where each default comes from)."""

FAST = ["--max-steps", "4000", "--eval-interval", "2000", "--set", "eval.eval_steps=200"]


def test_every_shipped_agent_and_preset_says_where_its_config_comes_from():
    shipped = {n for n in agent_registry.AGENTS if not n.startswith("test-")}  # conftest's fault agents aside
    assert {n: agent_registry.config_source(n).kind for n in shipped} == SHIPPED
    for agent, presets in agent_registry.PRESETS.items():
        for name in presets:
            source = agent_registry.config_source(agent, name)
            assert source.kind == "paper", f"{agent}@{name}"
    for source in {agent_registry.config_source(n) for n in shipped}:
        assert source.summary and (ROOT / source.reference).is_file(), source


def test_the_screen_source_is_the_screens_docs_and_suite_describe():
    suite = SUITES["rtrrl-screen"]
    assert set(RTRRL_SCREEN.tasks) == set(suite.tasks) | set(SCREEN_PROBE_TASKS)
    assert len(RTRRL_SCREEN.tasks) == len(set(RTRRL_SCREEN.tasks)) == 36
    assert RTRRL_SCREEN.seeds == tuple(range(suite.seeds))
    assert RTRRL_SCREEN.env_steps == SCREEN_BUDGET.max_env_steps
    doc = (ROOT / RTRRL_SCREEN.reference).read_text()
    screen1 = doc[doc.index("## Screen 1") : doc.index("## Screen 2")]
    candidates = [line for line in screen1.splitlines() if line.startswith("| ")][1:]  # less the header
    assert len(candidates) == 17 and "17 candidates" in RTRRL_SCREEN.summary
    assert RTRRL_SCREEN.configurations == 17 + 2 + 3, "screen 2 added the two presets and entropy 1.5e-2, 2e-2, 3e-2"


def test_the_file_schema_knows_every_kind():
    assert typing.get_args(SourceKind) == KINDS


def test_a_source_checks_itself():
    with pytest.raises(ValueError, match="kind"):
        ConfigSource("guessed", "a guess")
    with pytest.raises(ValueError, match="tasks, seeds"):
        ConfigSource("screen", "a screen that does not say on what")
    assert ConfigSource("tuned", "t", ("CartPole-vel",), (0,), 3, 1000).kind == "tuned"


def _unit(out: Path, suite: str, task: str, label: str, overrides=None):
    (unit,) = make_plan(out, suite, [task], [label], [0], overrides).units
    return unit


@pytest.mark.parametrize(
    "suite, task, label, overrides, kind, expected",
    [
        ("smoke", "CartPole-v1", "rtrrl", None, "screen", {}),
        ("popgym", "RepeatPreviousEasy", "ppo-gru", None, "library", {"meta_rl": True}),  # the suite's setting
        ("popgym", "RepeatPreviousEasy", "rtrrl", None, "screen", {}),
        (
            "smoke",
            "CartPole-v1",
            "rtrrl@paper-code",
            {"rtrrl": {"entropy_rate": 0.03}},
            "paper",
            {"entropy_rate": 0.03},
        ),
        (
            "smoke",
            "CartPole-v1",
            "rtrrl@paper-code",
            {"rtrrl@paper-code": {"compat": {"shared_action_key": False}}, "budget": {"max_env_steps": 4000}},
            "paper",
            {"compat.shared_action_key": False},  # a preset's own value set back: an override of the preset
        ),
        ("smoke", "CartPole-v1", "ppo", {"ppo": {"lr": 2.5e-4}}, "library", {}),  # the default's own value
    ],
)
def test_overrides_are_what_the_run_changed_in_its_base(tmp_path, suite, task, label, overrides, kind, expected):
    source = _unit(tmp_path, suite, task, label, overrides).config_source()
    base = agent_registry.config_source(*agent_registry.split_label(label))
    assert source == {
        **dataclasses.asdict(base),
        "tasks": list(base.tasks),
        "seeds": list(base.seeds),
        "overrides": expected,
    }
    assert source["kind"] == kind


def test_the_source_is_not_part_of_the_config_or_its_hash(tmp_path, monkeypatch):
    labels = ("rtrrl", "rtrrl@paper-code")
    before = {lab: _unit(tmp_path, "smoke", "CartPole-v1", lab) for lab in labels}
    configs = {lab: json.dumps(u.run_config(0)) for lab, u in before.items()}  # fixed before the source changes
    hashes = {lab: config_hash(u.run_config(0)) for lab, u in before.items()}
    kinds = {lab: u.config_source()["kind"] for lab, u in before.items()}
    tuned = ConfigSource("tuned", "a later tune", ("CartPole-v1",), (0, 1), 50, 10_000, "docs/agents.md")
    monkeypatch.setitem(agent_registry.SOURCES, "rtrrl", tuned)
    paper_code = agent_registry.PRESETS["rtrrl"]["paper-code"]
    monkeypatch.setitem(agent_registry.PRESETS["rtrrl"], "paper-code", dataclasses.replace(paper_code, source=tuned))
    for lab in labels:
        after = _unit(tmp_path, "smoke", "CartPole-v1", lab)
        assert after.config_source()["kind"] == "tuned" != kinds[lab]
        assert json.dumps(after.run_config(0)) == configs[lab] and config_hash(after.run_config(0)) == hashes[lab]
    assert before["rtrrl"].run_config(0)["schema_version"] == CONFIG_FORMAT_VERSION == 2 != SCHEMA_VERSION


@dataclass(frozen=True)
class UnsourcedAgent(RandomAgent):
    """A user's plugin agent, registered the way docs/extending.md showed before sources existed."""

    name: ClassVar[str] = "test-unsourced"


@pytest.fixture
def plugin():
    agent_registry.register_agent(UnsourcedAgent, RandomConfig)
    yield UnsourcedAgent.name
    del agent_registry.AGENTS[UnsourcedAgent.name], agent_registry.SOURCES[UnsourcedAgent.name]


def test_the_runner_records_the_source_and_overrides_in_every_file(cli, tmp_path, plugin):
    out = tmp_path / "res"
    args = ["--task", "MemoryChain-4", "--seeds", "1", "--jobs", "1", "--agent", "random", "--agent", plugin]
    args += ["--agent", "test-boom"]  # in this process: a plugin registered here is unknown to workers
    code, _, err = cli("run", "--suite", "smoke", *args, "--out", str(out), *FAST, "--set", f"{plugin}.num_envs=2")
    assert code == 1, err  # test-boom fails by design
    files = {p.parent.name: json.loads(p.read_text()) for p in out.rglob("seed_0.json")}
    assert {a: (d["schema_version"], d["status"]) for a, d in files.items()} == {
        "random": (3, "completed"),
        plugin: (3, "completed"),
        "test-boom": (3, "failed"),
    }
    assert files["random"]["config_source"] == {
        "kind": "none",
        "summary": "no hyperparameters to choose: uniform random actions",
        "tasks": [],
        "seeds": [],
        "configurations": None,
        "env_steps": None,
        "reference": "docs/agents.md",
        "overrides": {},
    }, "a runner's record carries no `recorded` marker"
    assert files[plugin]["config_source"]["kind"] == "unrecorded"
    assert files[plugin]["config_source"]["overrides"] == {"num_envs": 2}
    assert files["test-boom"]["config_source"]["kind"] == "unrecorded", "failure records carry it too"
    assert all(validate(d) is None for d in files.values())
    assert files["random"]["config"]["schema_version"] == 2


def test_version_2_files_still_load_and_stay_as_they_were(tmp_path):
    """A file written before `config_source` validates, resumes, and is written back unchanged."""
    from benchmarks.storage import read_result, write_result

    unit = _unit(tmp_path / "plan", "smoke", "MemoryChain-4", "random", {"budget": {"max_env_steps": 2000}})
    (result,) = run_unit(unit, "test")
    data = result.model_dump(mode="json")
    data["schema_version"] = 2
    del data["config_source"]
    old = tmp_path / "seed_0.json"
    text = json.dumps(data, indent=1) + "\n"
    old.write_text(text)
    assert read_result(old).config_source is None and validate(data) is None
    write_result(old, read_result(old))
    assert old.read_text() == text
    assert len(load_results(tmp_path).runs) == 1


def test_list_shows_where_each_config_comes_from(cli):
    code, out, _ = cli("list", "agents")
    flat = " ".join(out.split())  # captions wrap at the table's width
    assert code == 0
    for name in SHIPPED:
        source = agent_registry.config_source(name)
        assert f"defaults ({source.kind}): {source.summary}" in flat, name
    code, out, _ = cli("list", "presets")
    for agent, presets in agent_registry.PRESETS.items():
        for name, preset in presets.items():
            first = f"{preset.source.kind}: {preset.source.summary.split()[0]}"
            assert any(agent in line and name in line and first in line for line in out.splitlines()), (agent, name)


# ---- the committed datasets ---------------------------------------------------------------------

CAPPED = {"ppo-gru": {"budget": {"max_env_steps": 2_000_000, "eval_interval": 100_000}}}
"""data/reference's agents below the paper's protocol (as tests/test_reference_dataset.py)."""
DATASETS = {
    "reference": ("gymnax-paper", "paper", {}),
    "screen": ("rtrrl-screen", "default", {}),
    "screen-entropy-3e-2": ("rtrrl-screen", "default", {"rtrrl": {"entropy_rate": 3e-2}}),
}
"""data/ directory -> the suite, budget profile and overrides it was run with (docs/rtrrl_default.md)."""


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_committed_runs_record_the_source_todays_planner_gives(dataset, tmp_path):
    """The backfilled records are exactly what a run today would write, marked as added later,
    and only for runs whose config hash today's planner reproduces."""
    suite, profile, overrides = DATASETS[dataset]
    loaded = load_results(DATA / dataset)
    assert loaded.runs and not loaded.rejected
    runs: dict[str, list[dict]] = {}
    for run in loaded.runs:
        runs.setdefault(run["agent"], []).append(run)
    for label, group in runs.items():
        tasks = sorted({r["task"] for r in group})
        seeds = sorted({r["seed"] for r in group})
        extra = {**overrides, **CAPPED.get(label, {})}
        plan = make_plan(tmp_path, suite, tasks, [label], seeds, extra, profile=profile)
        units = {(u.task.id, s): u for u in plan.units for s in u.seeds}
        for run in group:
            unit = units[run["task"], run["seed"]]
            assert run["config_hash"] == config_hash(unit.run_config(run["seed"])), run["run_id"]
            record = dict(run["config_source"])
            assert record.pop("recorded") == "added after the run, matched by config hash", run["run_id"]
            assert record == unit.config_source(), run["run_id"]
            assert run["schema_version"] == 3
    if dataset == "screen-entropy-3e-2":
        assert {json.dumps(r["config_source"]["overrides"]) for r in loaded.runs} == {'{"entropy_rate": 0.03}'}
