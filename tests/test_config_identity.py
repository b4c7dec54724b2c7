"""A config's identity survives new options: a field at the neutral value it declares ("the
behaviour before this field existed") is left out of the config and its hash, so adding a
default-off switch to any config keeps every committed run done; any other value is a new run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import agents as agent_registry
from agents.rtrrl import Compat, RTRRLConfig
from benchmarks.config import NEUTRAL, config_hash, to_jsonable
from benchmarks.plan import make_plan

ROOT = Path(__file__).resolve().parent.parent
PROBE = "probe_option"
DATASETS = {
    # directory: (profile, overrides per agent), as each dataset's README plans it
    "reference": ("paper", {"ppo-gru": {"budget": {"max_env_steps": 2_000_000, "eval_interval": 100_000}}}),
    "screen": ("default", {}),
}


def with_new_option(cls: type, default=False, neutral=False) -> type:
    """`cls` with one more field, as a later version of the code would add it."""
    f = dataclasses.field(default=default, metadata={NEUTRAL: neutral})
    return dataclasses.make_dataclass(cls.__name__, [(PROBE, bool, f)], bases=(cls,), frozen=True)


def test_a_field_at_its_neutral_value_is_left_out_of_the_config_and_its_hash():
    new = with_new_option(RTRRLConfig)
    assert to_jsonable(new()) == to_jsonable(RTRRLConfig())
    assert config_hash(to_jsonable(new())) == config_hash(to_jsonable(RTRRLConfig()))
    assert to_jsonable(new(**{PROBE: True}))[PROBE] is True
    assert config_hash(to_jsonable(new(**{PROBE: True}))) != config_hash(to_jsonable(RTRRLConfig()))


def test_a_neutral_field_inside_a_nested_group_is_left_out_too():
    compat = with_new_option(Compat)
    assert to_jsonable(RTRRLConfig(compat=compat())) == to_jsonable(RTRRLConfig())
    changed = to_jsonable(RTRRLConfig(compat=compat(**{PROBE: True})))
    assert changed["compat"][PROBE] is True and changed != to_jsonable(RTRRLConfig())


def test_a_default_that_is_not_neutral_is_recorded():
    """A new field whose default changes behaviour must make the default config a new run."""
    new = with_new_option(RTRRLConfig, default=True, neutral=False)
    assert to_jsonable(new())[PROBE] is True


def _committed(directory: Path) -> dict[tuple[str, str], tuple[set[str], set[int]]]:
    """(suite, agent label) -> (tasks, seeds) of the committed runs, read from their paths."""
    out: dict[tuple[str, str], tuple[set[str], set[int]]] = {}
    for path in directory.glob("*/*/*/seed_*.json"):
        suite, task, label = path.parts[-4:-1]
        tasks, seeds = out.setdefault((suite, label), (set(), set()))
        tasks.add(task)
        seeds.add(int(path.stem.removeprefix("seed_")))
    return out


@pytest.fixture
def new_option_everywhere(monkeypatch):
    """Every registered agent's config gains a neutral field, as if the code had grown one."""
    for name, (agent_cls, config_cls) in list(agent_registry.AGENTS.items()):
        monkeypatch.setitem(agent_registry.AGENTS, name, (agent_cls, with_new_option(config_cls)))


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_the_committed_runs_stay_done_when_every_config_gains_a_neutral_field(new_option_everywhere, dataset):
    directory = ROOT / "data" / dataset
    profile, capped = DATASETS[dataset]
    committed = _committed(directory)
    assert committed, f"data/{dataset} holds no runs"
    for agent in {agent_registry.split_label(label)[0] for _, label in committed}:
        assert PROBE in {f.name for f in dataclasses.fields(agent_registry.default_config(agent))}
    for (suite, label), (tasks, seeds) in sorted(committed.items()):
        agent = agent_registry.split_label(label)[0]
        plan = make_plan(directory, suite, sorted(tasks), [label], sorted(seeds), capped.get(agent), profile=profile)
        assert not plan.redo, plan.redo[:3]
        assert plan.num_runs == 0, f"{suite} {label}: {plan.num_runs} runs to do"


def test_a_non_neutral_value_of_the_new_field_makes_a_new_run(new_option_everywhere):
    directory = ROOT / "data" / "screen"
    for label in ("rtrrl", "rtrrl@paper-code"):
        plan = make_plan(directory, "rtrrl-screen", ["MemoryChain-4"], [label], [0], {"rtrrl": {PROBE: True}})
        assert plan.num_runs == 1 and len(plan.redo) == 1 and plan.redo[0][1].startswith("stale: config hash")
        neutral = make_plan(directory, "rtrrl-screen", ["MemoryChain-4"], [label], [0], {"rtrrl": {PROBE: False}})
        assert neutral.num_runs == 0 and not neutral.redo, "the neutral value set explicitly is the same run"
