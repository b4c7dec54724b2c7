"""The RTRRL family's update rule [algorithm.md A13]: from every env's ascent direction to one step
of the parameters, with per-group step sizes (actor, critic, RNN) and rules (Adam, SGD, obgd).

`make_update(cfg)` returns one `init`/`apply` pair; how the optimiser state is laid out is its own
business. Parameters are any `(readouts, rnn)` NamedTuple whose readouts have `actor`, `critic`
and `critic_bias` (`agents.rtrrl.Params`); `rnn` may be None (Linear TD(lambda)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents.rtrrl_config import RTRRLConfig

Params = Any


class UpdateRule(NamedTuple):
    init: Callable[[Params], Any]
    """params -> optimiser state."""
    apply: Callable[[Params, Any, Params, Params, jax.Array], tuple[Params, Any]]
    """(params, state, directions, traces, delta) -> (params, state). `directions` (ascent), the
    old `traces` and `delta` have a leading env axis: each env's direction is bounded where the
    rule says so ('obgd'), then they are averaged and one step is taken."""


def make_update(cfg: RTRRLConfig, joint: bool | None = None) -> UpdateRule:
    """The update rule `cfg` names. `joint` (default: wherever it gives the same numbers) runs both
    groups' Adams as one Adam over a flat vector: the same element-wise arithmetic, to float
    rounding, in a few fused ops instead of a dozen small ones per step."""
    lr_actor, lr_critic, lr_rnn = cfg.step_sizes()
    rule_rnn = cfg.optimizer_rnn or cfg.optimizer
    trains_rnn = cfg.rnn != "none" and cfg.train_rnn
    if joint if joint is not None else joint_adam_applies(cfg):
        init, step = _joint_adam(cfg.adam_eps, (lr_actor, lr_critic, lr_critic), lr_rnn)
    else:
        readouts = _group(_optimizer(cfg, cfg.optimizer, _readout_scale(lr_actor, lr_critic)))
        rnn = _group(_optimizer(cfg, rule_rnn, optax.scale(-lr_rnn))) if trains_rnn else _FROZEN
        init, step = _per_group(readouts, rnn)
    bound_readouts = _obgd_readouts(lr_actor, lr_critic, cfg.obgd_kappa) if cfg.optimizer == "obgd" else _unbounded
    bound_rnn = _obgd_rnn(lr_rnn, cfg.obgd_kappa) if rule_rnn == "obgd" and cfg.rnn != "none" else _unbounded

    def bound(direction: Params, z: Params, delta: jax.Array) -> Params:
        return direction._replace(
            readouts=bound_readouts(direction.readouts, z.readouts, delta), rnn=bound_rnn(direction.rnn, z.rnn, delta)
        )

    def apply(params: Params, state: Any, directions: Params, traces: Params, delta: jax.Array) -> tuple[Params, Any]:
        directions = jax.vmap(bound)(directions, traces, delta)
        return step(params, state, jax.tree_util.tree_map(lambda x: jnp.mean(x, axis=0), directions))

    return UpdateRule(init, apply)


def joint_adam_applies(cfg: RTRRLConfig) -> bool:
    """Whether one flat Adam gives the numbers of the per-group ones: it needs what keeps the two
    groups' Adam states in lockstep, the same rule (Adam), no per-group clip, both trained."""
    rule_rnn = cfg.optimizer_rnn or cfg.optimizer
    return cfg.optimizer == rule_rnn == "adam" and cfg.gradient_clip is None and (cfg.rnn == "none" or cfg.train_rnn)


def _negative(tree: Any) -> Any:
    """Optimisers minimise: they are fed the negated ascent direction."""
    return jax.tree_util.tree_map(jnp.negative, tree)


def _joint_adam(eps: float, lr_readouts: tuple[float, float, float], lr_rnn: float):
    """Adam on the flattened (readouts, core) tree, each element scaled by its group's step size."""

    def optimizer(params: Params) -> optax.GradientTransformation:
        steps = (
            tuple(jnp.full_like(x, -lr) for x, lr in zip(params.readouts, lr_readouts)),
            jax.tree_util.tree_map(lambda x: jnp.full_like(x, -lr_rnn), params.rnn),
        )
        step = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(steps)])
        scale = optax.stateless(lambda u, _: u * step)
        return optax.flatten(optax.chain(optax.scale_by_adam(eps=eps), scale))

    def init(params: Params) -> Any:
        return optimizer(params).init((params.readouts, params.rnn))

    def step(params: Params, state: Any, direction: Params) -> tuple[Params, Any]:
        updates, state = optimizer(params).update(_negative((direction.readouts, direction.rnn)), state)
        readouts, rnn = optax.apply_updates((params.readouts, params.rnn), updates)
        return params._replace(readouts=readouts, rnn=rnn), state

    return init, step


