"""The evaluation protocol, in one place: what a run may spend, how and when an agent is
scored, and when a seed stops.

Change the protocol here and nowhere else. Every agent is scored by this code, never by its
own: stochastic actions (sampled, not argmax or mean), no learning, a separate environment
instance with the task's settings, and evaluation keys that depend only on `eval_seed` and the
run's seed, so every agent meets the same evaluation episodes. At an episode boundary the
policy's carry is reset exactly as in training (a recurrent agent may opt out for reference
compatibility: RTRRL's `compat.eval_keeps_state`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.base import Agent
from benchmarks.envs import Environment

PAPER_MAX_ENV_STEPS = 50_000_000
"""The paper's Table 1 [algorithm.md T1]: at most 50 million environment steps per run."""
PAPER_PATIENCE = 20
"""The paper's Table 1: stop after 20 evaluations ("epochs") without a strict improvement."""


# ---- what a run may spend and how it is evaluated ----------------------------------------------


@dataclass(frozen=True)
class EvalProtocol:
    eval_steps: int = 10_000
    """The paper metric (`paper_score`): this many consecutive steps of one env with stochastic
    actions, the policy resetting its own state at episode boundaries as in training (see the
    module docstring for the opt-out); score = total reward / finished episodes. It drives early
    stopping."""
    final_episodes: int = 10
    """Final-policy score: mean return of this many complete episodes, one env each, from
    keys that depend only on `eval_seed` and the run's seed (shared by every agent)."""
    eval_seed: int = 20_250_101
    """Root of the evaluation keys; never derived from an agent."""

    def __post_init__(self) -> None:
        if self.eval_steps < 1 or self.final_episodes < 1:
            raise ValueError("eval_steps and final_episodes must be at least 1")


@dataclass(frozen=True)
class Budget:
    max_env_steps: int = PAPER_MAX_ENV_STEPS
    """Hard cap on training env steps per seed (rounded down to whole epochs)."""
    eval_interval: int = 1_000_000
    """Env steps between evaluations: one "epoch". 1M = the paper-era code (100 chunks of 10 000)."""
    patience: int = PAPER_PATIENCE
    """Stop a seed after this many evaluations without a strictly better best score."""
    eval: EvalProtocol = field(default_factory=EvalProtocol)

    def __post_init__(self) -> None:
        if not 1 <= self.max_env_steps < 2**31:  # step counters are int32 inside the jitted program
            raise ValueError(f"max_env_steps must be in [1, 2^31) (got {self.max_env_steps})")
        if not 1 <= self.eval_interval <= self.max_env_steps:
            raise ValueError(
                f"eval_interval must be in [1, max_env_steps={self.max_env_steps}] (got {self.eval_interval})"
            )
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 (got {self.patience})")


PAPER_BUDGET = Budget()
PROFILES = ("default", "paper")
"""Budget profiles (`--profile`): the suite's own budgets, or the paper's 50M steps / patience 20 everywhere."""


