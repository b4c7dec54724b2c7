"""Pendulum showing only (cos theta, sin theta), optionally noisy (popgym.envs.position_only_pendulum,
noisy_position_only_pendulum).

popgym subclasses gymnasium's `PendulumEnv` (g = 10, m = l = 1, dt = 0.05, torque clipped to
[-2, 2], angular velocity clipped to [-8, 8]) and drops the angular velocity from the
observation. What the port keeps:
- the reward: gymnasium's `-(angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2)`, costed on the
  state *before* the step, mapped by popgym from [-16.2736044, 0] onto [-1, 1] and divided by
  `max_episode_length` (so a perfect episode sums to 1);
- never terminated, truncated once popgym's step counter reaches `max_episode_length`;
- reset uniform on theta in [-pi, pi], thdot in [-1, 1];
- noise: `normal(0, sigma)` per observed value, cast to float32, added and clipped to the
  observation Box [-1, 1]^2, at reset and at every step (`cartpole.add_noise_to_obs`).

gymnasium lets theta grow without bound; every use of it (sin, cos, `angle_normalize`) is
2pi-periodic, so the port keeps it wrapped to [-pi, pi) instead, which keeps float32 precise
over long episodes (gymnasium works in float64). The noise draw is separate from the
dynamics (`transition(state, action, eps)`) so tests can feed popgym's own normal draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.cartpole import add_noise_to_obs
from benchmarks.popgym.core import Box, ResetEachEpisode

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
G = 10.0
M = 1.0
L = 1.0
REWARD_LOW = -16.2736044  # popgym's lowest reward: pi^2 + 0.1 * 8^2 + 0.001 * 2^2


class State(NamedTuple):
    physics: jax.Array  # float32[2]: gymnasium's PendulumEnv.state (theta wrapped to [-pi, pi), thdot)
    num_steps: jax.Array  # int32: popgym's step counter


StepResult = tuple[jax.Array, State, jax.Array, jax.Array, jax.Array]  # obs, state, reward, terminated, truncated


def angle_normalize(x: jax.Array) -> jax.Array:
    """gymnasium's `angle_normalize`: x mapped to [-pi, pi)."""
    return ((x + jnp.pi) % (2 * jnp.pi)) - jnp.pi


def pendulum_step(physics: jax.Array, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """gymnasium's `PendulumEnv.step`: the next state and its reward (-costs of the current one)."""
    th, thdot = physics[0], physics[1]
    u = jnp.clip(u, -MAX_TORQUE, MAX_TORQUE)
    costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * u**2
    newthdot = thdot + (3 * G / (2 * L) * jnp.sin(th) + 3.0 / (M * L**2) * u) * DT
    newthdot = jnp.clip(newthdot, -MAX_SPEED, MAX_SPEED)
    newth = th + newthdot * DT
    return jnp.stack([angle_normalize(newth), newthdot]).astype(jnp.float32), -costs


@dataclass(frozen=True)
class PositionOnlyPendulum(ResetEachEpisode):
    """Observes (cos theta, sin theta): the angular velocity must be inferred from memory."""

    max_episode_length: int = 200
    obs_requires_prev_action: bool = field(default=False, init=False)

    @property
    def sigma(self) -> float:
        """Standard deviation of the observation noise (0: none, and no draw)."""
        return 0.0

    @property
    def observation_space(self) -> Box:
        return Box((-1.0, -1.0), (1.0, 1.0))

    @property
    def action_space(self) -> Box:
        return Box((-MAX_TORQUE,), (MAX_TORQUE,))

    def draw_noise(self, key: jax.Array) -> jax.Array | None:
        """The standard normal draws behind one observation's noise (None for the noiseless variant)."""
        return jax.random.normal(key, (2,), jnp.float32) if self.sigma else None

    def observe(self, physics: jax.Array, eps: jax.Array | None) -> jax.Array:
        """What popgym shows of `physics`, with `eps` turned into its noise."""
        obs = jnp.stack([jnp.cos(physics[0]), jnp.sin(physics[0])])
        return add_noise_to_obs(obs, eps, self.sigma, self.observation_space) if self.sigma else obs

    def reward_transform(self, reward: jax.Array) -> jax.Array:
        """popgym's map of gymnasium's reward from [REWARD_LOW, 0] onto [-1, 1] / max_episode_length."""
        half = -REWARD_LOW / 2
        return ((reward + half) / half / self.max_episode_length).astype(jnp.float32)

    def initial(self, physics: jax.Array, eps: jax.Array | None = None) -> tuple[jax.Array, State]:
        """First observation and state of an episode from `physics` = gymnasium's (theta, thdot)."""
        physics = jnp.asarray(physics, jnp.float32)
        physics = physics.at[0].set(angle_normalize(physics[0]))
        return self.observe(physics, eps), State(physics, jnp.zeros((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        k_state, k_noise = jax.random.split(key)
        physics = jax.random.uniform(k_state, (2,), jnp.float32, -1.0, 1.0) * jnp.array([math.pi, 1.0], jnp.float32)
        return self.initial(physics, self.draw_noise(k_noise))

    def transition(self, state: State, action: jax.Array, eps: jax.Array | None = None) -> StepResult:
        """`step` with the noise's standard normal draws given (tests feed popgym's)."""
        u = jnp.reshape(action, (-1,))[0].astype(jnp.float32)
        physics, reward = pendulum_step(state.physics, u)
        num_steps = state.num_steps + 1
        truncated = num_steps >= self.max_episode_length
        obs = self.observe(physics, eps)
        return obs, State(physics, num_steps), self.reward_transform(reward), jnp.zeros((), bool), truncated

    def step(self, key: jax.Array, state: State, action: jax.Array) -> StepResult:
        return self.transition(state, action, self.draw_noise(key))


@dataclass(frozen=True)
class NoisyPositionOnlyPendulum(PositionOnlyPendulum):
    """PositionOnlyPendulum with Gaussian noise of `noise_sigma` on each observed value, clipped to [-1, 1]."""

    noise_sigma: float = 0.1

    @property
    def sigma(self) -> float:
        return float(self.noise_sigma)
