"""Shared evaluation: every agent is scored by this code, never by its own.

Both scores use stochastic actions (sampled, not argmax/mean), no learning, and a
separate environment instance with the task's settings.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.base import Agent
from benchmarks.envs import Environment


def paper_score(agent: Agent, env: Environment, params, key: jax.Array, num_steps: int) -> jax.Array:
    """The metric behind the paper's Tables 2/3 (spec §5.4, [APX-CODE]).

    One env, `num_steps` consecutive steps with auto-reset, recurrent state kept across
    episodes; score = total reward (unfinished last episode included) / max(#finished, 1).
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