def iterations_per_epoch(spi: int, budget: Budget) -> tuple[int, int, int]:
    """(iterations per epoch, env steps per epoch, epochs) for an agent consuming `spi` env steps
    per iteration: the interval is rounded down to whole iterations (at least one) and the
    budget down to whole epochs (at least one)."""
    iters = max(1, budget.eval_interval // spi)
    steps = iters * spi
    return iters, steps, max(1, budget.max_env_steps // steps)


# ---- when a seed stops -------------------------------------------------------------------------


class StopState(NamedTuple):
    """One seed's early-stopping bookkeeping, carried inside the jitted program."""

    best: jax.Array  # best eval score so far (-inf before the first finite one)
    best_step: jax.Array
    bad_evals: jax.Array  # evaluations since the last strict improvement
    active: jax.Array  # still training
    diverged: jax.Array
    env_steps: jax.Array
    epoch: jax.Array  # evaluations done


def initial_stop_state() -> StopState:
    i0 = jnp.zeros((), jnp.int32)
    return StopState(jnp.array(-jnp.inf, jnp.float32), i0, i0, jnp.ones((), bool), jnp.zeros((), bool), i0, i0)


def is_finite(agent_state: Any, score: jax.Array) -> jax.Array:
    """The divergence test: every floating-point leaf of the agent's state, and the score, finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree_util.tree_leaves(agent_state)
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    state_ok = jnp.all(jnp.stack(leaves)) if leaves else jnp.ones((), bool)
    return jnp.logical_and(state_ok, jnp.isfinite(score))


def next_stop_state(
    stop: StopState, score: jax.Array, finite: jax.Array, steps_per_epoch: int, patience: int
) -> StopState:
    """The stop rule after one epoch of an active seed [algorithm.md P6]: a strictly better finite score resets the
    patience count; `patience` evaluations without one end the seed; a non-finite agent state or
    score ends it as diverged (its last finite state is what the final score then uses)."""
    improved = jnp.logical_and(finite, score > stop.best)
    env_steps = stop.env_steps + steps_per_epoch
    bad = jnp.where(improved, 0, stop.bad_evals + 1)
    return StopState(
        best=jnp.where(improved, score, stop.best),
        best_step=jnp.where(improved, env_steps, stop.best_step),
        bad_evals=bad,
        active=jnp.logical_and(finite, bad < patience),
        diverged=jnp.logical_not(finite),
        env_steps=env_steps,
        epoch=stop.epoch + 1,
    )


# ---- how an agent is scored --------------------------------------------------------------------


def paper_score(agent: Agent, env: Environment, params, key: jax.Array, num_steps: int) -> jax.Array:
    """The metric behind the paper's Tables 2 and 3, as the authors' code computed it [algorithm.md P5, S1].

    One env, `num_steps` consecutive steps with auto-reset. The carry starts fresh and is passed
    on from step to step; at an episode boundary the policy resets its own state exactly as in
    training (unless the agent opts out for reference compatibility, see the module docstring).
    Score = total reward (unfinished last episode included) / max(#finished, 1).
    """
    reset_key, key = jax.random.split(key)
    env_state, timestep = env.reset(reset_key)
    carry = agent.initial_carry(params)

    def body(c, _):
        carry, env_state, timestep, key = c
        key, k_act, k_env = jax.random.split(key, 3)
        carry, action = agent.policy(params, carry, timestep, k_act)
        env_state, timestep = env.step(k_env, env_state, action)
        return (carry, env_state, timestep, key), (timestep.reward, timestep.done)

    _, (rewards, dones) = jax.lax.scan(body, (carry, env_state, timestep, key), None, length=num_steps)
    return jnp.sum(rewards) / jnp.maximum(jnp.sum(dones.astype(jnp.float32)), 1.0)


def episode_return(agent: Agent, env: Environment, params, key: jax.Array) -> jax.Array:
    """Return of one complete episode from a fresh reset and a fresh recurrent state.

    Runs `max_episode_length` steps (the limit guarantees the episode ends) and counts
    rewards up to and including the first `done` only.
    """
    reset_key, key = jax.random.split(key)
    env_state, timestep = env.reset(reset_key)
    carry = agent.initial_carry(params)

    def body(c, _):
        carry, env_state, timestep, key, running = c
        key, k_act, k_env = jax.random.split(key, 3)
        carry, action = agent.policy(params, carry, timestep, k_act)
        env_state, timestep = env.step(k_env, env_state, action)
        reward = jnp.where(running, timestep.reward, 0.0)
        running = jnp.logical_and(running, jnp.logical_not(timestep.done))
        return (carry, env_state, timestep, key, running), reward

    init = (carry, env_state, timestep, key, jnp.ones((), bool))
    _, rewards = jax.lax.scan(body, init, None, length=env.spec.max_episode_length)
    return jnp.sum(rewards)


def final_policy_score(agent: Agent, env: Environment, params, keys: jax.Array) -> jax.Array:
    """Mean return of `len(keys)` complete episodes, one per key, run in parallel."""
    returns = jax.vmap(lambda k: episode_return(agent, env, params, k))(keys)
    return jnp.mean(returns)


def final_eval_keys(eval_seed: int, seed: int, num_episodes: int) -> jax.Array:
    """Keys for the final-policy score: a function of the eval seed and the run's seed only."""
    return jax.random.split(jax.random.fold_in(jax.random.PRNGKey(eval_seed), seed), num_episodes)


def epoch_eval_key(eval_seed: int, seed: int, epoch: jax.Array) -> jax.Array:
    """Key of the paper-metric evaluation after `epoch`: same for every agent at the same seed."""
    base = jax.random.fold_in(jax.random.PRNGKey(eval_seed + 1), seed)
    return jax.random.fold_in(base, epoch)
