"""Action distributions on a linear actor's output [algorithm.md A9], shared by online and PPO agents.

The head's type is static (categorical vs Gaussian) and carries the task's action bounds, so
a policy needs nothing but its params to act. Log-probabilities are always taken at a fixed
(stop-gradiented) action: the score function, never a reparameterised sample [algorithm.md K1].
"""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class CategoricalHead:
    num_actions: int = struct.field(pytree_node=False)

    def out_size(self) -> int:
        return self.num_actions

    def dist(self, out: jax.Array) -> distrax.Categorical:
        return distrax.Categorical(logits=out)

    def log_prob(self, out: jax.Array, action: jax.Array, average_dims: bool = False) -> jax.Array:
        return self.dist(out).log_prob(jax.lax.stop_gradient(action))

    def entropy(self, out: jax.Array, average_dims: bool = False) -> jax.Array:
        return self.dist(out).entropy()

    def sample(self, key: jax.Array, out: jax.Array) -> jax.Array:
        return self.dist(out).sample(seed=key)

    def encode(self, action: jax.Array) -> jax.Array:
        """The action as an RNN input (one-hot)."""
        return jax.nn.one_hot(action, self.out_size())

    def executed(self, action: jax.Array) -> jax.Array:
        """The action the environment receives."""
        return action


@struct.dataclass
class GaussianHead:
    """out = [m; rho]: mean squashed into [low, high] by a sigmoid, scale from rho.

    `sigma_mode` 0 = paper-era code: sigma = 0.001 + 1.999 sigmoid(rho) in (0.001, 2);
    1 = later code: sigma = softplus(-2 + 4 sigmoid(rho)) in (0.127, 2.127);
    2 = PPO (purejaxrl): unsquashed mean m, rho = a learned log-std, sigma = exp(max(rho, -5)).
    """

    low: jax.Array
    high: jax.Array
    sigma_mode: int = struct.field(pytree_node=False, default=0)

    def out_size(self) -> int:
        return 2 * self.low.shape[-1]

    def _params(self, out: jax.Array) -> tuple[jax.Array, jax.Array]:
        m, rho = jnp.split(out, 2, axis=-1)
        if self.sigma_mode == 2:
            return m, jnp.exp(jnp.maximum(rho, -5.0))
        mean = self.low + (self.high - self.low) * jax.nn.sigmoid(m)
        if self.sigma_mode == 0:
            sigma = 0.001 + 1.999 * jax.nn.sigmoid(rho)
        else:
            sigma = jax.nn.softplus(-2.0 + 4.0 * jax.nn.sigmoid(rho))
        return mean, sigma

    def dist(self, out: jax.Array) -> distrax.Normal:
        return distrax.Normal(*self._params(out))

    def scale(self, out: jax.Array) -> jax.Array:
        """sigma per action dimension."""
        return self._params(out)[1]

    def log_prob(self, out: jax.Array, action: jax.Array, average_dims: bool = False) -> jax.Array:
        """Of the unclipped sample; summed over dims (the reference averages: `average_dims`)."""
        lp = self.dist(out).log_prob(jax.lax.stop_gradient(action))
        return jnp.mean(lp, -1) if average_dims else jnp.sum(lp, -1)

    def log_prob_reparameterised(self, out: jax.Array, action: jax.Array, average_dims: bool = False) -> jax.Array:
        """The reference's (wrong) score: log pi of mean(out) + sigma(out) * eps at the sample's eps.
        Its gradient w.r.t. the mean is exactly zero [algorithm.md K1]; kept only as a compat switch."""
        mean, sigma = self._params(out)
        eps = jax.lax.stop_gradient((action - mean) / sigma)
        lp = distrax.Normal(mean, sigma).log_prob(mean + sigma * eps)
        return jnp.mean(lp, -1) if average_dims else jnp.sum(lp, -1)

    def entropy(self, out: jax.Array, average_dims: bool = False) -> jax.Array:
        ent = self.dist(out).entropy()
        return jnp.mean(ent, -1) if average_dims else jnp.sum(ent, -1)

    def sample(self, key: jax.Array, out: jax.Array) -> jax.Array:
        return self.dist(out).sample(seed=key)

    def encode(self, action: jax.Array) -> jax.Array:
        """The executed (clipped) action as an RNN input."""
        return self.executed(action)

    def executed(self, action: jax.Array) -> jax.Array:
        """The action the environment receives: the sample clipped to the bounds."""
        return jnp.clip(action, self.low, self.high)


Head = CategoricalHead | GaussianHead


def zero_action(head: Head, batch: tuple[int, ...] = ()) -> jax.Array:
    """The "no previous action" placeholder: integer 0, or a zero vector for continuous actions."""
    if isinstance(head, GaussianHead):
        return jnp.zeros((*batch, *head.low.shape))
    return jnp.zeros(batch, jnp.int32)


def no_action(head: Head, batch: tuple[int, ...] = ()) -> jax.Array:
    """The encoded previous action at an episode start: a zero vector (not the one-hot of action 0).
    Policies carry encoded actions, so a fresh carry needs no flag to say "no action yet"."""
    size = head.low.shape[-1] if isinstance(head, GaussianHead) else head.num_actions
    return jnp.zeros((*batch, size))


def meta_rl_input(obs: jax.Array, prev_encoded: jax.Array, reward: jax.Array, reset: jax.Array) -> jax.Array:
    """[obs, encoded previous action, previous reward] [algorithm.md A2], the two slots zeroed where
    `reset` (the observation starts an episode). Works on any leading batch shape."""
    keep = 1.0 - reset.astype(jnp.float32)
    return jnp.concatenate([obs, keep[..., None] * prev_encoded, (keep * reward)[..., None]], axis=-1)


def make_head(spec, sigma_mode: int = 0) -> Head:
    if spec.action_kind == "discrete":
        return CategoricalHead(spec.num_actions)
    return GaussianHead(
        jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32), sigma_mode
    )
