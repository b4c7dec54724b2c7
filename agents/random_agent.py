"""The random agent: uniform actions, no learning.

It is a real agent behind the same protocol (it steps its environments in `lax.scan`
and is scored by the shared evaluation code), and it measures the normalization floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from agents.base import (
    BoxUniform,
    DiscreteUniform,
    EnvLike,
    EnvSpecLike,
    PRNGKey,
    TimeStepLike,
    TrainMetrics,
    episode_metrics,
    scan_iterations,
    uniform_action_distribution,
)


@dataclass(frozen=True)
class RandomConfig:
    num_envs: int = 1
    """Environments stepped in parallel per iteration (1: the paper's batch size)."""
    unroll: int = 1
    """`lax.scan` unroll factor of the training loop (speed only, never results)."""

    def __post_init__(self) -> None:
        if self.num_envs < 1 or self.unroll < 1:
            raise ValueError("num_envs and unroll must be at least 1")


class RandomTrainState(NamedTuple):
    dist: DiscreteUniform | BoxUniform  # the "parameters": fixed, read from the task's action space
    env_state: Any
    key: jax.Array


@dataclass(frozen=True)
class RandomAgent:
    config: RandomConfig = field(default_factory=RandomConfig)
    name: ClassVar[str] = "random"

    def steps_per_iteration(self, spec: EnvSpecLike) -> int:
        return self.config.num_envs

    def init(self, key: PRNGKey, env: EnvLike) -> RandomTrainState:
        reset_key, key = jax.random.split(key)
        env_state, _ = jax.vmap(env.reset)(jax.random.split(reset_key, self.config.num_envs))
        return RandomTrainState(uniform_action_distribution(env.spec), env_state, key)

    def train(
        self, state: RandomTrainState, env: EnvLike, num_iterations: int
    ) -> tuple[RandomTrainState, TrainMetrics]:
        n = self.config.num_envs

        def iteration(s: RandomTrainState):
            key, k_act, k_step = jax.random.split(s.key, 3)
            actions = jax.vmap(s.dist.sample)(jax.random.split(k_act, n))
            env_state, timestep = jax.vmap(env.step)(jax.random.split(k_step, n), s.env_state, actions)
            return s._replace(env_state=env_state, key=key), episode_metrics(timestep)

        return scan_iterations(iteration, state, num_iterations, self.config.unroll)

    def policy_params(self, state: RandomTrainState) -> DiscreteUniform | BoxUniform:
        return state.dist

    def initial_carry(self, params: DiscreteUniform | BoxUniform) -> jax.Array:
        return jnp.zeros((), jnp.float32)  # memoryless

    def policy(self, params: DiscreteUniform | BoxUniform, carry: jax.Array, timestep: TimeStepLike, key: PRNGKey):
        return carry, params.sample(key)
