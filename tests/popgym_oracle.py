"""PyPI popgym as the oracle for our JAX ports: shared helpers for the differential tests.

Exact tests inject popgym's hidden state (deck order, board, mines, ...) into the port's
state, feed both the same actions and compare every step. What cannot be injected (the
port's own random draws) is compared statistically in each family's tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.popgym import canonical_id, core

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import popgym.envs  # noqa: F401  (registers the gymnasium ids; needs mazelib for labyrinths)


def popgym_env(env_id: str) -> Any:
    """A fresh, unwrapped PyPI popgym env (its hidden state is plain attributes)."""
    import popgym.envs as envs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(envs, canonical_id(env_id))()


@cache
def jitted(port: Any) -> tuple[Callable, Callable, Callable]:
    """Compiled (reset, step, autoreset) of a port (ports are hashable frozen dataclasses)."""
    return jax.jit(port.reset), jax.jit(port.step), jax.jit(port.autoreset)


def to_gym_space(space: core.Space) -> gym.spaces.Space:
    if isinstance(space, core.Discrete):
        return gym.spaces.Discrete(space.n)
    if isinstance(space, core.MultiDiscrete):
        return gym.spaces.MultiDiscrete(list(space.nvec))
    if isinstance(space, core.Box):
        return gym.spaces.Box(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32))
    return gym.spaces.Tuple(tuple(to_gym_space(s) for s in space.spaces))


def assert_same_space(ours: core.Space, theirs: gym.spaces.Space) -> None:
    """Same kind, same sizes and bounds (a popgym Box of shape (k,) or () both count)."""
    mine = to_gym_space(ours)
    assert type(mine) is type(theirs), (mine, theirs)
    if isinstance(theirs, gym.spaces.Discrete):
        assert mine.n == theirs.n and theirs.start == 0
    elif isinstance(theirs, gym.spaces.MultiDiscrete):
        np.testing.assert_array_equal(np.asarray(mine.nvec).reshape(-1), np.asarray(theirs.nvec).reshape(-1))
    elif isinstance(theirs, gym.spaces.Box):
        np.testing.assert_allclose(mine.low, np.asarray(theirs.low, np.float32).reshape(-1))
        np.testing.assert_allclose(mine.high, np.asarray(theirs.high, np.float32).reshape(-1))
    else:
        assert len(mine.spaces) == len(theirs.spaces)
        for a, b in zip(ours.spaces, theirs.spaces):
            assert_same_space(a, b)


def assert_same_obs(space: core.Space, ours: Any, theirs: Any, *, atol: float = 0.0, where: str = "") -> None:
    """Raw observations equal, and our `encode` equal to gymnasium's `flatten` of popgym's."""
    flat_theirs = gym.spaces.utils.flatten(to_gym_space(space), _as_gym_obs(space, theirs))
    flat_ours = np.asarray(core.encode(space, ours))
    np.testing.assert_allclose(flat_ours, flat_theirs, atol=atol, rtol=0, err_msg=f"observation {where}")


def _as_gym_obs(space: core.Space, obs: Any) -> Any:
    if isinstance(space, core.TupleSpace):
        return tuple(_as_gym_obs(s, o) for s, o in zip(space.spaces, obs))
    if isinstance(space, core.Discrete):
        return int(np.asarray(obs).reshape(()))
    return np.asarray(obs).reshape(-1)


def lockstep(
    port: Any,
    obs: Any,
    state: Any,
    pyenv: Any,
    obs0: Any,
    actions: Any,
    *,
    atol: float = 0.0,
    reward_atol: float = 1e-6,
    key: jax.Array | None = None,
) -> int:
    """Step both envs with `actions` (env-native) until popgym's episode ends; compare each step.

    `obs, state` is the port's episode start built from popgym's injected hidden state, `obs0`
    popgym's first observation.
    Returns the number of steps compared. `actions` is a sequence, or a callable
    (t, popgym env) -> action for policies that look at popgym's hidden state.
    """
    _, step, _ = jitted(port)
    key = jax.random.key(0) if key is None else key
    space = port.observation_space
    assert_same_obs(space, obs, obs0, atol=atol, where="at reset")
    t = 0
    while True:
        action = actions(t, pyenv) if callable(actions) else actions[t]
        obs_p, rew_p, term_p, trunc_p, _ = pyenv.step(action)
        key, sub = jax.random.split(key)
        obs, state, rew, term, trunc = step(sub, state, np.asarray(action))
        where = f"at step {t + 1}"
        assert_same_obs(space, obs, obs_p, atol=atol, where=where)
        np.testing.assert_allclose(float(rew), float(rew_p), atol=reward_atol, rtol=0, err_msg=f"reward {where}")
        assert bool(term) == bool(term_p), f"terminated {where}: ours {bool(term)}, popgym {term_p}"
        assert bool(trunc) == bool(trunc_p), f"truncated {where}: ours {bool(trunc)}, popgym {trunc_p}"
        t += 1
        if term_p or trunc_p:
            return t


def dealing_order(deck: Any) -> Any:
    """A popgym `Deck` as our shoe deals it (popgym deals from the end of `idx`)."""
    from benchmarks.popgym import cards

    return cards.shoe_from_order(deck.idx[::-1].copy())


def record(pyenv: Any) -> list[tuple]:
    """popgym's (obs, reward, terminated, truncated) per step, appended as `lockstep` steps it
    (which checks ours equal them), so a test can also check what the episode contained."""
    steps, step = [], pyenv.step

    def recording(action):
        out = step(action)
        steps.append(out[:4])
        return out

    pyenv.step = recording
    return steps


def assert_same_spaces_and_flags(port: Any, pyenv: Any) -> None:
    """Observation and action spaces, `obs_requires_prev_action`, and `max_episode_length` where
    popgym has one (HigherLower and Concentration do not)."""
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action
    if hasattr(pyenv, "max_episode_length"):
        assert port.max_episode_length == pyenv.max_episode_length


def episodes_with_autoreset(port: Any, episodes: int, summary: Callable, seed: int = 2) -> tuple[Any, np.ndarray]:
    """Play `episodes` whole episodes of `port.max_episode_length` steps (action 0), each followed
    by the port's own `autoreset`, in one compiled scan. Returns `summary(last_state, obs, new_state)`
    stacked over episodes, and the done flags (episodes x steps) to check where episodes ended."""
    _, step, autoreset = jitted(port)

    def episode(state, key):
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term | trunc

        keys = jax.random.split(key, port.max_episode_length + 1)
        state, done = jax.lax.scan(body, state, keys[:-1])
        obs, new = autoreset(keys[-1], state, done[-1])
        return new, (summary(state, obs, new), done)

    _, start = port.reset(jax.random.key(1))
    run = jax.jit(lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes))[1])
    out, done = run(start, jax.random.key(seed))
    return jax.tree_util.tree_map(np.asarray, out), np.asarray(done)


def sampled(*seeds: int) -> list:
    """Seeds for a lockstep test: the first runs in `nox -s tests`, the rest only in `nox -s slow`
    (every family and difficulty keeps one exact episode per policy in the default run)."""
    import pytest

    return [seeds[0], *(pytest.param(s, marks=pytest.mark.slow) for s in seeds[1:])]
