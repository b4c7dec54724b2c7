"""Linear Recurrent Unit (Orvieto et al. 2023) with exact online gradients (Zucchet et al. 2023),
[algorithm.md A7]. The recurrence is diagonal, so forward-mode traces of the same size as the
parameters give the exact gradient of the current output: no BPTT, no approximation.

h_t = Lambda * h_{t-1} + gamma * (B x_t)  (complex, N),  y_t = Re(C h_t)  (real, N)
Lambda = exp(-exp(nu_log) + i exp(theta_log)),  gamma = exp(gamma_log).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class LRUParams(NamedTuple):
    nu_log: jax.Array  # (N,)
    theta_log: jax.Array  # (N,)
    gamma_log: jax.Array  # (N,)
    B_re: jax.Array  # (N, I)
    B_im: jax.Array  # (N, I)
    C_re: jax.Array  # (N, N)
    C_im: jax.Array  # (N, N)


class LRUTrace(NamedTuple):
    """dh_t/d(Lambda), dh_t/d(gamma) per unit and dh_t/dB per entry (complex)."""

    lam: jax.Array  # (N,)
    gamma: jax.Array  # (N,)
    B: jax.Array  # (N, I)


def init_lru(
    key: jax.Array, input_size: int, hidden_size: int, r_min: float = 0.0, r_max: float = 1.0, max_phase: float = 6.28
) -> LRUParams:
    """|Lambda|^2 ~ U(r_min^2, r_max^2), phase ~ U(0, max_phase), gamma = sqrt(1 - |Lambda|^2)."""
    k_u1, k_u2, k_b1, k_b2, k_c1, k_c2 = jax.random.split(key, 6)
    n, i = hidden_size, input_size
    u1 = jax.random.uniform(k_u1, (n,), minval=1e-4, maxval=1.0)
    u2 = jax.random.uniform(k_u2, (n,))
    nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = jnp.log(max_phase * u2 + 1e-8)
    lam_abs = jnp.exp(-jnp.exp(nu_log))
    gamma_log = jnp.log(jnp.sqrt(jnp.maximum(1.0 - lam_abs**2, 1e-8)))
    B_re = jax.random.normal(k_b1, (n, i)) / jnp.sqrt(2.0 * i)
    B_im = jax.random.normal(k_b2, (n, i)) / jnp.sqrt(2.0 * i)
    C_re = jax.random.normal(k_c1, (n, n)) / jnp.sqrt(n)
    C_im = jax.random.normal(k_c2, (n, n)) / jnp.sqrt(n)
    return LRUParams(nu_log, theta_log, gamma_log, B_re, B_im, C_re, C_im)


def _lambda(p: LRUParams) -> jax.Array:
    return jnp.exp(-jnp.exp(p.nu_log) + 1j * jnp.exp(p.theta_log))


def forward(p: LRUParams, h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(h_t, y_t) from h_{t-1} (complex) and x_t."""
    bx = (p.B_re + 1j * p.B_im) @ x
    h_new = _lambda(p) * h + jnp.exp(p.gamma_log) * bx
    y = ((p.C_re + 1j * p.C_im) @ h_new).real
    return h_new, y


def zero_state(p: LRUParams) -> jax.Array:
    return jnp.zeros(p.nu_log.shape, jnp.complex64)


def zero_trace(p: LRUParams) -> LRUTrace:
    n = p.nu_log.shape[0]
    return LRUTrace(
        jnp.zeros((n,), jnp.complex64), jnp.zeros((n,), jnp.complex64), jnp.zeros(p.B_re.shape, jnp.complex64)
    )


def trace_update(
    p: LRUParams, trace: LRUTrace, h_prev: jax.Array, x: jax.Array, reference_compat: bool = False
) -> LRUTrace:
    """Exact forward-mode traces: the immediate B term is gamma x^T.

    `reference_compat` reproduces the authors' code, which used gamma_log there [algorithm.md K3]:
    gamma_log < 0, so the B gradient gets the wrong sign and size.
    """
    lam = _lambda(p)
    bx = (p.B_re + 1j * p.B_im) @ x
    gamma = p.gamma_log if reference_compat else jnp.exp(p.gamma_log)
    return LRUTrace(
        lam * trace.lam + h_prev,
        lam * trace.gamma + bx,
        lam[:, None] * trace.B + gamma[:, None] * x[None, :].astype(jnp.complex64),
    )


def gradient(p: LRUParams, h: jax.Array, trace: LRUTrace, y_bar: jax.Array) -> LRUParams:
    """dL/dparams at step t given the cotangent y_bar = dL/dy_t, from the traces of h_t.

    With h = a + ib and g = dL/da + i dL/db = conj(C)^T y_bar, a real parameter p with
    dh/dp = e gets dL/dp = Re(conj(g) e).
    """
    g = (p.C_re - 1j * p.C_im).T @ y_bar
    cg = jnp.conj(g)
    lam = _lambda(p)
    through_lam = cg * trace.lam * lam  # conj(g) dh/dLambda dLambda/d(.)
    return LRUParams(
        nu_log=(through_lam * -jnp.exp(p.nu_log)).real,
        theta_log=(through_lam * 1j * jnp.exp(p.theta_log)).real,
        gamma_log=(cg * trace.gamma).real * jnp.exp(p.gamma_log),
        B_re=(cg[:, None] * trace.B).real,
        B_im=(cg[:, None] * 1j * trace.B).real,
        C_re=jnp.outer(y_bar, h.real),
        C_im=-jnp.outer(y_bar, h.imag),
    )
