"""RTRRL's fast paths give the trajectory of the straightforward computation, to float rounding."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from agents.base import scan_iterations
from agents.rtrrl import LinearTDAgent, LRUAgent, RTRRLAgent
from agents.updates import joint_adam_applies, make_update
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


@dataclasses.dataclass(frozen=True)
class _PerGroup:
    """Mixin: the straightforward optimiser, one optax Adam per parameter group."""

    @property
    def update_rule(self):
        return make_update(self.config, joint=False)


@pytest.mark.parametrize("base", [RTRRLAgent, LRUAgent, LinearTDAgent])
def test_joint_adam_follows_the_per_group_adams(base):
    fast = base()
    plain = dataclasses.make_dataclass("Plain", [], bases=(_PerGroup, base), frozen=True)()
    assert joint_adam_applies(fast.config), "the default configs take the fast path"
    env = make_env(TASKS["CartPole-vel"])
    key = jax.random.PRNGKey(3)
    train_fast = jax.jit(lambda s: fast.train(s, env, 100))  # compiled once, not once per chunk
    train_plain = jax.jit(lambda s: plain.train(s, env, 100))
    start = jax.jit(lambda k: fast.init(k, env))(key)
    a, b = start, jax.jit(lambda k: plain.init(k, env))(key)
    for _ in range(3):  # 3 x 100 steps: several episodes, the same actions throughout
        a, _ = train_fast(a)
        b, _ = train_plain(b)
        np.testing.assert_array_equal(a.carry.pending, b.carry.pending)
        for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6)
    assert not np.allclose(a.params.readouts.actor, start.params.readouts.actor), "it learned"


def test_scan_iterations_sums_like_a_hand_loop():
    agent = RTRRLAgent()
    env = make_env(TASKS["CartPole-vel"])
    state = jax.jit(lambda k: agent.init(k, env))(jax.random.PRNGKey(0))
    step = jax.jit(lambda s: agent._iteration(s, env))
    s, metrics = state, []
    for _ in range(60):
        s, m = step(s)
        metrics.append(m)
    got_state, got = jax.jit(lambda s: scan_iterations(lambda x: agent._iteration(x, env), s, 60))(state)
    assert float(got.episodes) == sum(float(m.episodes) for m in metrics) > 0
    np.testing.assert_allclose(got.episode_return_sum, sum(float(m.episode_return_sum) for m in metrics), rtol=1e-6)
    for k, v in got.diagnostics.items():
        np.testing.assert_allclose(v, np.mean([float(m.diagnostics[k]) for m in metrics]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_state.params.readouts.actor, s.params.readouts.actor, rtol=1e-5, atol=1e-6)