class _Group(NamedTuple):
    """One parameter group's optimiser: init(params) and step(params, state, direction)."""

    init: Callable[[Any], Any]
    step: Callable[[Any, Any, Any], tuple[Any, Any]]


_FROZEN = _Group(lambda params: optax.EmptyState(), lambda params, state, direction: (params, state))
"""A group that never moves (`train_rnn=False`, or no core)."""


def _group(tx: optax.GradientTransformation) -> _Group:
    def step(params: Any, state: Any, direction: Any) -> tuple[Any, Any]:
        updates, state = tx.update(_negative(direction), state, params)
        return optax.apply_updates(params, updates), state

    return _Group(tx.init, step)


def _per_group(readouts: _Group, rnn: _Group):
    """Actor and critic, and the core: two optimisers, each with its own rule and clip."""

    def init(params: Params) -> Any:
        return readouts.init(params.readouts), rnn.init(params.rnn)

    def step(params: Params, state: Any, direction: Params) -> tuple[Params, Any]:
        new_readouts, state_readouts = readouts.step(params.readouts, state[0], direction.readouts)
        new_rnn, state_rnn = rnn.step(params.rnn, state[1], direction.rnn)
        return params._replace(readouts=new_readouts, rnn=new_rnn), (state_readouts, state_rnn)

    return init, step


def _readout_scale(lr_actor: float, lr_critic: float) -> optax.GradientTransformation:
    """Per-leaf step sizes of the readouts (Adam is element-wise, so this is per-group Adam)."""

    def scale(u: Any, _: Any) -> Any:
        actor, critic, critic_bias = -lr_actor * u.actor, -lr_critic * u.critic, -lr_critic * u.critic_bias
        return u._replace(actor=actor, critic=critic, critic_bias=critic_bias)

    return optax.stateless(scale)


def _optimizer(cfg: RTRRLConfig, rule: str, scale: optax.GradientTransformation) -> optax.GradientTransformation:
    """Adam or SGD on a descent direction, after the optional global-norm clip; 'obgd' is SGD on
    directions already bounded per env."""
    clip = [] if cfg.gradient_clip is None else [optax.clip_by_global_norm(cfg.gradient_clip)]
    step = optax.scale_by_adam(eps=cfg.adam_eps) if rule == "adam" else optax.identity()
    return optax.chain(*clip, step, scale)


def obgd_scale(lr: float, kappa: float, delta: jax.Array, trace: Any) -> jax.Array:
    """Factor in (0, 1] on one env's step of a parameter group under 'obgd' (Elsayed et al. 2024):
    1 / max(1, lr kappa max(|delta|, 1) ||z||_1). A plain step lr delta z changes a linear prediction
    by about lr |delta| ||z||^2; bounding lr ||z||_1 keeps that below |delta| / kappa."""
    l1 = sum(jnp.sum(jnp.abs(t)) for t in jax.tree_util.tree_leaves(trace))
    return 1.0 / jnp.maximum(1.0, lr * kappa * jnp.maximum(jnp.abs(delta), 1.0) * l1)


def _unbounded(direction: Any, z: Any, delta: jax.Array) -> Any:
    return direction


def _obgd_readouts(lr_actor: float, lr_critic: float, kappa: float):
    """The actor's and the critic's (weights and bias together) steps, each bounded by `obgd_scale`."""

    def bound(ro: Any, z: Any, delta: jax.Array) -> Any:
        actor = obgd_scale(lr_actor, kappa, delta, z.actor)
        critic = obgd_scale(lr_critic, kappa, delta, (z.critic, z.critic_bias))
        return ro._replace(actor=actor * ro.actor, critic=critic * ro.critic, critic_bias=critic * ro.critic_bias)

    return bound


def _obgd_rnn(lr_rnn: float, kappa: float):
    def bound(direction: Any, z: Any, delta: jax.Array) -> Any:
        scale = obgd_scale(lr_rnn, kappa, delta, z)
        return jax.tree_util.tree_map(lambda x: scale * x, direction)

    return bound
