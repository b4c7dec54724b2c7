"""Normalization constants: complete, in sync with their rules, reproducible, and ceilings that
hold up against the environments themselves."""

from __future__ import annotations

import json

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import normalization as norm
from benchmarks.suites import FLOOR_BUDGET, FLOOR_SEEDS, SUITES
from benchmarks.tasks import TASKS

DOC = norm.load()


def test_every_task_has_constants_of_this_version():
    assert DOC["version"] == norm.NORMALIZATION_VERSION
    assert set(DOC["tasks"]) == set(TASKS)
    assert SUITES["normalization"].tasks == tuple(TASKS)
    proto = DOC["floor_protocol"]
    assert proto["seeds"] == list(FLOOR_SEEDS) and proto["budget"]["max_env_steps"] == FLOOR_BUDGET.max_env_steps
    for tid, c in DOC["tasks"].items():
        assert c["floor_seeds"] == len(FLOOR_SEEDS), tid
        assert c["ceiling"] > c["floor"] and c["ceiling"] > c["floor_final"], tid


def test_ceilings_match_their_rules():
    """The file is regenerated from the rules, never edited by hand."""
    for tid, c in DOC["tasks"].items():
        assert (c["ceiling"], c["ceiling_source"]) == norm.ceiling(TASKS[tid]), tid


def test_a_floor_is_reproduced_by_the_runner(cli, tmp_path):
    """Re-running the stored protocol on one task gives the stored floor exactly."""
    code, _, err = cli("run", "--suite", "normalization", "--task", "CartPole-vel", "--out", str(tmp_path), "--jobs", "1")
    assert code == 0, err
    floors = norm.floors_from_results(tmp_path)
    stored = DOC["tasks"]["CartPole-vel"]
    for k in ("floor", "floor_std", "floor_final", "floor_final_std", "floor_seeds"):
        assert floors["CartPole-vel"][k] == pytest.approx(stored[k], rel=1e-12), k


def test_normalization_command_shows_and_refuses(cli):
    code, out, _ = cli("normalization")
    assert code == 0 and "CartPole-vel" in out and f"v{norm.NORMALIZATION_VERSION}" in out
    code, _, err = cli("normalization", "--write")
    assert code == 2 and "--from" in err and len(err.strip().splitlines()) == 1


def test_bandit_ceilings_are_the_oracle_returns():
    """Bernoulli: the better arm always pays with p = 0.9; Gaussian: E[max(0, mu)], mu ~ N(-1, 1)."""
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    env, params = gymnax.make("BernoulliBandit-misc")
    _, state = jax.vmap(env.reset, (0, None))(keys, params)
    np.testing.assert_allclose(np.asarray(state.exp_reward_best), 0.9, rtol=1e-6)
    cap = TASKS["BernoulliBandit"].max_episode_length
    assert norm.ceiling(TASKS["BernoulliBandit"])[0] == pytest.approx(0.9 * cap)

    env, params = gymnax.make("GaussianBandit-misc")
    _, state = jax.vmap(env.reset, (0, None))(keys, params)
    oracle = np.asarray(jnp.maximum(state.mu, 0.0))
    per_step = norm.ceiling(TASKS["GaussianBandit-ep1000"])[0] / 1000
    assert abs(oracle.mean() - per_step) < 4 * oracle.std() / np.sqrt(len(oracle))


def test_constants_file_is_plain_json_with_sorted_keys():
    text = norm.PATH.read_text()
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
