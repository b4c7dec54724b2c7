"""Actor-critic networks of the PPO baselines (purejaxrl's architectures, re-derived).

Feed-forward: two separate MLPs (actor, critic). Recurrent: Dense+ReLU embedding -> recurrent
core -> Dense+ReLU heads, over a whole (time, batch) sequence. Input projections of the core
are computed for every time step in one matmul outside the time scan, so the scan body holds
only the recurrent matmul: that is most of the speed of recurrent PPO on a CPU. The hidden
state is reset to zero wherever `resets` is set (the observation starts a new episode).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def orthogonal(gain: float) -> Any:
    return nn.initializers.orthogonal(gain)


def _dense(features: int, gain: float, name: str | None = None) -> nn.Dense:
    return nn.Dense(features, kernel_init=orthogonal(gain), bias_init=nn.initializers.zeros, name=name)


class GaussianLogStd(nn.Module):
    """State-independent log-std appended to the mean: out = [mean; log_std] (GaussianHead mode 2)."""

    size: int

    @nn.compact
    def __call__(self, mean: jax.Array) -> jax.Array:
        log_std = self.param("log_std", nn.initializers.zeros, (self.size,))
        return jnp.concatenate([mean, jnp.broadcast_to(log_std, mean.shape)], axis=-1)


class MLPActorCritic(nn.Module):
    """purejaxrl `ppo.py`: actor and critic are separate 2-layer MLPs (orthogonal init)."""

    action_size: int  # logits (discrete) or mean dims (continuous)
    continuous: bool
    hidden_size: int = 64
    activation: str = "tanh"

    def setup(self) -> None:
        gain = math.sqrt(2.0)
        self.actor_layers = [
            _dense(self.hidden_size, gain),
            _dense(self.hidden_size, gain),
            _dense(self.action_size, 0.01),
        ]
        self.critic_layers = [_dense(self.hidden_size, gain), _dense(self.hidden_size, gain), _dense(1, 1.0)]
        if self.continuous:
            self.log_std = GaussianLogStd(self.action_size)

    def _mlp(self, layers: list, x: jax.Array) -> jax.Array:
        act = nn.tanh if self.activation == "tanh" else nn.relu
        for layer in layers[:-1]:
            x = act(layer(x))
        return layers[-1](x)

    def value(self, obs: jax.Array) -> jax.Array:
        """The critic alone (bootstrapping at truncations needs no actor)."""
        return self._mlp(self.critic_layers, obs)[..., 0]

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = self._mlp(self.actor_layers, obs)
        if self.continuous:
            out = self.log_std(out)
        return out, self.value(obs)


CELLS = ("gru", "lstm", "ctrnn")


def initial_carry(cell: str, hidden_size: int, batch_shape: tuple[int, ...] = ()) -> Any:
    """Zero recurrent state: h, or (c, h) for the LSTM."""
    zeros = jnp.zeros((*batch_shape, hidden_size))
    return (zeros, zeros) if cell == "lstm" else zeros


class RecurrentCore(nn.Module):
    """GRU, LSTM or CT-RNN over a (T, B, F) sequence with per-step resets.

    GRU (flax/PyTorch form): r, z = sigmoid(.), n = tanh(W_n x + b_n + r * (U_n h + c_n)),
    h' = (1 - z) n + z h. LSTM: i, f, g, o gates, c' = f c + i g, h' = o tanh(c').
    CT-RNN [algorithm.md B1]: h' = h + (tanh(W x + U h + b) - h) / tau, tau trainable, initialised to 1.
    """

    cell: str
    hidden_size: int
    unroll: int = 1  # time-scan unroll (speed only)

    @nn.compact
    def __call__(self, carry: Any, x: jax.Array, resets: jax.Array) -> tuple[Any, jax.Array]:
        n = self.hidden_size
        gates = {"gru": 3, "lstm": 4, "ctrnn": 1}[self.cell]
        xp = nn.Dense(gates * n, kernel_init=nn.initializers.lecun_normal(), name="input")(x)  # (T, B, G*n)
        U = self.param("recurrent", orthogonal(1.0), (n, gates * n))
        c = self.param("recurrent_bias", nn.initializers.zeros, (gates * n,))
        tau = self.param("tau", nn.initializers.ones, (n,)) if self.cell == "ctrnn" else None

        def step(carry, inputs):
            xp_t, reset = inputs
            carry = jax.tree_util.tree_map(lambda a: jnp.where(reset[:, None], 0.0, a), carry)
            if self.cell == "gru":
                h = carry
                hp = h @ U + c
                r = nn.sigmoid(xp_t[:, :n] + hp[:, :n])
                z = nn.sigmoid(xp_t[:, n : 2 * n] + hp[:, n : 2 * n])
                cand = jnp.tanh(xp_t[:, 2 * n :] + r * hp[:, 2 * n :])
                h = (1.0 - z) * cand + z * h
                return h, h
            if self.cell == "lstm":
                cell_state, h = carry
                g = xp_t + h @ U + c
                i, f, gg, o = jnp.split(g, 4, axis=-1)
                cell_state = nn.sigmoid(f) * cell_state + nn.sigmoid(i) * jnp.tanh(gg)
                h = nn.sigmoid(o) * jnp.tanh(cell_state)
                return (cell_state, h), h
            h = carry
            h = h + (jnp.tanh(xp_t + h @ U + c) - h) / tau
            return h, h

        return jax.lax.scan(step, carry, (xp, resets), unroll=self.unroll)


class RecurrentActorCritic(nn.Module):
    """purejaxrl `ppo_rnn.py` layout: Dense+ReLU embedding -> core -> Dense+ReLU actor and critic heads."""

    action_size: int
    continuous: bool
    cell: str = "gru"
    hidden_size: int = 128
    embed_size: int = 128
    head_size: int = 128
    head_gain: float = 2.0  # hidden layer of each head ([algorithm.md B1]: gains 2 and 0.01 / 2 and 1.0)
    unroll: int = 1  # time-scan unroll of the core (speed only)

    @nn.compact
    def __call__(self, carry: Any, obs: jax.Array, resets: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
        """obs (T, B, D), resets (T, B) -> (carry, out (T, B, A'), value (T, B))."""
        x = nn.relu(_dense(self.embed_size, math.sqrt(2.0))(obs))
        carry, y = RecurrentCore(self.cell, self.hidden_size, self.unroll, name="core")(carry, x, resets)
        a = nn.relu(_dense(self.head_size, self.head_gain)(y))
        out = _dense(self.action_size, 0.01)(a)
        if self.continuous:
            out = GaussianLogStd(self.action_size)(out)
        v = nn.relu(_dense(self.head_size, self.head_gain)(y))
        return carry, out, _dense(1, 1.0)(v)[..., 0]
