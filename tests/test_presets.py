"""Named presets: complete, recorded in config and hash, selectable per agent, listed by the CLI."""

import dataclasses
import json

import pytest

import agents as agent_registry
import rtrrl_data
from agents.presets import NOT_PRESET, PRESETS, RTRRL_FAMILY
from agents.rtrrl_config import TABLE1_SETTINGS, RTRRLConfig, UnclippedTable1Config
from benchmarks.config import ConfigError, config_hash
from benchmarks.plan import make_plan
from reports.tables import LR_FALLBACK

PAPER_PRESETS = [(a, p) for a, ps in PRESETS.items() for p in ps]


@pytest.mark.parametrize("agent, preset", PAPER_PRESETS)
def test_presets_spell_out_every_hyperparameter(agent, preset):
    """A preset must not lean on defaults: changing a default would silently change what it runs."""
    fields = {f.name for f in dataclasses.fields(agent_registry.default_config(agent))}
    assert set(dict(PRESETS[agent][preset].settings)) == fields - set(NOT_PRESET)
    cfg = agent_registry.preset_config(agent, preset)
    assert cfg.rnn == agent_registry.default_config(agent).rnn, "a preset keeps the agent's core"


def test_the_two_paper_configurations():
    """The values the paper's Table 1 and the code snapshot behind its tables state (spot checks)."""
    t1 = agent_registry.preset_config("rtrrl", "paper-table1")
    assert (t1.lr_td, t1.lr_rnn, t1.gradient_clip, t1.optimizer, t1.trace_mode, t1.f_align) == (
        1e-3,
        1e-3,
        1.0,
        "adam",
        "accumulate",
        True,
    )
    assert agent_registry.preset_config("rtrrl-rtrl", "paper-table1").f_align is False, "Algorithm 2's RTRL branch"
    code = agent_registry.preset_config("rtrrl", "paper-code")
    assert (code.lr_td, code.lr_rnn, code.gradient_clip, code.trace_mode, code.f_align) == (
        1e-5,
        1e-5,
        None,
        "dutch",
        False,
    )
    assert code.compat.eval_keeps_state and not code.bootstrap_truncation and code.compat.prev_action_at_reset


def test_table1_is_written_once_and_everything_derived_from_it_agrees():
    """`TABLE1_SETTINGS` is the one record of the paper's Table 1: the `paper-table1` preset runs it
    (Algorithm 2's RTRL branch without feedback alignment) and `UnclippedTable1Config` is it
    without the gradient clip, field for field."""
    for agent in RTRRL_FAMILY:
        cfg = agent_registry.preset_config(agent, "paper-table1")
        want = dict(TABLE1_SETTINGS, f_align=agent != "rtrrl-rtrl")
        assert {k: getattr(cfg, k) for k in want} == want, agent
    unclipped = dataclasses.asdict(UnclippedTable1Config())
    assert unclipped == dataclasses.asdict(RTRRLConfig(**dict(TABLE1_SETTINGS, gradient_clip=None)))
    assert UnclippedTable1Config().gradient_clip is None and TABLE1_SETTINGS["gradient_clip"] == 1.0
    for agent in ("rtrrl-rtrl", "rtrrl-lru", "linear-td"):
        cfg = agent_registry.default_config(agent)
        assert isinstance(cfg, UnclippedTable1Config) and cfg.gradient_clip is None, agent


def test_the_reports_record_of_table1_is_what_the_preset_runs():
    """The paper comparison names where our runs leave the paper's Table 1, from paper_tables.json
    (reports never import agents): that record must agree with `TABLE1_SETTINGS` and so with the
    `paper-table1` preset."""
    paper = json.loads(rtrrl_data.PAPER_TABLES.read_text())
    columns = paper["columns"]
    assert {a for t in paper["tables"].values() for r in t["rows"] for a in r["results"]} == set(columns)
    for agent in RTRRL_FAMILY:
        cfg = agent_registry.preset_config(agent, "paper-table1")
        for field, value in columns[agent]["table1"].items():
            got = getattr(cfg, field)
            if got is None and field in LR_FALLBACK:
                got = getattr(cfg, LR_FALLBACK[field])
            assert got == value, (agent, field, got, value)
            if field != "f_align":  # Algorithm 2's RTRL branch: the one per-agent departure
                table = TABLE1_SETTINGS[field]
                assert value == (TABLE1_SETTINGS[LR_FALLBACK[field]] if table is None else table), (agent, field)


