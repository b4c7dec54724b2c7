"""Running statistics against numpy over the concatenated batches; normalisation in train and eval."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.normalize import init_stats, normalize, update_stats
from agents.rtrrl import RTRRLAgent, RTRRLConfig
from benchmarks.envs import make_env
from benchmarks.protocol import paper_score
from benchmarks.tasks import TASKS


def test_merged_statistics_equal_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)).astype(np.float32) for n in (1, 5, 16, 3)]
    stats = init_stats((4,))
    for b in batches:
        stats = update_stats(stats, jnp.asarray(b))
    data = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-2, atol=1e-3)
    z = normalize(stats, jnp.asarray(data))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-2)


def test_normalisation_is_learned_in_training_and_used_frozen_in_evaluation():
    agent = RTRRLAgent(RTRRLConfig(normalize_obs=True, normalize_reward=True))
    env = make_env(TASKS["Pendulum-v1"])
    state = agent.init(jax.random.PRNGKey(0), env)
    state, _ = jax.jit(lambda s: agent.train(s, env, 300))(state)
    assert float(state.obs_stats.count) > 300 and float(state.reward_stats.count) > 299
    assert float(jnp.abs(state.reward_stats.mean)) > 0.1  # Pendulum rewards are far from 0
    pp = agent.policy_params(state)
    score = paper_score(agent, env, pp, jax.random.PRNGKey(1), 200)
    assert np.isfinite(float(score))
    np.testing.assert_array_equal(agent.policy_params(state).obs_stats.mean, pp.obs_stats.mean)
