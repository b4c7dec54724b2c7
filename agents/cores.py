"""The RTRRL family's recurrent core as a record of pure functions, chosen once from the config:
the CT-RNN with its RFLO or exact RTRL trace [algorithm.md A4-A6], the online LRU [algorithm.md A7],
or none (Linear TD(lambda): the readouts see the input itself).

The learner calls the same functions whatever the core, so its step reads in the order of the
algorithm notes and never asks which core it has. Everything here is for one environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents import ctrnn, lru
from agents.rtrrl_config import RTRRLConfig

SATURATION = 0.95
"""|h_i| above which a tanh unit counts as saturated: its derivative 1 - h^2 is below 0.1, so its
RFLO trace (and any gradient through it) has all but vanished."""


class Core(NamedTuple):
    """A recurrent core: parameters θ_R, a state h, and a forward-mode trace J ≈ dh/dθ_R."""

    init: Callable[[jax.Array, int, int], tuple[Any, jax.Array | None]]
    """(key, input size, readout outputs) -> (params, fixed wiring mask or None)."""
    output_size: Callable[[int], int]
    """Input size -> size of the output y the readouts see."""
    zero_state: Callable[[Any], jax.Array]
    """params -> the state at an episode start."""
    zero_trace: Callable[[Any], Any]
    """params -> the trace at an episode start."""
    step: Callable[[Any, Any, jax.Array, Any, jax.Array], tuple[jax.Array, Any, jax.Array]]
    """(params, wiring, state, trace, x) -> (state, trace, y): one step and its trace."""
    forward: Callable[[Any, Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
    """(params, wiring, state, x) -> (state, y): one step without a trace (acting)."""
    gradient: Callable[[Any, jax.Array, Any, jax.Array], Any]
    """(params, state, trace, g) -> the parameter gradient of a signal g on y."""
    project: Callable[[Any], Any]
    """params after an update -> params back in their domain (CT-RNN: tau >= 1)."""
    step_diagnostics: Callable[[jax.Array], dict[str, jax.Array]]
    """y -> per-step health numbers of the core (`agents.rtrrl.DIAGNOSTICS`)."""
    parameter_diagnostics: Callable[[Any], dict[str, jax.Array]]
    """params -> end-of-epoch health numbers of the core."""


def make_core(cfg: RTRRLConfig) -> Core:
    """The core `cfg` names, with its reference quirks (`cfg.compat`) resolved here, once."""
    if cfg.rnn == "none":
        return NO_CORE
    if cfg.rnn == "lru":
        return lru_core(cfg.hidden_size, reference_b_trace=cfg.compat.lru_b_trace)
    return ctrnn_core(
        cfg.hidden_size,
        cfg.dt,
        cfg.wiring,
        exact=cfg.gradient_mode == "rtrl",
        reference_traces=cfg.compat.wiring_traces,
        reference_rtrl_axis=cfg.compat.rtrl_wrong_axis,
    )


def _no_diagnostics(_: Any) -> dict[str, jax.Array]:
    return {}


def _identity(params: Any) -> Any:
    return params


NO_CORE = Core(
    init=lambda key, input_size, num_outputs: (None, None),
    output_size=lambda input_size: input_size,
    zero_state=lambda params: jnp.zeros((1,)),
    zero_trace=lambda params: None,
    step=lambda params, wiring, state, trace, x: (state, None, x),
    forward=lambda params, wiring, state, x: (state, x),
    gradient=lambda params, state, trace, g: None,
    project=_identity,
    step_diagnostics=_no_diagnostics,
    parameter_diagnostics=_no_diagnostics,
)
"""Linear TD(lambda): no parameters, and the readouts see the Meta-RL input itself."""


def ctrnn_core(
    hidden_size: int,
    dt: float,
    wiring: str = "fully_connected",
    exact: bool = False,
    reference_traces: bool = False,
    reference_rtrl_axis: bool = False,
) -> Core:
    """CT-RNN [algorithm.md A4] with the RFLO trace [A5], or the exact RTRL one (`exact`, [A6]).

    `reference_traces`: the traces ignore the wiring mask [K10]; `reference_rtrl_axis`: RTRL's
    weight gradient contracts the wrong axis [K2]."""

    def no_mask(mask: jax.Array | None) -> None:
        return None

    trace_mask = no_mask if reference_traces else _identity

    def rflo(params, trace, h, u, xi, mask):
        return ctrnn.rflo_update(params, trace, h, u, xi, dt, trace_mask(mask))

    def rflo_gradient(params, h, trace, g):
        return ctrnn.rflo_readout(trace, g)

    def rtrl(params, trace, h, u, xi, mask):
        return ctrnn.rtrl_update(params, trace, h, u, xi, dt, trace_mask(mask), mask)

    def rtrl_gradient(params, h, trace, g):
        return ctrnn.rtrl_readout(trace, g, reference_rtrl_axis)

    zero_trace, update_trace, gradient = (
        (ctrnn.zero_rtrl, rtrl, rtrl_gradient) if exact else (ctrnn.zero_rflo, rflo, rflo_gradient)
    )

    def init(key, input_size, num_outputs):
        params = ctrnn.init_ctrnn(key, input_size, hidden_size)
        # its own stream (fold_in), so the wiring option leaves every other random draw unchanged
        mask = ctrnn.make_wiring(jax.random.fold_in(key, 1), wiring, input_size, hidden_size, num_outputs)
        return params, mask

    def step(params, mask, h, trace, x):
        h_new, u, xi = ctrnn.forward(params, h, x, dt, mask)
        return h_new, update_trace(params, trace, h, u, xi, mask), h_new

    def forward(params, mask, h, x):
        h = ctrnn.forward(params, h, x, dt, mask)[0]
        return h, h

    return Core(
        init=init,
        output_size=lambda input_size: hidden_size,
        zero_state=lambda params: jnp.zeros((hidden_size,)),
        zero_trace=zero_trace,
        step=step,
        forward=forward,
        gradient=gradient,
        project=ctrnn.clamp_tau,
        step_diagnostics=_ctrnn_step_diagnostics,
        parameter_diagnostics=_ctrnn_parameter_diagnostics,
    )


def _ctrnn_step_diagnostics(h: jax.Array) -> dict[str, jax.Array]:
    return {"saturation": jnp.mean((jnp.abs(h) > SATURATION).astype(jnp.float32))}


def _ctrnn_parameter_diagnostics(params: ctrnn.CTRNNParams) -> dict[str, jax.Array]:
    """Collapse shows here first: tau on its clamp, W growing."""
    return {"tau_at_clamp": jnp.mean((params.tau <= 1.0).astype(jnp.float32)), "w_norm": jnp.linalg.norm(params.W)}


def lru_core(hidden_size: int, reference_b_trace: bool = False) -> Core:
    """Online LRU with exact forward-mode traces [algorithm.md A7]; `reference_b_trace`: the B trace's
    immediate term uses log(gamma) [K3]."""

    def step(params, mask, h, trace, x):
        trace = lru.trace_update(params, trace, h, x, reference_b_trace)
        h, y = lru.forward(params, h, x)
        return h, trace, y

    return Core(
        init=lambda key, input_size, num_outputs: (lru.init_lru(key, input_size, hidden_size), None),
        output_size=lambda input_size: hidden_size,
        zero_state=lru.zero_state,
        zero_trace=lru.zero_trace,
        step=step,
        forward=lambda params, mask, h, x: lru.forward(params, h, x),
        gradient=lru.gradient,
        project=_identity,
        step_diagnostics=_no_diagnostics,
        parameter_diagnostics=lambda params: {"rnn_norm": optax.tree.norm(params)},
    )
