"""Shared evaluation against plain Python loops over the same environment and keys."""

import jax
import numpy as np
import pytest

from agents import make_agent
from agents.rtrrl import Compat
from benchmarks.envs import make_env
from benchmarks.protocol import episode_return, final_eval_keys, final_policy_score, paper_score
from benchmarks.tasks import TASKS


def _setup(task_id):
    agent = make_agent("random")
    env = make_env(TASKS[task_id])
    params = agent.policy_params(agent.init(jax.random.PRNGKey(0), env))
    return agent, env, params


@pytest.mark.parametrize("task_id, steps", [("CartPole-v1", 300), ("MemoryChain-4", 53), ("Pendulum-v1", 450)])
def test_paper_score_is_total_reward_over_finished_episodes(task_id, steps):
    agent, env, params = _setup(task_id)
    key = jax.random.PRNGKey(42)
    got = float(jax.jit(paper_score, static_argnums=(0, 1, 4))(agent, env, params, key, steps))

    reset_key, key = jax.random.split(key)
    state, ts = env.reset(reset_key)
    carry = agent.initial_carry(params)
    step = jax.jit(env.step)
    total, finished = 0.0, 0
    for _ in range(steps):
        key, k_act, k_env = jax.random.split(key, 3)
        carry, action = agent.policy(params, carry, ts, k_act)
        state, ts = step(k_env, state, action)
        total += float(ts.reward)
        finished += int(ts.done)
    assert finished >= 1 or task_id == "Pendulum-v1"
    np.testing.assert_allclose(got, total / max(finished, 1), rtol=1e-5)


def test_episode_return_counts_exactly_one_episode():
    agent, env, params = _setup("CartPole-vel")
    key = jax.random.PRNGKey(7)
    got = float(jax.jit(episode_return, static_argnums=(0, 1))(agent, env, params, key))
    reset_key, key = jax.random.split(key)
    state, ts = env.reset(reset_key)
    carry = agent.initial_carry(params)
    step = jax.jit(env.step)
    ret, length = 0.0, 0
    while True:
        key, k_act, k_env = jax.random.split(key, 3)
        carry, action = agent.policy(params, carry, ts, k_act)
        state, ts = step(k_env, state, action)
        ret += float(ts.reward)
        length += 1
        if ts.done:
            break
    assert got == ret and length < env.spec.max_episode_length


def test_final_score_uses_shared_keys_and_averages_episodes():
    agent, env, params = _setup("MemoryChain-4")
    keys = final_eval_keys(123, 3, 6)
    np.testing.assert_array_equal(keys, final_eval_keys(123, 3, 6))
    assert not np.array_equal(keys, final_eval_keys(123, 4, 6))
    score = float(final_policy_score(agent, env, params, keys))
    singles = [float(episode_return(agent, env, params, k)) for k in keys]
    np.testing.assert_allclose(score, np.mean(singles), rtol=1e-6)
    assert set(singles) <= {-1.0, 1.0}, "MemoryChain pays ±1 once per episode"


@pytest.mark.parametrize(
    "name, settings",
    [
        ("rtrrl", {}),
        ("rtrrl", {"compat": Compat(eval_keeps_state=True)}),
        ("ppo-gru", {"meta_rl": True}),
    ],
)
def test_first_evaluation_step_sees_no_previous_action(name, settings):
    """At an evaluation's (and a final-score episode's) first step the previous-action and reward
    slots are zero, as in training's first input: not the one-hot of action 0. Checked on the
    recurrent state after that step against the core run on a hand-built input."""
    import dataclasses

    import jax.numpy as jnp

    from agents import ctrnn, default_config

    env = make_env(TASKS["MemoryChain-4"])  # 2 actions: one-hot(0) = [1, 0] would show
    agent = make_agent(name, dataclasses.replace(default_config(name), **settings))
    pp = agent.policy_params(agent.init(jax.random.PRNGKey(0), env))
    _, ts = env.reset(jax.random.PRNGKey(1))
    (core, _), _ = agent.policy(pp, agent.initial_carry(pp), ts, jax.random.PRNGKey(2))
    obs = ts.obs
    if getattr(agent.config, "normalize_obs", False):  # rtrrl's default: the running statistics' transform
        from agents.normalize import normalize

        obs = normalize(pp.obs_stats, obs)
    x = jnp.concatenate([obs, jnp.zeros(env.spec.num_actions), jnp.zeros(1)])  # [obs, no action, no reward]
    wrong = x.at[obs.shape[0]].set(1.0)  # one_hot(0) in the action slot

    if name == "rtrrl":

        def first(x):
            return ctrnn.forward(pp.params.rnn, jnp.zeros(32), x)[0]
    else:
        net, zero = agent._network(pp.head), jax.tree_util.tree_map(lambda a: a[None], agent.initial_carry(pp)[0])

        def first(x):
            return net.apply(pp.params, zero, x[None, None], jnp.ones((1, 1), bool))[0][0]

    np.testing.assert_allclose(core, first(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(first(x), first(wrong), atol=1e-4), "the test can tell the two inputs apart"
