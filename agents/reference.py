"""The authors' code where it departs from the algorithm as the paper states it (docs/compat.md),
as hooks: each `Compat` switch swaps one function, chosen once when the agent is built, so the
learner's step reads as the algorithm and never asks which switches are on. The defaults are the
algorithm as written; the three switches inside the recurrent core (`wiring_traces`,
`rtrl_wrong_axis`, `lru_b_trace`) are resolved by `agents.cores.make_core`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.heads import CategoricalHead, GaussianHead, Head, meta_rl_input
from agents.rtrrl_config import RTRRLConfig

Pair = tuple[jax.Array, jax.Array]


class Hooks(NamedTuple):
    meta_input: Callable[[Head, jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]
    """(head, obs, encoded previous action, reward, episode start) -> the Meta-RL input [A2; K16]."""
    training_inputs: Callable[[Pair, Pair], Pair]
    """((obs, reward) raw, normalised) -> what training feeds the network [A3; K4]."""
    action_keys: Callable[[jax.Array, int], jax.Array]
    """(key, num_envs) -> one sampling key per env [K17]."""
    log_prob: Callable[[Head, jax.Array, jax.Array], jax.Array]
    """(head, actor output, action) -> the log pi that the actor's signal differentiates [A11; K1, K8]."""
    entropy: Callable[[Head, jax.Array], jax.Array]
    """(head, actor output) -> the policy's entropy [A12; K8]."""
    scale_gradient: Callable[[Callable[[], jax.Array], Callable[[jax.Array], jax.Array], jax.Array], jax.Array]
    """(objective, s, actor output) -> what the product rule through the variance scale s adds to
    the actor's signal: nothing, as s is stop-gradiented [A11; K7]."""
    rnn_trace: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    """(z_R, g_R, I) -> the RNN's new eligibility trace, leaf by leaf [A13; K19]."""
    eval_episode_start: Callable[[jax.Array], jax.Array]
    """done -> whether evaluation starts the core afresh at this step [P5; K12]."""
    eval_action: Callable[[Head, jax.Array], Pair]
    """(head, sample) -> (previous action fed back, action executed) in evaluation [K18]."""


def make_hooks(cfg: RTRRLConfig) -> Hooks:
    """The algorithm's functions, with the reference's in place of those `cfg.compat` switches on."""
    c = cfg.compat
    average = c.average_logprob_over_dims
    decay = cfg.gamma * cfg.lambda_rnn

    def accumulate(z: jax.Array, g: jax.Array, weight: jax.Array) -> jax.Array:
        return decay * z + weight * g

    return Hooks(
        meta_input=reference_meta_input if c.prev_action_at_reset else algorithm_meta_input,
        training_inputs=raw_inputs if c.normalize_eval_only else normalized_inputs,
        action_keys=shared_keys if c.shared_action_key else split_keys,
        log_prob=(reparameterised_log_prob if c.continuous_actor_gradient else score_log_prob)(average),
        entropy=lambda head, out: head.entropy(out, average),
        scale_gradient=live_scale_gradient if c.var_scaling_live_gradient else stopped_scale_gradient,
        rnn_trace=bare_gradient if c.lambda_rnn_zero and cfg.lambda_rnn == 0.0 else accumulate,
        eval_episode_start=never if c.eval_keeps_state else _identity,
        eval_action=unclipped_action if c.unclipped_eval else executed_action,
    )


def _identity(x: Any) -> Any:
    return x


def algorithm_meta_input(head: Head, obs: jax.Array, prev: jax.Array, reward: jax.Array, start: jax.Array):
    """Both slots zero at an episode's first step [A2]."""
    return meta_rl_input(obs, prev, reward, start)


def reference_meta_input(head: Head, obs: jax.Array, prev: jax.Array, reward: jax.Array, start: jax.Array):
    """[K16]: the one-hot of action 0 in the previous-action slot at an episode start (discrete actions)."""
    if not isinstance(head, CategoricalHead):
        return meta_rl_input(obs, prev, reward, start)
    keep = 1.0 - start.astype(jnp.float32)
    slot = jnp.where(start, head.encode(jnp.zeros((), jnp.int32)), prev)
    return jnp.concatenate([obs, slot, keep * reward[None]])


def normalized_inputs(raw: Pair, normalized: Pair) -> Pair:
    return normalized


def raw_inputs(raw: Pair, normalized: Pair) -> Pair:
    """[K4]: training sees raw inputs; only evaluation normalises."""
    return raw


def split_keys(key: jax.Array, n: int) -> jax.Array:
    return jax.random.split(key, n)


def shared_keys(key: jax.Array, n: int) -> jax.Array:
    """[K17]: every env gets the same key, so the same noise."""
    return jnp.repeat(key[None], n, axis=0)


def score_log_prob(average: bool) -> Callable[[Head, jax.Array, jax.Array], jax.Array]:
    """log pi at the fixed sampled action: the score function [A11]."""
    return lambda head, out, action: head.log_prob(out, action, average)


def reparameterised_log_prob(average: bool) -> Callable[[Head, jax.Array, jax.Array], jax.Array]:
    """[K1]: log pi of a reparameterised Gaussian sample, whose gradient never moves the mean."""

    def log_prob(head: Head, out: jax.Array, action: jax.Array) -> jax.Array:
        f = head.log_prob_reparameterised if isinstance(head, GaussianHead) else head.log_prob
        return f(out, action, average)

    return log_prob


def stopped_scale_gradient(objective: Callable[[], jax.Array], scale: Callable, out: jax.Array) -> jax.Array:
    return jnp.zeros_like(out)


def live_scale_gradient(objective: Callable[[], jax.Array], scale: Callable, out: jax.Array) -> jax.Array:
    """[K7]: the product rule through s, (eta_pi log pi + V) grad s."""
    return objective() * jax.grad(scale)(out)


def bare_gradient(z: jax.Array, g: jax.Array, weight: jax.Array) -> jax.Array:
    """[K19]: with lambda_R = 0 the reference's z_R is this step's gradient, without the factor I."""
    return g


def never(done: jax.Array) -> jax.Array:
    """[K12]: evaluation keeps the core's state and input slots across episodes."""
    return jnp.zeros((), bool)


def executed_action(head: Head, sample: jax.Array) -> Pair:
    """Evaluation acts exactly as training: the clipped action is executed and fed back."""
    return head.encode(sample), head.executed(sample)


def unclipped_action(head: Head, sample: jax.Array) -> Pair:
    """[K18]: the unclipped Gaussian sample is fed back (the env wrapper clips what it executes)."""
    if isinstance(head, GaussianHead):
        return sample, sample
    return executed_action(head, sample)
