"""RTRRL (Lemmel & Grosu, AAAI 2025): an online actor-critic with TD(lambda) eligibility traces
whose recurrent core learns from a forward-mode trace (RFLO or exact RTRL) and, for RFLO,
feedback alignment. `linear-td` is the same learner with no RNN (linear in the Meta-RL input).

One iteration = one env step of `num_envs` environments, in the order of [algorithm.md A15]:
step the env with the pending action, reset what ended, build the Meta-RL input, advance the
core and its trace, sample the next action, compute the TD error with the value stored one
step earlier, update with the *old* traces (+ entropy gradients), then clear traces where an
episode ended and accumulate this step's gradients into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents import ctrnn, lru
from agents.base import EnvLike, EnvSpecLike, PRNGKey, TimeStepLike, TrainMetrics, episode_metrics, scan_iterations
from agents.heads import CategoricalHead, GaussianHead, Head, make_head, meta_rl_input, no_action
from agents.normalize import RunningStats, init_stats, normalize, update_stats
from agents.rtrrl_config import Compat as Compat  # re-exported: the configs are read from here too
from agents.rtrrl_config import LinearTDConfig, LRUConfig, RTRLConfig, RTRRLConfig


class Readouts(NamedTuple):
    actor: jax.Array  # K_A (D, A_out), no bias
    critic: jax.Array  # K_C (D,)
    critic_bias: jax.Array  # b_C ()


class Params(NamedTuple):
    readouts: Readouts
    rnn: ctrnn.CTRNNParams | lru.LRUParams | None


class Carry(NamedTuple):
    """Per-environment learner state."""

    state: jax.Array  # recurrent state of the core (CT-RNN: = y; LRU: complex)
    y: jax.Array  # core output the readouts see (D,)
    trace: Any  # forward-mode trace of the state (None without an RNN)
    z: Params  # eligibility traces, one per parameter
    v_stored: jax.Array  # V(h) computed one step earlier
    pending: jax.Array  # action sampled from pi(.|h), executed at the next step
    weight: jax.Array  # I: gamma^k in episodic mode, else 1
    discounted_return: jax.Array  # u = gamma u + r within the episode (for `reward_scaling`)


class RTRRLState(NamedTuple):
    params: Params
    opt_td: Any
    opt_rnn: Any
    feedback: Readouts  # fixed B_A, B_C (never trained)
    wiring: jax.Array | None  # fixed CT-RNN connectivity mask (None: fully connected)
    head: Head
    env_state: Any
    carry: Carry  # leading axis: num_envs
    r_bar: jax.Array
    obs_stats: RunningStats
    reward_stats: RunningStats
    return_stats: RunningStats  # of the discounted return (for `reward_scaling`)
    key: jax.Array


class PolicyParams(NamedTuple):
    params: Params
    head: Head
    wiring: jax.Array | None
    obs_stats: RunningStats
    reward_stats: RunningStats


SATURATION = 0.95
"""|h_i| above which a tanh unit counts as saturated: its derivative 1 - h^2 is below 0.1, so its
RFLO trace (and any gradient through it) has all but vanished."""

DIAGNOSTICS = {
    "entropy": "policy entropy at the sampled states (nats), mean over steps",
    "td_error": "mean TD error delta; persistently positive = the critic under-estimates",
    "abs_td_error": "mean |delta|",
    "value": "mean V(h_t)",
    "saturation": "CT-RNN: fraction of hidden units with |h| > 0.95, mean over steps",
    "tau_at_clamp": "CT-RNN: fraction of time constants held at the clamp tau = 1 (end of epoch)",
    "w_norm": "CT-RNN: Frobenius norm of W (input, recurrent and bias columns; end of epoch)",
    "rnn_norm": "LRU: global L2 norm of its parameters (end of epoch)",
    "actor_norm": "Frobenius norm of the actor readout K_A (end of epoch): large = near-deterministic policy",
}
"""What `train` reports in `TrainMetrics.diagnostics` (the CT-RNN and LRU entries only for that core)."""


def step_diagnostics(
    h: jax.Array | None, entropy: jax.Array, delta: jax.Array, value: jax.Array
) -> dict[str, jax.Array]:
    """Per-step health numbers of one env (`h`: the CT-RNN state, None for other cores)."""
    out = {"entropy": entropy, "td_error": delta, "abs_td_error": jnp.abs(delta), "value": value}
    if h is not None:
        out["saturation"] = jnp.mean((jnp.abs(h) > SATURATION).astype(jnp.float32))
    return out


def parameter_diagnostics(params: Params, rnn: str) -> dict[str, jax.Array]:
    """End-of-epoch snapshot of the parameters: collapse shows here first (tau on its clamp, W growing)."""
    out = {"actor_norm": jnp.linalg.norm(params.readouts.actor)}
    if rnn == "ctrnn":
        out["tau_at_clamp"] = jnp.mean((params.rnn.tau <= 1.0).astype(jnp.float32))
        out["w_norm"] = jnp.linalg.norm(params.rnn.W)
    elif rnn == "lru":
        out["rnn_norm"] = optax.tree.norm(params.rnn)
    return out


def obgd_scale(lr: float, kappa: float, delta: jax.Array, trace: Any) -> jax.Array:
    """Factor in (0, 1] on one env's step of a parameter group under 'obgd' (Elsayed et al. 2024):
    1 / max(1, lr kappa max(|delta|, 1) ||z||_1). A plain step lr delta z changes a linear prediction
    by about lr |delta| ||z||^2; bounding lr ||z||_1 keeps that below |delta| / kappa."""
    l1 = sum(jnp.sum(jnp.abs(t)) for t in jax.tree_util.tree_leaves(trace))
    return 1.0 / jnp.maximum(1.0, lr * kappa * jnp.maximum(jnp.abs(delta), 1.0) * l1)


def _glorot(key: PRNGKey, shape: tuple[int, ...]) -> jax.Array:
    return jax.nn.initializers.glorot_normal()(key, shape, jnp.float32)


@dataclass(frozen=True)
class RTRRLAgent:
    config: RTRRLConfig = field(default_factory=RTRRLConfig)
    name: ClassVar[str] = "rtrrl"

    # ---- pieces -------------------------------------------------------------------------------
    def _input(
        self, head: Head, obs: jax.Array, prev_encoded: jax.Array, reward: jax.Array, done: jax.Array
    ) -> jax.Array:
        """Meta-RL input [algorithm.md A2] from the encoded previous action; both slots are zero at an
        episode's first step (compat: the reference's one-hot of action 0 in the action slot)."""
        if not self.config.meta_rl:
            return obs
        if self.config.compat.prev_action_at_reset and isinstance(head, CategoricalHead):
            keep = 1.0 - done.astype(jnp.float32)
            slot = jnp.where(done, head.encode(jnp.zeros((), jnp.int32)), prev_encoded)
            return jnp.concatenate([obs, slot, keep * reward[None]])
        return meta_rl_input(obs, prev_encoded, reward, done)

    def _normalized(
        self,
        obs_stats: RunningStats,
        reward_stats: RunningStats,
        obs: jax.Array,
        reward: jax.Array,
        training: bool = False,
    ) -> tuple[jax.Array, jax.Array]:
        """Observation and reward as the network sees them."""
        if training and self.config.compat.normalize_eval_only:
            return obs, reward
        if self.config.normalize_obs:
            obs = normalize(obs_stats, obs)
        if self.config.normalize_reward:
            reward = normalize(reward_stats, reward)
        return obs, reward

    def _input_size(self, spec: EnvSpecLike, head: Head) -> int:
        if not self.config.meta_rl:
            return spec.obs_dim
        enc = head.num_actions if spec.action_kind == "discrete" else spec.action_dim
        return spec.obs_dim + enc + 1

    # The recurrent core: CT-RNN (RFLO or RTRL trace), LRU (exact trace), or none (Linear TD).
    def _init_core(self, key: PRNGKey, input_size: int) -> Any:
        if self.config.rnn == "ctrnn":
            return ctrnn.init_ctrnn(key, input_size, self.config.hidden_size)
        if self.config.rnn == "lru":
            return lru.init_lru(key, input_size, self.config.hidden_size)
        return None

    def _zero_state(self, rnn: Any) -> jax.Array:
        if self.config.rnn == "lru":
            return lru.zero_state(rnn)
        return jnp.zeros((self.config.hidden_size if rnn is not None else 1,))

    def _zero_trace(self, rnn: Any) -> Any:
        if rnn is None:
            return None
        if self.config.rnn == "lru":
            return lru.zero_trace(rnn)
        return ctrnn.zero_rflo(rnn) if self.config.gradient_mode == "rflo" else ctrnn.zero_rtrl(rnn)

    def _core(
        self, rnn: Any, wiring: jax.Array | None, state: jax.Array, trace: Any, x: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array]:
        """(new state, new trace, output) of one core step."""
        cfg = self.config
        if rnn is None:
            return state, None, x
        if cfg.rnn == "lru":
            trace = lru.trace_update(rnn, trace, state, x, cfg.compat.lru_b_trace)
            state, y = lru.forward(rnn, state, x)
            return state, trace, y
        h, u, xi = ctrnn.forward(rnn, state, x, cfg.dt, wiring)
        trace_mask = None if cfg.compat.wiring_traces else wiring
        if cfg.gradient_mode == "rflo":
            return h, ctrnn.rflo_update(rnn, trace, state, u, xi, cfg.dt, trace_mask), h
        return h, ctrnn.rtrl_update(rnn, trace, state, u, xi, cfg.dt, trace_mask, wiring), h

    def _forward(
        self, rnn: Any, wiring: jax.Array | None, state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Core step without a trace (acting only)."""
        if rnn is None:
            return state, x
        if self.config.rnn == "lru":
            return lru.forward(rnn, state, x)
        h = ctrnn.forward(rnn, state, x, self.config.dt, wiring)[0]
        return h, h

    def _core_grad(self, rnn: Any, state: jax.Array, trace: Any, g: jax.Array) -> Any:
        """Parameter gradient for a signal g on the core output."""
        if rnn is None:
            return None
        if self.config.rnn == "lru":
            return lru.gradient(rnn, state, trace, g)
        if self.config.gradient_mode == "rflo":
            return ctrnn.rflo_readout(trace, g)
        return ctrnn.rtrl_readout(trace, g, self.config.compat.rtrl_wrong_axis)

    @staticmethod
    def _value(params: Params, h: jax.Array) -> jax.Array:
        return h @ params.readouts.critic + params.readouts.critic_bias

    def _project(self, rnn: Any) -> Any:
        return ctrnn.clamp_tau(rnn) if self.config.rnn == "ctrnn" else rnn

    def _optimizer(self, lr: float | Readouts, rule: str) -> optax.GradientTransformation:
        """Adam or SGD on a descent direction, optionally after a global-norm clip; `lr` may be a
        pytree of per-leaf step sizes (Adam is element-wise, so this is per-group Adam)."""
        if isinstance(lr, Readouts):
            scale = optax.stateless(lambda u, _: jax.tree_util.tree_map(lambda x, a: -a * x, u, lr))
        else:
            scale = optax.scale(-lr)
        cfg = self.config
        clip = [] if cfg.gradient_clip is None else [optax.clip_by_global_norm(cfg.gradient_clip)]
        # 'obgd' is SGD on directions already bounded per env (`_bound_overshoot`)
        step = optax.scale_by_adam(eps=cfg.adam_eps) if rule == "adam" else optax.identity()
        return optax.chain(*clip, step, scale)

    def _joint(self) -> bool:
        """Whether both groups take one Adam over a single flat vector (`_joint_optimizer`): the
        same element-wise arithmetic as two per-group Adams (so the same numbers, to float
        rounding) in a few fused ops instead of a dozen small ones per step. Needs what makes the
        two groups' Adam states move in lockstep: the same rule, no per-group clip, both trained."""
        cfg = self.config
        return (
            cfg.optimizer == "adam"
            and (cfg.optimizer_rnn or cfg.optimizer) == "adam"
            and cfg.gradient_clip is None
            and (cfg.rnn == "none" or cfg.train_rnn)
        )

    def _joint_optimizer(self, params: Params) -> optax.GradientTransformation:
        """Adam on the flattened (readouts, core) tree, each element scaled by its group's step size."""
        lrs = self._td_learning_rates()
        steps = (
            Readouts(*(jnp.full_like(x, -lr) for x, lr in zip(params.readouts, lrs))),
            jax.tree_util.tree_map(lambda x: jnp.full_like(x, -self.config.lr_rnn), params.rnn),
        )
        step = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(steps)])
        scale = optax.stateless(lambda u, _: u * step)
        return optax.flatten(optax.chain(optax.scale_by_adam(eps=self.config.adam_eps), scale))

    def _optimizers(self) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
        """(actor and critic, RNN): the two groups each with its own step sizes and rule."""
        cfg = self.config
        return (
            self._optimizer(self._td_learning_rates(), cfg.optimizer),
            self._optimizer(cfg.lr_rnn, cfg.optimizer_rnn or cfg.optimizer),
        )

    def _bound_overshoot(self, direction: Params, z: Params, delta: jax.Array) -> Params:
        """One env's direction with each 'obgd' group (actor; critic; RNN) shrunk by `obgd_scale`."""
        cfg, lrs = self.config, self._td_learning_rates()
        if cfg.optimizer == "obgd":
            ro = direction.readouts
            actor = obgd_scale(lrs.actor, cfg.obgd_kappa, delta, z.readouts.actor)
            critic = obgd_scale(lrs.critic, cfg.obgd_kappa, delta, (z.readouts.critic, z.readouts.critic_bias))
            direction = direction._replace(
                readouts=Readouts(actor * ro.actor, critic * ro.critic, critic * ro.critic_bias)
            )
        if (cfg.optimizer_rnn or cfg.optimizer) == "obgd" and direction.rnn is not None:
            scale = obgd_scale(cfg.lr_rnn, cfg.obgd_kappa, delta, z.rnn)
            direction = direction._replace(rnn=jax.tree_util.tree_map(lambda x: scale * x, direction.rnn))
        return direction

    def _td_learning_rates(self) -> Readouts:
        cfg = self.config
        actor = cfg.lr_td if cfg.lr_actor is None else cfg.lr_actor
        critic = cfg.lr_td if cfg.lr_critic is None else cfg.lr_critic
        return Readouts(actor, critic, critic)

    def _trace_step(self, z: Params, g: Params, done: jax.Array, weight: jax.Array) -> Params:
        """Clear where an episode ended, decay by gamma * lambda, add the new gradient [algorithm.md A13, A14]."""
        cfg = self.config
        z = jax.tree_util.tree_map(lambda t: jnp.where(done, 0.0, t), z)

        def accumulate(lam):
            return lambda t, gi: cfg.gamma * lam * t + weight * gi

        actor = accumulate(cfg.lambda_actor)(z.readouts.actor, g.readouts.actor)
        if cfg.trace_mode == "dutch":  # the reference's critic trace: per leaf, no factor I
            alpha, decay = self._td_learning_rates().critic, cfg.gamma * cfg.lambda_critic

            def critic_step(t, gi):
                return decay * t + (1.0 - alpha * decay * jnp.vdot(t, gi)) * gi
        else:
            critic_step = accumulate(cfg.lambda_critic)
        readouts = Readouts(
            actor,
            critic_step(z.readouts.critic, g.readouts.critic),
            critic_step(z.readouts.critic_bias, g.readouts.critic_bias),
        )
        if cfg.lambda_rnn == 0.0 and cfg.compat.lambda_rnn_zero:
            rnn = g.rnn
        else:
            rnn = jax.tree_util.tree_map(accumulate(cfg.lambda_rnn), z.rnn, g.rnn)
        return Params(readouts, rnn)

    def learning_signals(
        self,
        params: Params,
        feedback: Readouts,
        head: Head,
        h: jax.Array,
        state: jax.Array,
        trace: Any,
        action: jax.Array,
    ) -> tuple[Params, Params]:
        """(TD-objective gradient g_t, entropy gradient) for one env at core output h [algorithm.md A11, A12].

        L_TD = eta_pi log pi(a|h) + V(h) at the fixed sampled action; readout gradients are
        exact, the RNN gets B (feedback alignment) or K times the output cotangents.
        """
        cfg = self.config
        out = h @ params.readouts.actor
        avg = cfg.compat.average_logprob_over_dims
        log_prob = head.log_prob
        if cfg.compat.continuous_actor_gradient and isinstance(head, GaussianHead):
            log_prob = head.log_prob_reparameterised
        o_bar = cfg.eta_pi * jax.grad(lambda o: log_prob(o, action, avg))(out)
        ent_bar = cfg.entropy_rate * jax.grad(lambda o: head.entropy(o, avg))(out)
        v_bar = jnp.ones(())  # dL/dV
        if cfg.var_scaling and isinstance(head, GaussianHead):

            def scale(o):
                return jnp.minimum(jnp.mean(head.scale(o)), 1.0)

            s = jax.lax.stop_gradient(scale(out))
            live = jnp.zeros_like(out)
            if cfg.compat.var_scaling_live_gradient:  # product rule through s: (eta_pi log pi + V) grad s
                value = self._value(params, h)
                live = (cfg.eta_pi * log_prob(out, action, avg) + value) * jax.grad(scale)(out)
            o_bar, ent_bar, v_bar = s * o_bar + live, s * ent_bar, s
        back = feedback if cfg.f_align else params.readouts
        g_h = back.actor @ o_bar + back.critic * v_bar
        td = Params(Readouts(jnp.outer(h, o_bar), v_bar * h, v_bar), self._core_grad(params.rnn, state, trace, g_h))
        ent_rnn = self._core_grad(params.rnn, state, trace, back.actor @ ent_bar)
        ent = Params(Readouts(jnp.outer(h, ent_bar), jnp.zeros_like(h), jnp.zeros(())), ent_rnn)
        return td, ent

    # ---- protocol -----------------------------------------------------------------------------
    def steps_per_iteration(self, spec: EnvSpecLike) -> int:
        return self.config.num_envs

    def init(self, key: PRNGKey, env: EnvLike) -> RTRRLState:
        cfg = self.config
        spec = env.spec
        head = make_head(spec, 0 if cfg.sigma_mode == "paper" else 1)
        k_rnn, k_a, k_c, k_ba, k_bc, k_env, k_act, key = jax.random.split(key, 8)
        in_size = self._input_size(spec, head)
        rnn = self._init_core(k_rnn, in_size)
        d = cfg.hidden_size if rnn is not None else in_size
        a_out = head.out_size()
        readouts = Readouts(_glorot(k_a, (d, a_out)), _glorot(k_c, (d, 1))[:, 0], jnp.zeros(()))
        feedback = Readouts(_glorot(k_ba, (d, a_out)), _glorot(k_bc, (d, 1))[:, 0], jnp.zeros(()))
        params = Params(readouts, rnn)
        # its own stream (fold_in), so the wiring option leaves every other random draw unchanged
        wiring = (
            None
            if rnn is None
            else ctrnn.make_wiring(jax.random.fold_in(k_rnn, 1), cfg.wiring, in_size, cfg.hidden_size, a_out + 1)
        )

        n = cfg.num_envs
        env_state, ts = jax.vmap(env.reset)(jax.random.split(k_env, n))
        obs_stats, reward_stats = init_stats((spec.obs_dim,)), init_stats(())
        if cfg.normalize_obs:
            obs_stats = update_stats(obs_stats, ts.obs)

        def first(ts, k):  # one forward pass on x_0 = [o_0; 0; 0] gives h_0, a_0 and V(h_0)
            obs, _ = self._normalized(obs_stats, reward_stats, ts.obs, jnp.zeros(()), training=True)
            x = self._input(head, obs, no_action(head), jnp.zeros(()), jnp.zeros((), bool))
            state, trace, y = self._core(rnn, wiring, self._zero_state(rnn), self._zero_trace(rnn), x)
            action = head.sample(k, y @ readouts.actor)
            z = jax.tree_util.tree_map(jnp.zeros_like, params)
            return Carry(state, y, trace, z, self._value(params, y), action, jnp.ones(()), jnp.zeros(()))

        carry = jax.vmap(first)(ts, self._action_keys(k_act))
        if self._joint():
            opt_state = (self._joint_optimizer(params).init((readouts, rnn)), optax.EmptyState())
        else:
            opt_td, opt_rnn = self._optimizers()
            opt_state = (opt_td.init(readouts), opt_rnn.init(rnn) if rnn is not None else optax.EmptyState())
        return RTRRLState(
            params,
            *opt_state,
            feedback,
            wiring,
            head,
            env_state,
            carry,
            jnp.zeros(()),
            obs_stats,
            reward_stats,
            init_stats(()),
            key,
        )

    def _action_keys(self, key: PRNGKey) -> jax.Array:
        """One sampling key per env (the reference shared one across the batch: compat switch)."""
        n = self.config.num_envs
        if self.config.compat.shared_action_key:
            return jnp.repeat(key[None], n, axis=0)
        return jax.random.split(key, n)

    def train(self, state: RTRRLState, env: EnvLike, num_iterations: int) -> tuple[RTRRLState, TrainMetrics]:
        state, metrics = scan_iterations(lambda s: self._iteration(s, env), state, num_iterations, self.config.unroll)
        snapshot = parameter_diagnostics(state.params, self.config.rnn)
        return state, metrics._replace(diagnostics={**metrics.diagnostics, **snapshot})

    def _iteration(self, s: RTRRLState, env: EnvLike) -> tuple[RTRRLState, TrainMetrics]:
        cfg = self.config
        n = cfg.num_envs
        key, k_env, k_act = jax.random.split(s.key, 3)
        actions = jax.vmap(s.head.executed)(s.carry.pending)
        env_state, ts = jax.vmap(env.step)(jax.random.split(k_env, n), s.env_state, actions)
        params, head, wiring = s.params, s.head, s.wiring
        obs_stats = update_stats(s.obs_stats, ts.obs) if cfg.normalize_obs else s.obs_stats
        reward_stats = update_stats(s.reward_stats, ts.reward) if cfg.normalize_reward else s.reward_stats
        returns, return_stats, reward_scale = s.carry.discounted_return, s.return_stats, jnp.ones(())
        if cfg.reward_scaling:  # statistics of the discounted return, this step's reward included
            returns = cfg.gamma * returns + ts.reward
            return_stats = update_stats(return_stats, returns)
            reward_scale = jnp.sqrt(return_stats.var + 1e-8)

        def per_env(c: Carry, ts: TimeStepLike, k: PRNGKey, ret: jax.Array):
            done = ts.done
            d = done.astype(jnp.float32)
            obs, reward_in = self._normalized(obs_stats, reward_stats, ts.obs, ts.reward, training=True)
            if cfg.bootstrap_truncation:  # V of the state the final observation leads to (before any reset)
                final_obs = self._normalized(obs_stats, reward_stats, ts.final_obs, ts.reward, training=True)[0]
                x_final = self._input(head, final_obs, head.encode(c.pending), reward_in, jnp.zeros((), bool))
                final_value = self._value(params, self._forward(params.rnn, wiring, c.state, x_final)[1])
            state = jnp.where(done, 0.0, c.state)
            trace = jax.tree_util.tree_map(lambda t: jnp.where(done, 0.0, t), c.trace)
            x = self._input(head, obs, head.encode(c.pending), reward_in, done)
            state, trace, h = self._core(params.rnn, wiring, state, trace, x)
            value = self._value(params, h)
            action = head.sample(k, h @ params.readouts.actor)
            g, g_ent = self.learning_signals(params, s.feedback, head, h, state, trace, action)
            # V of the next state: h_t, or at a truncation the state the final observation leads to
            bootstrap = (1.0 - d) * value
            if cfg.bootstrap_truncation:
                bootstrap = jnp.where(ts.truncated, final_value, bootstrap)
            delta = ts.reward / reward_scale + cfg.gamma * bootstrap - s.r_bar - c.v_stored
            # update direction from the old traces (+ entropy, not traced)
            critic_dir = lambda z: delta * z
            if cfg.trace_mode == "dutch":  # the reference's correction [algorithm.md A14]
                alpha, diff = self._td_learning_rates().critic, value - c.v_stored
                critic_dir = lambda z: delta * z + alpha * diff * (z - delta * z)
            direction = Params(
                Readouts(
                    delta * c.z.readouts.actor + g_ent.readouts.actor,
                    critic_dir(c.z.readouts.critic),
                    critic_dir(c.z.readouts.critic_bias),
                ),
                None
                if params.rnn is None
                else jax.tree_util.tree_map(
                    lambda z, e: (cfg.eta_f * delta * z + e) * float(cfg.train_rnn), c.z.rnn, g_ent.rnn
                ),
            )
            direction = self._bound_overshoot(direction, c.z, delta)
            weight = cfg.gamma * c.weight * (1.0 - d) + d if cfg.eta is None else c.weight
            z = self._trace_step(c.z, g, done, weight)
            entropy = head.entropy(h @ params.readouts.actor, cfg.compat.average_logprob_over_dims)
            diag = step_diagnostics(h if cfg.rnn == "ctrnn" else None, entropy, delta, value)
            ret = jnp.where(done, 0.0, ret) if cfg.reward_scaling else ret
            return Carry(state, h, trace, z, value, action, weight, ret), direction, delta, diag

        carry, direction, delta, diag = jax.vmap(per_env)(s.carry, ts, self._action_keys(k_act), returns)
        direction = jax.tree_util.tree_map(lambda x: jnp.mean(x, axis=0), direction)

        # the optimiser's ascent step: feed the negated direction to a minimiser, per group
        rnn, opt_rnn = params.rnn, s.opt_rnn
        if self._joint():
            groups = (direction.readouts, direction.rnn)
            upd, opt_td = self._joint_optimizer(params).update(jax.tree_util.tree_map(jnp.negative, groups), s.opt_td)
            readouts, rnn = optax.apply_updates((params.readouts, rnn), upd)
            rnn = None if rnn is None else self._project(rnn)
        else:
            optimizer_td, optimizer_rnn = self._optimizers()
            upd, opt_td = optimizer_td.update(
                jax.tree_util.tree_map(jnp.negative, direction.readouts), s.opt_td, params.readouts
            )
            readouts = optax.apply_updates(params.readouts, upd)
            if rnn is not None and cfg.train_rnn:
                upd, opt_rnn = optimizer_rnn.update(jax.tree_util.tree_map(jnp.negative, direction.rnn), s.opt_rnn, rnn)
                rnn = self._project(optax.apply_updates(rnn, upd))
        r_bar = s.r_bar if not cfg.eta else s.r_bar + cfg.eta * jnp.mean(delta)
        new = RTRRLState(
            Params(readouts, rnn),
            opt_td,
            opt_rnn,
            s.feedback,
            wiring,
            head,
            env_state,
            carry,
            r_bar,
            obs_stats,
            reward_stats,
            return_stats,
            key,
        )
        metrics = episode_metrics(ts)._replace(diagnostics={k: jnp.mean(v) for k, v in diag.items()})
        return new, metrics

    def policy_params(self, state: RTRRLState) -> PolicyParams:
        return PolicyParams(state.params, state.head, state.wiring, state.obs_stats, state.reward_stats)

    def initial_carry(self, pp: PolicyParams) -> tuple[jax.Array, jax.Array]:
        """(core state, encoded previous action): zeros at an episode start, as training's first input."""
        return self._zero_state(pp.params.rnn), no_action(pp.head)

    def policy(self, pp: PolicyParams, carry, timestep: TimeStepLike, key: PRNGKey):
        """Stochastic action, with training's episode-boundary rule (see `Compat.eval_keeps_state`)."""
        params, head = pp.params, pp.head
        h, prev_encoded = carry
        done = jnp.zeros((), bool) if self.config.compat.eval_keeps_state else timestep.done
        h = jnp.where(done, 0.0, h)
        obs, reward = self._normalized(pp.obs_stats, pp.reward_stats, timestep.obs, timestep.reward)
        x = self._input(head, obs, prev_encoded, reward, done)
        h, y = self._forward(params.rnn, pp.wiring, h, x)
        sample = head.sample(key, y @ params.readouts.actor)
        if self.config.compat.unclipped_eval and isinstance(head, GaussianHead):
            return (h, sample), sample  # compat: the unclipped sample is fed back (the env clips what it runs)
        return (h, head.encode(sample)), head.executed(sample)


@dataclass(frozen=True)
class RTRLAgent(RTRRLAgent):
    config: RTRRLConfig = field(default_factory=RTRLConfig)
    name: ClassVar[str] = "rtrrl-rtrl"


@dataclass(frozen=True)
class LRUAgent(RTRRLAgent):
    config: RTRRLConfig = field(default_factory=LRUConfig)
    name: ClassVar[str] = "rtrrl-lru"


@dataclass(frozen=True)
class LinearTDAgent(RTRRLAgent):
    config: RTRRLConfig = field(default_factory=LinearTDConfig)
    name: ClassVar[str] = "linear-td"
