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
