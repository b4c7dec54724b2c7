"""CartPole seen through a keyhole: positions only, velocities only, or noisy positions.

popgym (`popgym.envs.position_only_cartpole`, `velocity_only_cartpole`,
`noisy_position_only_cartpole`) subclasses gymnasium's `CartPoleEnv`, keeps its physics
and hides half of the state. All three variants share `cartpole_step` below (gymnasium's
Euler step, `force_mag` 10, `tau` 0.02) and differ only in which half they show, whether the
observation is noisy, and (through a constructor argument) the episode length.

What the ports keep from popgym and gymnasium:
- reward: gymnasium pays 1 per step including the step that terminates, 0 for every step
  after termination; popgym maps 0 to -1 and anything else to 1 / max_episode_length, so
  the falling step is paid +1/L like any other and only steps past termination cost -1
  (`State.fallen` is gymnasium's `steps_beyond_terminated is not None`);
- truncation once popgym's step counter reaches `max_episode_length`, termination when
  |x| > 2.4 or |theta| > 12 degrees, reported together when both hold;
- `VelocityOnlyCartPole.reset` returns the positions (x, theta), not the velocities
  (popgym's `reset` slices `init_obs[0], init_obs[2]`); its `step` returns velocities;
- noise: `normal(0, sigma)` per observed value, cast to float32, added and clipped to the
  observation Box (+-4.8, +-24 degrees), at reset and at every step.

gymnasium integrates in float64, the port in float32: one step agrees to float32 rounding
(~1e-7 relative), but CartPole is unstable, so trajectories drift apart exponentially and
a termination can flip when the state lands within rounding of a threshold.
The noise draw is separate from the dynamics (`transition(state, action, eps)` with
`eps` standard normal) so tests can feed popgym's own normal draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.core import Box, Discrete, ResetEachEpisode

GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD_RADIANS = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
RESET_BOUND = 0.05


class State(NamedTuple):
    physics: jax.Array  # float32[4]: gymnasium's CartPoleEnv.state (x, x_dot, theta, theta_dot)
    num_steps: jax.Array  # int32: popgym's step counter
    fallen: jax.Array  # bool: gymnasium's `steps_beyond_terminated is not None`


StepResult = tuple[jax.Array, State, jax.Array, jax.Array, jax.Array]  # obs, state, reward, terminated, truncated


def cartpole_step(physics: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """gymnasium's `CartPoleEnv.step` physics (Euler): the next state and whether it is out of bounds."""
    x, x_dot, theta, theta_dot = physics[0], physics[1], physics[2], physics[3]
    force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
    costheta, sintheta = jnp.cos(theta), jnp.sin(theta)
    temp = (force + POLEMASS_LENGTH * jnp.square(theta_dot) * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * jnp.square(costheta) / TOTAL_MASS)
    )
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    new = jnp.stack([x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc])
    terminated = (jnp.abs(new[0]) > X_THRESHOLD) | (jnp.abs(new[2]) > THETA_THRESHOLD_RADIANS)
    return new.astype(jnp.float32), terminated


def add_noise_to_obs(obs: jax.Array, eps: jax.Array, sigma: float, space: Box) -> jax.Array:
    """popgym's `add_noise_to_obs`: `obs + float32(sigma * eps)` clipped to the observation Box."""
    noisy = obs + (sigma * eps).astype(jnp.float32)
    return jnp.clip(noisy, jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32))


