"""MultiarmedBandit: find and exploit the best-paying arm within an episode (popgym.envs.multiarmed_bandit).

Each episode draws every arm's payout probability uniformly from [0, 1) (float32, like
popgym). Pulling an arm observes 1 and earns `+1/episode_length` with that probability,
else observes 0 and earns `-1/episode_length`. popgym never terminates; the step that starts
at `num_steps >= episode_length - 1` is truncated. The first observation is 0.

The payout draw is separated from the rest of the step: `pull(state, action, u)` is the step
given the uniform `u` that popgym's `np_random.random()` would return, so tests can replay
popgym's own draws; `step` draws `u` from its key. popgym compares its float64 `u` with the
float32 probability; we compare in float32, which differs only where `u` lies within half a
float32 ulp below the probability (about 3e-8 per pull).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.core import Box, Discrete, ResetEachEpisode


class State(NamedTuple):
    bandits: jax.Array  # float32[num_bandits]: payout probability of each arm
    num_steps: jax.Array  # int32: steps taken this episode


@dataclass(frozen=True)
class MultiarmedBandit(ResetEachEpisode):
    num_bandits: int = 10
    episode_length: int = 200
    obs_requires_prev_action: bool = field(default=True, init=False)

    @property
    def max_episode_length(self) -> int:
        return self.episode_length

    @property
    def observation_space(self) -> Discrete:
        return Discrete(2)

    @property
    def action_space(self) -> Discrete:
        return Discrete(self.num_bandits)

    def initial(self, bandits: jax.Array) -> tuple[jax.Array, State]:
        """First observation (0) and state of an episode with the given arm probabilities."""
        bandits = jnp.asarray(bandits, jnp.float32)
        return jnp.zeros((), jnp.int32), State(bandits, jnp.zeros((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(jax.random.uniform(key, (self.num_bandits,), jnp.float32))

    def pull(self, state: State, action: jax.Array, u: jax.Array):
        """The step given the payout uniform `u` in [0, 1): arm `action` pays when `u < p`."""
        paid = jnp.asarray(u, jnp.float32) < state.bandits[action]
        scale = 1.0 / self.episode_length
        reward = jnp.where(paid, scale, -scale).astype(jnp.float32)
        truncated = state.num_steps >= self.episode_length - 1
        new = State(state.bandits, state.num_steps + 1)
        return paid.astype(jnp.int32), new, reward, jnp.zeros((), bool), truncated

    def step(self, key: jax.Array, state: State, action: jax.Array):
        return self.pull(state, action, jax.random.uniform(key, (), jnp.float32))


@dataclass(frozen=True)
class MultiarmedBanditPopjym(MultiarmedBandit):
    """popjym's MultiarmedBandit (`popgym_multiarmedbandit.py`), which the paper ran: the same
    arms, payouts, rewards and 200 steps, but the episode *terminates* after `episode_length`
    steps (popgym truncates it, so a learner may bootstrap there), and the observation is one
    float, 1.0 for a payout (popgym: `Discrete(2)`, one-hot [1, 0] / [0, 1]). The first
    observation is 0.0 in both.
    """

    @property
    def observation_space(self) -> Box:
        return Box((0.0,), (1.0,))

    def initial(self, bandits: jax.Array) -> tuple[jax.Array, State]:
        _, state = super().initial(bandits)
        return jnp.zeros((1,), jnp.float32), state

    def pull(self, state: State, action: jax.Array, u: jax.Array):
        """popgym's pull, observed as one float and ended as a termination."""
        paid, new, reward, terminated, truncated = super().pull(state, action, u)
        return paid.astype(jnp.float32)[None], new, reward, terminated | truncated, jnp.zeros((), bool)
