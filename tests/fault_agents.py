"""Fault-injection agents for the runner's failure paths (test-only; registered by conftest).

They are thin wrappers around the real random agent: one raises while building its
program, one's state turns NaN after a key-dependent number of epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from agents.random_agent import RandomAgent, RandomConfig


@dataclass(frozen=True)
class BoomConfig:
    message: str = "boom"


@dataclass(frozen=True)
class BoomAgent(RandomAgent):
    config: BoomConfig = field(default_factory=BoomConfig)
    name: ClassVar[str] = "test-boom"

    def steps_per_iteration(self, spec):
        return 1

    def init(self, key, env):
        raise RuntimeError(self.config.message)


@dataclass(frozen=True)
class NaNConfig:
    max_epochs_before_nan: int = 4
    """Each seed's state turns NaN after U{1..this} train calls (drawn from its key)."""


class NaNState(NamedTuple):
    inner: object
    calls: jax.Array
    nan_at: jax.Array
    weight: jax.Array


@dataclass(frozen=True)
class NaNAgent:
    config: NaNConfig = field(default_factory=NaNConfig)
    name: ClassVar[str] = "test-nan"

    @property
    def _random(self) -> RandomAgent:
        return RandomAgent(RandomConfig())

    def steps_per_iteration(self, spec):
        return 1

    def init(self, key, env):
        k1, k2 = jax.random.split(key)
        nan_at = jax.random.randint(k2, (), 1, self.config.max_epochs_before_nan + 1)
        return NaNState(self._random.init(k1, env), jnp.zeros((), jnp.int32), nan_at, jnp.zeros(()))

    def train(self, state, env, num_iterations):
        inner, metrics = self._random.train(state.inner, env, num_iterations)
        calls = state.calls + 1
        weight = jnp.where(calls >= state.nan_at, jnp.nan, state.weight)
        return NaNState(inner, calls, state.nan_at, weight), metrics

    def policy_params(self, state):
        return state.inner.dist

    def initial_carry(self, params):
        return jnp.zeros(())

    def policy(self, params, carry, timestep, key):
        return carry, params.sample(key)


@dataclass(frozen=True)
class CrashConfig:
    pass


@dataclass(frozen=True)
class CrashAgent(BoomAgent):
    """Kills its own process (as the OOM killer would) when run in a worker process (the local
    executor's or a Ray worker)."""

    config: CrashConfig = field(default_factory=CrashConfig)
    name: ClassVar[str] = "test-crash"

    def init(self, key, env):
        import multiprocessing
        import os
        import signal
        import sys

        ray = sys.modules.get("ray")
        in_ray_worker = (
            ray is not None and ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE
        )
        if multiprocessing.parent_process() is not None or in_ray_worker:
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("test-crash only crashes worker processes")


# a plugin module registers what it defines (`--plugin fault_agents` imports it in every worker)
from agents import register_agent  # noqa: E402

register_agent(BoomAgent, BoomConfig)
register_agent(NaNAgent, NaNConfig)
register_agent(CrashAgent, CrashConfig)