def _units(tmp_path, agents, presets=(), overrides=None):
    plan = make_plan(tmp_path, "quick", ["CartPole-vel"], agents, [0], overrides, presets=presets)
    return {u.label: u for u in plan.units}


def test_a_preset_is_its_own_agent_label_with_its_own_hash(tmp_path):
    units = _units(tmp_path, ["rtrrl", "rtrrl@paper-code"])
    base, code = units["rtrrl"], units["rtrrl@paper-code"]
    cfg = code.run_config(0)
    assert cfg["agent"]["name"] == "rtrrl" and cfg["agent"]["preset"] == "paper-code"
    assert (
        cfg["agent"]["hyperparameters"]["lr_rnn"] == 1e-5 and cfg["agent"]["hyperparameters"]["trace_mode"] == "dutch"
    )
    assert base.run_config(0)["agent"]["preset"] is None
    assert config_hash(cfg) != config_hash(base.run_config(0))
    assert code.path(tmp_path, 0).parent.name == "rtrrl@paper-code" and base.path(tmp_path, 0).parent.name == "rtrrl"


def test_preset_option_applies_to_every_agent_that_has_it(tmp_path):
    units = _units(tmp_path, ["random", "linear-td", "rtrrl", "ppo"], presets=["paper-table1"])
    assert set(units) == {"random", "linear-td@paper-table1", "rtrrl@paper-table1", "ppo"}
    units = _units(tmp_path, ["linear-td", "rtrrl"], presets=["rtrrl=paper-code"])
    assert set(units) == {"linear-td", "rtrrl@paper-code"}


def test_overrides_by_name_reach_every_label_and_by_label_only_that_one(tmp_path):
    sets = {"rtrrl": {"entropy_rate": 0.5}, "rtrrl@paper-code": {"lr_td": 0.25}}
    units = _units(tmp_path, ["rtrrl", "rtrrl@paper-code"], overrides=sets)
    assert units["rtrrl"].agent_config.entropy_rate == units["rtrrl@paper-code"].agent_config.entropy_rate == 0.5
    assert units["rtrrl"].agent_config.lr_td != 0.25 and units["rtrrl@paper-code"].agent_config.lr_td == 0.25


@pytest.mark.parametrize(
    "agents, presets, match",
    [
        (["rtrrl@nope"], (), "has no preset 'nope'"),
        (["ppo"], ("paper-code",), "no agent of this run has it"),
        (["rtrrl"], ("ppo=paper-code",), "'ppo' is not in this run"),
        (["ppo"], ("ppo=paper-code",), "it has none"),
        (["rtrrl", "rtrrl@paper-code"], ("rtrrl=paper-code",), "named twice"),
        (["nobody@paper-code"], (), "unknown agent 'nobody'"),
    ],
)
def test_bad_presets_are_user_errors(tmp_path, agents, presets, match):
    with pytest.raises(ConfigError, match=match):
        make_plan(tmp_path, "quick", ["CartPole-vel"], agents, [0], presets=presets)


def test_list_presets(cli):
    code, out, _ = cli("list", "presets")
    assert code == 0
    for agent, preset in PAPER_PRESETS:
        assert any(agent in line and preset in line for line in out.splitlines()), (agent, preset)


def test_screen_suite_runs_the_default_against_both_paper_presets(tmp_path):
    from benchmarks.popgym import FAMILIES
    from benchmarks.suites import SUITES
    from benchmarks.tasks import TASKS

    suite = SUITES["rtrrl-screen"]
    table2 = {t.id for t in TASKS.values() if any(r.startswith("table2:") for r in t.paper_rows)}
    assert len(table2) == 20 and set(suite.tasks) == table2 | {f"{f}Easy" for f in FAMILIES}
    plan = make_plan(tmp_path, "rtrrl-screen", ["CartPole-vel", "MemoryChain-4"])
    labels = {u.label for u in plan.units}
    assert labels == {"random", "rtrrl", "rtrrl@paper-table1", "rtrrl@paper-code"}
    steps = {u.task.id: u.budget.max_env_steps for u in plan.units}
    assert steps == {"CartPole-vel": 5_000_000, "MemoryChain-4": 500_000}
    assert all(len(u.seeds) == 5 for u in plan.units)
