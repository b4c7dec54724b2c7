"""What every popgym port shares: its spaces, the observation/action encodings, the env protocol.

The ports mirror PyPI popgym (the oracle they are tested against) at the level of raw
observations: a `Discrete` observation is an int32 scalar, `MultiDiscrete` an int32 vector,
`Box` a float32 vector and `TupleSpace` a tuple of those, exactly as popgym returns them.
What an agent sees is `encode(space, obs)`, gymnasium's `spaces.utils.flatten` in JAX
(one-hot for discrete parts), and a `MultiDiscrete` action space is offered to agents as one
`Discrete` of the product size, unravelled in C order like popgym's `DiscreteAction` wrapper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp

PRNGKey = jax.Array


@dataclass(frozen=True)
class Discrete:
    n: int


@dataclass(frozen=True)
class MultiDiscrete:
    nvec: tuple[int, ...]


@dataclass(frozen=True)
class Box:
    low: tuple[float, ...]
    high: tuple[float, ...]


@dataclass(frozen=True)
class TupleSpace:
    spaces: tuple[Space, ...]


Space = Discrete | MultiDiscrete | Box | TupleSpace


def flat_dim(space: Space) -> int:
    """Length of `encode(space, obs)`."""
    if isinstance(space, Discrete):
        return space.n
    if isinstance(space, MultiDiscrete):
        return sum(space.nvec)
    if isinstance(space, Box):
        return len(space.low)
    return sum(flat_dim(s) for s in space.spaces)


def encode(space: Space, obs: Any) -> jax.Array:
    """gymnasium's `flatten` for our spaces: discrete parts one-hot, boxes as they are."""
    if isinstance(space, Discrete):
        return jax.nn.one_hot(obs, space.n, dtype=jnp.float32)
    if isinstance(space, MultiDiscrete):
        return jnp.concatenate([jax.nn.one_hot(obs[i], n, dtype=jnp.float32) for i, n in enumerate(space.nvec)])
    if isinstance(space, Box):
        return jnp.reshape(obs, (-1,)).astype(jnp.float32)
    return jnp.concatenate([encode(s, o) for s, o in zip(space.spaces, obs)])


def num_actions(space: Discrete | MultiDiscrete) -> int:
    """Size of the single `Discrete` action space agents see."""
    return space.n if isinstance(space, Discrete) else math.prod(space.nvec)


def unravel_action(space: Discrete | MultiDiscrete, action: jax.Array) -> jax.Array:
    """A flat action -> the env's action (`np.unravel_index` in C order for MultiDiscrete)."""
    if isinstance(space, Discrete):
        return action
    return jnp.stack(jnp.unravel_index(action, space.nvec)).astype(jnp.int32)


class PopEnv(Protocol):
    """A popgym port: static settings in a frozen dataclass, everything else pure functions.

    `step` returns popgym's five values (obs, state, reward, terminated, truncated) and never
    resets. `autoreset(key, state, done)` starts the next episode where `done` and may use
    work the state prepared during the episode (a deck shuffled one swap per step) so that a
    vmapped auto-reset, which evaluates it at every step, stays cheap.
    """

    observation_space: Space
    action_space: Space
    max_episode_length: int
    obs_requires_prev_action: bool

    def reset(self, key: PRNGKey) -> tuple[Any, Any]: ...

    def step(self, key: PRNGKey, state: Any, action: jax.Array) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]: ...

    def autoreset(self, key: PRNGKey, state: Any, done: jax.Array) -> tuple[Any, Any]: ...


class ResetEachEpisode:
    """Mixin for ports whose reset is cheap: the next episode is a plain `reset`."""

    def autoreset(self, key: PRNGKey, state: Any, done: jax.Array) -> tuple[Any, Any]:
        return self.reset(key)  # type: ignore[attr-defined]
