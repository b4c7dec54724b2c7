"""Online LRU gradients equal BPTT (jax.grad through the unrolled sequence)."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.lru import forward, gradient, init_lru, trace_update, zero_state, zero_trace

I, N, T = 3, 6, 9


def test_online_lru_gradient_equals_bptt():
    p = init_lru(jax.random.PRNGKey(0), I, N)
    xs = jax.random.normal(jax.random.PRNGKey(1), (T, I))
    y_bar = jax.random.normal(jax.random.PRNGKey(2), (N,))

    def loss(p):
        h = zero_state(p)
        for x in xs:
            h, y = forward(p, h, x)
        return y_bar @ y

    want = jax.grad(loss)(p)
    h, trace = zero_state(p), zero_trace(p)
    for x in xs:
        trace = trace_update(p, trace, h, x)
        h, _ = forward(p, h, x)
    got = gradient(p, h, trace, y_bar)
    for name, g, w in zip(p._fields, got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5, err_msg=name)


def test_initial_eigenvalues_inside_the_unit_disc():
    p = init_lru(jax.random.PRNGKey(3), I, 64)
    lam_abs = jnp.exp(-jnp.exp(p.nu_log))
    assert bool(jnp.all(lam_abs < 1.0)) and bool(jnp.all(lam_abs > 0.0))
    np.testing.assert_allclose(jnp.exp(2 * p.gamma_log), 1 - lam_abs**2, rtol=1e-4, atol=1e-6)


def test_reference_b_trace_scales_the_b_gradient_by_log_gamma_over_gamma():
    """[algorithm.md K3]: the reference's immediate B term log(gamma) x^T instead of gamma x^T scales
    row i of the B gradient by log(gamma_i) / gamma_i (< 0: the wrong sign)."""
    p = init_lru(jax.random.PRNGKey(4), I, N)
    xs = jax.random.normal(jax.random.PRNGKey(5), (T, I))
    y_bar = jax.random.normal(jax.random.PRNGKey(6), (N,))

    def grads(compat):
        h, trace = zero_state(p), zero_trace(p)
        for x in xs:
            trace = trace_update(p, trace, h, x, reference_compat=compat)
            h, _ = forward(p, h, x)
        return gradient(p, h, trace, y_bar)

    right, wrong = grads(False), grads(True)
    ratio = (p.gamma_log / jnp.exp(p.gamma_log))[:, None]
    np.testing.assert_allclose(wrong.B_re, ratio * right.B_re, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(wrong.B_im, ratio * right.B_im, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(wrong.nu_log, right.nu_log)  # only the B trace differs
