"""CT-RNN traces against independent computations: jax.grad through the unrolled sequence
(exact RTRL), and a plain numpy loop of the RFLO definition."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.ctrnn import (
    CTRNNParams,
    forward,
    init_ctrnn,
    rflo_readout,
    rflo_update,
    rtrl_readout,
    rtrl_update,
    zero_rflo,
    zero_rtrl,
)

I, N, T = 3, 5, 7


def _setup(seed=0):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = init_ctrnn(k1, I, N)
    params = params._replace(tau=jax.random.uniform(k3, (N,), minval=1.0, maxval=5.0))
    xs = jax.random.normal(k2, (T, I))
    g = jax.random.normal(jax.random.PRNGKey(seed + 100), (N,))
    return params, xs, g


def _unrolled_loss(params, xs, g, dt):
    h = jnp.zeros(N)
    for x in xs:
        h, _, _ = forward(params, h, x, dt)
    return g @ h


def _run_traces(params, xs, dt, update, zero):
    h, trace = jnp.zeros(N), zero(params)
    for x in xs:
        h_new, u, xi = forward(params, h, x, dt)
        trace = update(params, trace, h, u, xi, dt)
        h = h_new
    return trace


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_exact_rtrl_equals_backprop_through_time(dt):
    params, xs, g = _setup()
    want = jax.grad(_unrolled_loss)(params, xs, g, dt)
    got = rtrl_readout(_run_traces(params, xs, dt, rtrl_update, zero_rtrl), g)
    np.testing.assert_allclose(got.W, want.W, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(got.tau, want.tau, rtol=2e-4, atol=1e-6)


def test_reference_compat_contracts_the_wrong_axis():
    params, xs, g = _setup(1)
    trace = _run_traces(params, xs, 1.0, rtrl_update, zero_rtrl)
    wrong = rtrl_readout(trace, g, reference_compat=True)
    right = rtrl_readout(trace, g)
    assert not np.allclose(wrong.W, right.W)
    np.testing.assert_allclose(wrong.tau, right.tau)  # the tau gradient is unaffected


def test_rflo_trace_matches_its_definition():
    params, xs, _ = _setup(2)
    W, tau = np.asarray(params.W, np.float64), np.asarray(params.tau, np.float64)
    h = np.zeros(N)
    JW, Jtau = np.zeros_like(W), np.zeros(N)
    for x in np.asarray(xs, np.float64):
        xi = np.concatenate([x, h, [1.0]])
        u = W @ xi
        JW = (1 - 1 / tau)[:, None] * JW + (1 / tau)[:, None] * np.outer(1 - np.tanh(u) ** 2, xi)
        Jtau = (1 - 1 / tau) * Jtau + (h - np.tanh(u)) / tau**2
        h = h + (np.tanh(u) - h) / tau
    got = _run_traces(params, xs, 1.0, rflo_update, zero_rflo)
    np.testing.assert_allclose(got.W, JW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got.tau, Jtau, rtol=1e-4, atol=1e-6)


def test_rflo_is_exact_without_recurrent_weights():
    """With W_hh = 0 no influence travels through other neurons: RFLO = BPTT."""
    params, xs, g = _setup(3)
    params = CTRNNParams(params.W.at[:, I : I + N].set(0.0), params.tau)
    want = jax.grad(_unrolled_loss)(params, xs, g, 1.0)
    got = rflo_readout(_run_traces(params, xs, 1.0, rflo_update, zero_rflo), g)
    np.testing.assert_allclose(got.tau, want.tau, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(got.W[:, :I], want.W[:, :I], rtol=2e-4, atol=1e-6)  # input and bias columns
    np.testing.assert_allclose(got.W[:, -1], want.W[:, -1], rtol=2e-4, atol=1e-6)


def test_rflo_is_the_diagonal_part_of_rtrl():
    params, xs, _ = _setup(4)
    params = CTRNNParams(params.W.at[:, I : I + N].set(0.0), params.tau)
    rflo = _run_traces(params, xs, 1.0, rflo_update, zero_rflo)
    rtrl = _run_traces(params, xs, 1.0, rtrl_update, zero_rtrl)
    np.testing.assert_allclose(jnp.einsum("iic->ic", rtrl.W), rflo.W, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(jnp.diag(rtrl.tau), rflo.tau, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind", ["fully_connected_no_self", "random", "ncp"])
def test_masked_rtrl_equals_backprop_through_the_masked_cell(kind):
    """With a wiring mask M the forward uses M * W; exact RTRL (mask on the immediate term and in
    D) equals jax.grad, which is zero on absent connections; RFLO is zero there too."""
    from agents.ctrnn import make_wiring

    params, xs, g = _setup(3)
    mask = make_wiring(jax.random.PRNGKey(7), kind, I, N, num_outputs=2)
    assert mask.shape == params.W.shape and np.all(np.asarray(mask)[:, -1] == 1)  # bias kept

    def loss(params):
        h = jnp.zeros(N)
        for x in xs:
            h, _, _ = forward(params, h, x, 1.0, mask)
        return g @ h

    want = jax.grad(loss)(params)
    h, rtrl, rflo = jnp.zeros(N), zero_rtrl(params), zero_rflo(params)
    for x in xs:
        h_new, u, xi = forward(params, h, x, 1.0, mask)
        rtrl = rtrl_update(params, rtrl, h, u, xi, 1.0, mask, mask)
        rflo = rflo_update(params, rflo, h, u, xi, 1.0, mask)
        h = h_new
    got = rtrl_readout(rtrl, g)
    np.testing.assert_allclose(got.W, want.W, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(got.tau, want.tau, rtol=2e-4, atol=1e-6)
    absent = np.asarray(mask) == 0
    assert absent.any()
    assert np.all(np.asarray(rflo_readout(rflo, g).W)[absent] == 0)
