"""CT-RNN cell (spec §2.1) with its two online gradient traces: RFLO (§2.2) and exact RTRL (§2.3).

One forward-Euler step per env step: h_t = h_{t-1} + dt * (tanh(W xi_t) - h_{t-1}) / tau with
xi_t = [x_t; h_{t-1}; 1]. A trace J approximates dh_t/dtheta; `readout` turns a signal g on h_t
into a parameter gradient. Everything here is for one environment; callers vmap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class CTRNNParams(NamedTuple):
    W: jax.Array  # (N, I + N + 1): input, recurrent and bias columns in one matrix
    tau: jax.Array  # (N,) time constants, kept >= 1


class RFLOTrace(NamedTuple):
    W: jax.Array  # (N, Z): J[i, c] ~ dh_i / dW_ic (own incoming weights only)
    tau: jax.Array  # (N,):  J[i]    ~ dh_i / dtau_i


class RTRLTrace(NamedTuple):
    W: jax.Array  # (N, N, Z): J[i, r, c] = dh_i / dW_rc
    tau: jax.Array  # (N, N):   J[i, r]    = dh_i / dtau_r


def init_ctrnn(key: jax.Array, input_size: int, hidden_size: int) -> CTRNNParams:
    """W ~ LeCun normal over the whole row (fan-in Z = I + N + 1, bias included), tau ~ U(1, 5)."""
    k_w, k_tau = jax.random.split(key)
    z = input_size + hidden_size + 1
    W = jax.nn.initializers.lecun_normal()(k_w, (z, hidden_size), jnp.float32).T
    tau = jax.random.uniform(k_tau, (hidden_size,), minval=1.0, maxval=5.0)
    return CTRNNParams(W, tau)


def presynaptic(x: jax.Array, h: jax.Array) -> jax.Array:
    return jnp.concatenate([x, h, jnp.ones((1,), h.dtype)])


def forward(params: CTRNNParams, h: jax.Array, x: jax.Array, dt: float = 1.0) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(h_t, u_t, xi_t) from h_{t-1} and x_t."""
    xi = presynaptic(x, h)
    u = params.W @ xi
    return h + dt * (jnp.tanh(u) - h) / params.tau, u, xi


def zero_rflo(params: CTRNNParams) -> RFLOTrace:
    return RFLOTrace(jnp.zeros_like(params.W), jnp.zeros_like(params.tau))


def zero_rtrl(params: CTRNNParams) -> RTRLTrace:
    n, z = params.W.shape
    return RTRLTrace(jnp.zeros((n, n, z), params.W.dtype), jnp.zeros((n, n), params.tau.dtype))


def rflo_update(params: CTRNNParams, trace: RFLOTrace, h_prev: jax.Array, u: jax.Array, xi: jax.Array,
                dt: float = 1.0) -> RFLOTrace:
    """Each neuron's influence through itself only: the leak (1 - dt/tau) carries the trace."""
    leak = 1.0 - dt / params.tau
    dphi = 1.0 - jnp.tanh(u) ** 2
    W = leak[:, None] * trace.W + (dt / params.tau * dphi)[:, None] * xi[None, :]
    tau = leak * trace.tau + dt * (h_prev - jnp.tanh(u)) / params.tau**2
    return RFLOTrace(W, tau)


def rtrl_update(params: CTRNNParams, trace: RTRLTrace, h_prev: jax.Array, u: jax.Array, xi: jax.Array,
                dt: float = 1.0) -> RTRLTrace:
    """Exact influence: J_t = D_t J_{t-1} + immediate, D_t = dh_t/dh_{t-1}."""
    n = params.tau.shape[0]
    input_size = params.W.shape[1] - n - 1
    W_h = params.W[:, input_size : input_size + n]
    dphi = 1.0 - jnp.tanh(u) ** 2
    D = jnp.eye(n) + (dt / params.tau)[:, None] * (dphi[:, None] * W_h - jnp.eye(n))
    eye = jnp.eye(n)
    immediate_W = eye[:, :, None] * (dt * dphi / params.tau)[:, None, None] * xi[None, None, :]
    immediate_tau = jnp.diag(dt * (h_prev - jnp.tanh(u)) / params.tau**2)
    return RTRLTrace(jnp.einsum("ij,jrc->irc", D, trace.W) + immediate_W, D @ trace.tau + immediate_tau)


def rflo_readout(trace: RFLOTrace, g: jax.Array) -> CTRNNParams:
    """Gradient estimate for a signal g on h_t: G_W[i, c] = g_i J[i, c]."""
    return CTRNNParams(g[:, None] * trace.W, g * trace.tau)


def rtrl_readout(trace: RTRLTrace, g: jax.Array, reference_compat: bool = False) -> CTRNNParams:
    """Contract the state axis: G_W[r, c] = sum_i g_i J[i, r, c].

    `reference_compat` reproduces the authors' code, which contracts the wrong axis for W
    (spec §2.3, pitfall 2): G_W[r, c] = sum_k g_k J[r, k, c].
    """
    G_W = jnp.einsum("k,rkc->rc", g, trace.W) if reference_compat else jnp.einsum("i,irc->rc", g, trace.W)
    return CTRNNParams(G_W, g @ trace.tau)


def clamp_tau(params: CTRNNParams) -> CTRNNParams:
    """tau >= 1 after every update (spec §2.1)."""
    return params._replace(tau=jnp.maximum(params.tau, 1.0))