@dataclass(frozen=True)
class PositionOnlyCartPole(ResetEachEpisode):
    """Observes (x, theta): the velocities must be inferred from memory."""

    max_episode_length: int = 200
    obs_requires_prev_action: bool = field(default=False, init=False)

    observed: ClassVar[slice] = slice(0, None, 2)  # (x, theta) out of (x, x_dot, theta, theta_dot)
    observed_at_reset: ClassVar[slice] = slice(0, None, 2)
    time_limit_terminates: ClassVar[bool] = False
    """Report the step limit as termination (popjym) instead of truncation (popgym)."""

    @property
    def sigma(self) -> float:
        """Standard deviation of the observation noise (0: none, and no draw)."""
        return 0.0

    @property
    def observation_space(self) -> Box:
        return Box((-2 * X_THRESHOLD, -2 * THETA_THRESHOLD_RADIANS), (2 * X_THRESHOLD, 2 * THETA_THRESHOLD_RADIANS))

    @property
    def action_space(self) -> Discrete:
        return Discrete(2)

    def draw_noise(self, key: jax.Array) -> jax.Array | None:
        """The standard normal draws behind one observation's noise (None for noiseless variants)."""
        return jax.random.normal(key, (2,), jnp.float32) if self.sigma else None

    def observe(self, physics: jax.Array, eps: jax.Array | None, at_reset: bool = False) -> jax.Array:
        """What popgym shows of `physics`, with `eps` turned into its noise."""
        obs = physics[self.observed_at_reset if at_reset else self.observed]
        return add_noise_to_obs(obs, eps, self.sigma, self.observation_space) if self.sigma else obs

    def initial(self, physics: jax.Array, eps: jax.Array | None = None) -> tuple[jax.Array, State]:
        """First observation and state of an episode starting from `physics` (gymnasium's `state`)."""
        physics = jnp.asarray(physics, jnp.float32)
        state = State(physics, jnp.zeros((), jnp.int32), jnp.zeros((), bool))
        return self.observe(physics, eps, at_reset=True), state

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        k_state, k_noise = jax.random.split(key)
        physics = jax.random.uniform(k_state, (4,), jnp.float32, -RESET_BOUND, RESET_BOUND)
        return self.initial(physics, self.draw_noise(k_noise))

    def transition(self, state: State, action: jax.Array, eps: jax.Array | None = None) -> StepResult:
        """`step` with the noise's standard normal draws given (tests feed popgym's)."""
        physics, terminated = cartpole_step(state.physics, action)
        num_steps = state.num_steps + 1
        # gymnasium pays 0 only when the pole is down and was already down; popgym maps 0 -> -1
        reward = jnp.where(terminated & state.fallen, -1.0, 1.0 / self.max_episode_length).astype(jnp.float32)
        truncated = num_steps >= self.max_episode_length
        if self.time_limit_terminates:
            terminated, truncated = terminated | truncated, jnp.zeros((), bool)
        obs = self.observe(physics, eps)
        return obs, State(physics, num_steps, state.fallen | terminated), reward, terminated, truncated

    def step(self, key: jax.Array, state: State, action: jax.Array) -> StepResult:
        return self.transition(state, action, self.draw_noise(key))


@dataclass(frozen=True)
class VelocityOnlyCartPole(PositionOnlyCartPole):
    """Observes (x_dot, theta_dot) at every step, but (x, theta) at reset (popgym's quirk)."""

    observed: ClassVar[slice] = slice(1, None, 2)

    @property
    def observation_space(self) -> Box:
        return Box((-math.inf, -math.inf), (math.inf, math.inf))


@dataclass(frozen=True)
class NoisyPositionOnlyCartPole(PositionOnlyCartPole):
    """PositionOnlyCartPole with Gaussian noise of `noise_sigma` on each observed value, clipped to the Box."""

    noise_sigma: float = 0.1

    @property
    def sigma(self) -> float:
        return float(self.noise_sigma)


@dataclass(frozen=True)
class PositionOnlyCartPolePopjym(PositionOnlyCartPole):
    """popjym's StatelessCartPole (`popgym_cartpole.py`, `NoisyStatelessCartPole` with
    `noise_sigma=0`), which the paper ran: popgym's physics, observation, reward and 200 steps,
    but popjym's `is_terminal` counts the step limit, so the 200th step *terminates* the episode
    (popgym truncates it). Everything else is popgym's: its reward of -1 only for a step taken
    after termination never occurs under auto-reset, in either.
    """

    time_limit_terminates: ClassVar[bool] = True


@dataclass(frozen=True)
class NoisyPositionOnlyCartPolePopjym(NoisyPositionOnlyCartPole):
    """popjym's NoisyStatelessCartPole (`popgym_cartpole.py`): as `PositionOnlyCartPolePopjym`,
    with popgym's noise (normal(0, sigma) per observed value, at reset and every step, clipped to
    the observation box); only the step limit differs, a termination here.
    """

    time_limit_terminates: ClassVar[bool] = True
