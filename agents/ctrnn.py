"""CT-RNN cell with its two online gradient traces, RFLO and exact RTRL [algorithm.md A4, A5, A6].

One forward-Euler step per env step: h_t = h_{t-1} + dt * (tanh((M * W) xi_t) - h_{t-1}) / tau with
xi_t = [x_t; h_{t-1}; 1] and an optional fixed 0/1 wiring mask M ([algorithm.md A8]; None = fully connected).
A trace J approximates dh_t/dtheta; `readout` turns a signal g on h_t into a parameter gradient.
Everything here is for one environment; callers vmap.
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


WIRINGS = ("fully_connected", "fully_connected_no_self", "random", "ncp")


def make_wiring(key: jax.Array, kind: str, input_size: int, hidden_size: int, num_outputs: int) -> jax.Array | None:
    """Fixed 0/1 mask over W's (N, I + N + 1) columns; the bias column is always kept.

    'random': Bernoulli(0.5) per connection. 'ncp' (Neural-Circuit-Policy style, simplified):
    the first N - num_outputs neurons are inter-neurons; only they receive the inputs, every
    neuron receives from inter-neurons only, each such connection kept with probability 0.7
    (sparsity 0.3); `num_outputs` = actor outputs + 1 (critic).
    """
    n, i = hidden_size, input_size
    if kind == "fully_connected":
        return None
    bias = jnp.ones((n, 1))
    if kind == "fully_connected_no_self":
        return jnp.concatenate([jnp.ones((n, i)), 1.0 - jnp.eye(n), bias], axis=1)
    if kind == "random":
        return jnp.concatenate([jax.random.bernoulli(key, 0.5, (n, i + n)).astype(jnp.float32), bias], axis=1)
    if kind == "ncp":
        inter = max(n - num_outputs, 1)
        is_inter = (jnp.arange(n) < inter).astype(jnp.float32)
        k_in, k_rec = jax.random.split(key)
        keep_in = jax.random.bernoulli(k_in, 0.7, (n, i)).astype(jnp.float32) * is_inter[:, None]
        keep_rec = jax.random.bernoulli(k_rec, 0.7, (n, n)).astype(jnp.float32) * is_inter[None, :]
        return jnp.concatenate([keep_in, keep_rec, bias], axis=1)
    raise ValueError(f"unknown wiring {kind!r}: use one of {', '.join(WIRINGS)}")


def effective_W(params: CTRNNParams, mask: jax.Array | None) -> jax.Array:
    return params.W if mask is None else params.W * mask


def presynaptic(x: jax.Array, h: jax.Array) -> jax.Array:
    return jnp.concatenate([x, h, jnp.ones((1,), h.dtype)])


def forward(
    params: CTRNNParams, h: jax.Array, x: jax.Array, dt: float = 1.0, mask: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(h_t, u_t, xi_t) from h_{t-1} and x_t."""
    xi = presynaptic(x, h)
    u = effective_W(params, mask) @ xi
    return h + dt * (jnp.tanh(u) - h) / params.tau, u, xi


def zero_rflo(params: CTRNNParams) -> RFLOTrace:
    return RFLOTrace(jnp.zeros_like(params.W), jnp.zeros_like(params.tau))


def zero_rtrl(params: CTRNNParams) -> RTRLTrace:
    n, z = params.W.shape
    return RTRLTrace(jnp.zeros((n, n, z), params.W.dtype), jnp.zeros((n, n), params.tau.dtype))


def rflo_update(
    params: CTRNNParams,
    trace: RFLOTrace,
    h_prev: jax.Array,
    u: jax.Array,
    xi: jax.Array,
    dt: float = 1.0,
    mask: jax.Array | None = None,
) -> RFLOTrace:
    """Each neuron's influence through itself only: the leak (1 - dt/tau) carries the trace.
    A wiring mask zeroes the immediate term of absent connections (None: no mask, as the reference)."""
    leak = 1.0 - dt / params.tau
    dphi = 1.0 - jnp.tanh(u) ** 2
    immediate = (dt / params.tau * dphi)[:, None] * xi[None, :]
    W = leak[:, None] * trace.W + (immediate if mask is None else immediate * mask)
    tau = leak * trace.tau + dt * (h_prev - jnp.tanh(u)) / params.tau**2
    return RFLOTrace(W, tau)


def rtrl_update(
    params: CTRNNParams,
    trace: RTRLTrace,
    h_prev: jax.Array,
    u: jax.Array,
    xi: jax.Array,
    dt: float = 1.0,
    mask: jax.Array | None = None,
    forward_mask: jax.Array | None = None,
) -> RTRLTrace:
    """Exact influence: J_t = D_t J_{t-1} + immediate, D_t = dh_t/dh_{t-1}.

    `forward_mask` is the wiring the forward pass used (it shapes D); `mask` zeroes the
    immediate term of absent connections (None: the reference, which ignores the wiring here).
    """
    n = params.tau.shape[0]
    input_size = params.W.shape[1] - n - 1
    W_h = effective_W(params, forward_mask)[:, input_size : input_size + n]
    dphi = 1.0 - jnp.tanh(u) ** 2
    D = jnp.eye(n) + (dt / params.tau)[:, None] * (dphi[:, None] * W_h - jnp.eye(n))
    eye = jnp.eye(n)
    immediate_W = eye[:, :, None] * (dt * dphi / params.tau)[:, None, None] * xi[None, None, :]
    if mask is not None:
        immediate_W = immediate_W * mask[None, :, :]
    immediate_tau = jnp.diag(dt * (h_prev - jnp.tanh(u)) / params.tau**2)
    return RTRLTrace(jnp.einsum("ij,jrc->irc", D, trace.W) + immediate_W, D @ trace.tau + immediate_tau)


def rflo_readout(trace: RFLOTrace, g: jax.Array) -> CTRNNParams:
    """Gradient estimate for a signal g on h_t: G_W[i, c] = g_i J[i, c]."""
    return CTRNNParams(g[:, None] * trace.W, g * trace.tau)


def rtrl_readout(trace: RTRLTrace, g: jax.Array, reference_compat: bool = False) -> CTRNNParams:
    """Contract the state axis: G_W[r, c] = sum_i g_i J[i, r, c].

    `reference_compat` reproduces the authors' code, which contracts the wrong axis for W
    [algorithm.md K2]: G_W[r, c] = sum_k g_k J[r, k, c].
    """
    G_W = jnp.einsum("k,rkc->rc", g, trace.W) if reference_compat else jnp.einsum("i,irc->rc", g, trace.W)
    return CTRNNParams(G_W, g @ trace.tau)


def clamp_tau(params: CTRNNParams) -> CTRNNParams:
    """tau >= 1 after every update [algorithm.md A4]."""
    return params._replace(tau=jnp.maximum(params.tau, 1.0))
