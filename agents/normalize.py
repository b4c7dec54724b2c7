"""Running mean/variance of inputs [algorithm.md A3], merged batch by batch (parallel Welford).

Statistics are part of the learner's state and of its policy params, so training and
evaluation apply the same transform; evaluation never updates them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class RunningStats(NamedTuple):
    count: jax.Array  # ()
    mean: jax.Array
    var: jax.Array


def init_stats(shape: tuple[int, ...]) -> RunningStats:
    """Start as N(0, 1) with a tiny count, so the first inputs are not blown up."""
    return RunningStats(jnp.full((), 1e-4), jnp.zeros(shape), jnp.ones(shape))


def update_stats(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merge a batch (leading axis) into the statistics."""
    n = batch.shape[0]
    b_mean, b_var = jnp.mean(batch, axis=0), jnp.var(batch, axis=0)
    total = stats.count + n
    delta = b_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.var * stats.count + b_var * n + delta**2 * stats.count * n / total
    return RunningStats(total, mean, m2 / total)


def normalize(stats: RunningStats, x: jax.Array) -> jax.Array:
    return (x - stats.mean) / jnp.clip(jnp.sqrt(stats.var), 1e-6, 1e6)
