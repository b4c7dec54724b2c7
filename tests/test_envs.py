"""Wrapper semantics against gymnax itself: masks, episode limit, auto-reset, batching."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.envs import make_env, resolve_obs_mask
from benchmarks.tasks import TASKS, Task


@pytest.mark.parametrize(
    "task_id, env_id, kept",
    [
        ("CartPole-vel", "CartPole-v1", [1, 3]),
        ("CartPole-pos", "CartPole-v1", [0, 2]),
        ("MountainCarContinuous-vel", "MountainCarContinuous-v0", [1]),
        ("MountainCarContinuous-pos", "MountainCarContinuous-v0", [0]),
    ],
)
def test_mask_removes_exactly_the_named_dims(task_id, env_id, kept):
    env = make_env(TASKS[task_id])
    raw, params = gymnax.make(env_id)
    key = jax.random.PRNGKey(3)
    state, ts = env.reset(key)
    raw_obs, raw_state = raw.reset_env(key, params)
    assert env.spec.obs_dim == len(kept)
    np.testing.assert_array_equal(ts.obs, np.asarray(raw_obs)[kept])
    action = jnp.asarray(0) if env.spec.action_kind == "discrete" else jnp.zeros((1,))
    for i in range(5):
        k = jax.random.PRNGKey(100 + i)
        state, ts = env.step(k, state, action)
        k_step, _ = jax.random.split(k)
        raw_obs, raw_state, *_ = raw.step_env(
            k_step, raw_state, action if env.spec.action_kind == "discrete" else action[0], params
        )
        removed = [j for j in range(raw_obs.shape[0]) if j not in kept]
        np.testing.assert_array_equal(ts.obs, np.asarray(raw_obs)[kept])
        assert ts.obs.shape[0] == raw_obs.shape[0] - len(removed)


@given(st.integers(1, 40))
def test_mask_presets(dim):
    assert resolve_obs_mask("even", dim) == tuple(i for i in range(dim) if i % 2 == 0)
    assert resolve_obs_mask("odd", dim) == tuple(i for i in range(dim) if i % 2 == 1)
    assert resolve_obs_mask("first_half", dim) == tuple(range((dim + 1) // 2))
    assert resolve_obs_mask(None, dim) is None


@pytest.mark.parametrize("bad", ["evens", (0, 0), (5,), (-1,), ()])
def test_bad_masks_are_rejected(bad):
    with pytest.raises(ValueError):
        resolve_obs_mask(bad, 4)


def _rollout(env, n, key, action_fn):
    step = jax.jit(env.step)
    state, ts = env.reset(key)
    out = []
    for _ in range(n):
        key, k_a, k = jax.random.split(key, 3)
        state, ts = step(k, state, action_fn(k_a))
        out.append(jax.device_get(ts))
    return out


def test_episode_limit_truncates_at_exactly_max_length():
    task = Task("Pendulum-7", "Pendulum-v1", max_episode_length=7)  # Pendulum never terminates
    env = make_env(task)
    steps = _rollout(env, 21, jax.random.PRNGKey(0), lambda k: jax.random.uniform(k, (1,), minval=-2, maxval=2))
    dones = [i + 1 for i, ts in enumerate(steps) if ts.done]
    assert dones == [7, 14, 21]
    for i, ts in enumerate(steps):
        assert not ts.terminated
        assert bool(ts.truncated) == ((i + 1) % 7 == 0)
        assert int(ts.episode_length) == i % 7 + 1
    rewards = np.array([float(ts.reward) for ts in steps])
    np.testing.assert_allclose(float(steps[6].episode_return), rewards[:7].sum(), rtol=1e-5)
    np.testing.assert_allclose(float(steps[13].episode_return), rewards[7:14].sum(), rtol=1e-5)


def test_truncation_is_termination_flag():
    env = make_env(Task("Pendulum-5", "Pendulum-v1", max_episode_length=5, truncation_is_termination=True))
    steps = _rollout(env, 5, jax.random.PRNGKey(1), lambda k: jnp.zeros((1,)))
    assert [bool(ts.terminated) for ts in steps] == [False] * 4 + [True]
    assert not any(bool(ts.truncated) for ts in steps)


def test_termination_is_not_truncation_and_limit_overrides_gymnax():
    env = make_env(TASKS["CartPole-vel"])
    assert env.spec.max_episode_length == 500
    steps = _rollout(env, 200, jax.random.PRNGKey(2), lambda k: jax.random.randint(k, (), 0, 2))
    ends = [ts for ts in steps if ts.done]
    assert ends, "random CartPole episodes end within 200 steps"
    assert all(bool(ts.terminated) and not bool(ts.truncated) for ts in ends)
    # DeepSea's default limit is its size; the paper's 500 replaces it, natural termination stays
    deep = make_env(TASKS["DeepSea-8"])
    assert deep.spec.max_episode_length == 500 and deep.spec.obs_dim == 64
    steps = _rollout(deep, 16, jax.random.PRNGKey(0), lambda k: jax.random.randint(k, (), 0, 2))
    assert [i + 1 for i, ts in enumerate(steps) if ts.done] == [8, 16]
    assert all(bool(ts.terminated) for ts in steps if ts.done)


def test_auto_reset_matches_a_fresh_gymnax_reset():
    env = make_env(TASKS["MemoryChain-4"])  # episode length memory_length + 1 = 5
    raw, params = gymnax.make("MemoryChain-bsuite")
    params = params.replace(memory_length=4, max_steps_in_episode=500)
    state, ts = env.reset(jax.random.PRNGKey(0))
    dones = []
    for i in range(12):
        k = jax.random.PRNGKey(50 + i)
        state, ts = env.step(k, state, jnp.asarray(i % 2))
        if ts.done:
            dones.append(i + 1)
            _, k_reset = jax.random.split(k)
            fresh_obs, fresh_state = raw.reset_env(k_reset, params)
            np.testing.assert_array_equal(ts.obs, np.asarray(fresh_obs, np.float32))
            assert int(state.time) == 0 and float(state.episode_return) == 0.0
            jax.tree_util.tree_map(np.testing.assert_array_equal, state.inner, fresh_state)
    assert dones == [5, 10]


def test_batch_via_vmap_equals_single_envs():
    env = make_env(TASKS["CartPole-pos"])
    keys = jax.random.split(jax.random.PRNGKey(9), 4)
    states, ts = jax.vmap(env.reset)(keys)
    actions = jnp.array([0, 1, 1, 0])
    step_keys = jax.random.split(jax.random.PRNGKey(10), 4)
    b_states, b_ts = jax.vmap(env.step)(step_keys, states, actions)
    for i in range(4):
        s, _ = env.reset(keys[i])
        s, t = env.step(step_keys[i], s, actions[i])
        np.testing.assert_allclose(b_ts.obs[i], t.obs, rtol=1e-6)
        assert float(b_ts.reward[i]) == float(t.reward)


def test_continuous_actions_are_clipped_to_bounds():
    env = make_env(TASKS["Pendulum-v1"])
    raw, params = gymnax.make("Pendulum-v1")
    state, _ = env.reset(jax.random.PRNGKey(0))
    k = jax.random.PRNGKey(1)
    _, ts_big = env.step(k, state, jnp.array([50.0]))
    _, ts_max = env.step(k, state, jnp.array([2.0]))
    assert env.spec.action_low == (-2.0,) and env.spec.action_high == (2.0,)
    assert float(ts_big.reward) == float(ts_max.reward)


def test_final_obs_is_the_observation_before_auto_reset():
    """`final_obs` = what the base env returned (masked), also at a truncation; `obs` = reset obs then."""
    env = make_env(Task("CartPole-3", "CartPole-v1", obs_mask=(1, 3), max_episode_length=3))
    state, ts = env.reset(jax.random.PRNGKey(0))
    for i in range(6):
        key = jax.random.PRNGKey(10 + i)
        raw_obs, *_ = env.raw_step(jax.random.split(key)[0], state.inner, jnp.asarray(i % 2))
        state, ts = env.step(key, state, jnp.asarray(i % 2))
        np.testing.assert_array_equal(ts.final_obs, np.asarray(raw_obs)[[1, 3]])
        if bool(ts.truncated):
            assert not np.array_equal(ts.final_obs, ts.obs)
        else:
            np.testing.assert_array_equal(ts.final_obs, ts.obs)
    assert int(state.time) == 0  # two truncations at steps 3 and 6
