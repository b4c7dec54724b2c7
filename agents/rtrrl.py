"""RTRRL (Lemmel & Grosu, AAAI 2025): an online actor-critic with TD(lambda) eligibility traces
whose recurrent core learns from a forward-mode trace (RFLO or exact RTRL) and, for RFLO,
feedback alignment. `linear-td` is the same learner with no RNN (linear in the Meta-RL input).

This module is the TD(lambda) actor-critic step. What varies around it is chosen once from the
config, as records of pure functions: the recurrent core (`agents.cores`), the update rule
(`agents.updates`) and the reference code's quirks (`agents.reference`); the hyperparameters
are in `agents.rtrrl_config`.

One iteration = one env step of `num_envs` environments, in the order of [algorithm.md A15]:
step the env with the pending action, reset what ended, build the Meta-RL input, advance the
core and its trace, sample the next action, compute the TD error with the value stored one
step earlier, update with the *old* traces (+ entropy gradients), then clear traces where an
episode ended and accumulate this step's gradients into them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from agents import ctrnn, lru
from agents.base import EnvLike, EnvSpecLike, PRNGKey, TimeStepLike, TrainMetrics, episode_metrics, scan_iterations
from agents.cores import Core, make_core
from agents.heads import GaussianHead, Head, make_head, no_action
from agents.normalize import RunningStats, init_stats, normalize, update_stats
from agents.reference import Hooks, make_hooks
from agents.rtrrl_config import Compat as Compat  # re-exported: the configs are read from here too
from agents.rtrrl_config import LinearTDConfig, LRUConfig, RTRLConfig, RTRRLConfig
from agents.updates import UpdateRule, make_update


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
    opt: Any  # the update rule's state (`agents.updates`)
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


class Traces(NamedTuple):
    """How each group's eligibility trace moves, z <- f(z, g, I) per leaf [algorithm.md A13, A14], and the
    critic's update direction from its trace, (delta, z, V(h_t) - V_stored) -> direction."""

    actor: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    critic: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    rnn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    critic_direction: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def accumulating(decay: float) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
    """z <- gamma lambda z + I g [algorithm.md A13]."""
    return lambda z, g, weight: decay * z + weight * g


def make_traces(cfg: RTRRLConfig, hooks: Hooks) -> Traces:
    """Accumulating traces, or the reference's dutch critic trace and correction [algorithm.md A14]
    (alpha = the critic's step size; per leaf, no factor I)."""
    if cfg.trace_mode == "dutch":
        alpha, decay = cfg.step_sizes()[1], cfg.gamma * cfg.lambda_critic

        def critic(z, g, weight):
            return decay * z + (1.0 - alpha * decay * jnp.vdot(z, g)) * g

        def critic_direction(delta, z, dv):
            return delta * z + alpha * dv * (z - delta * z)
    else:
        critic = accumulating(cfg.gamma * cfg.lambda_critic)

        def critic_direction(delta, z, dv):
            return delta * z

    return Traces(accumulating(cfg.gamma * cfg.lambda_actor), critic, hooks.rnn_trace, critic_direction)


# Built once per config: an agent's parts are the same records of functions at every trace.
_core, _update, _hooks = functools.cache(make_core), functools.cache(make_update), functools.cache(make_hooks)
_traces = functools.cache(lambda cfg: make_traces(cfg, _hooks(cfg)))


def _glorot(key: PRNGKey, shape: tuple[int, ...]) -> jax.Array:
    return jax.nn.initializers.glorot_normal()(key, shape, jnp.float32)


@dataclass(frozen=True)
class RTRRLAgent:
    config: RTRRLConfig = field(default_factory=RTRRLConfig)
    name: ClassVar[str] = "rtrrl"

    # ---- what the config chooses, built once ------------------------------------------------
    @property
    def core(self) -> Core:
        return _core(self.config)

    @property
    def update_rule(self) -> UpdateRule:
        return _update(self.config)

    @property
    def hooks(self) -> Hooks:
        return _hooks(self.config)

    @property
    def traces(self) -> Traces:
        return _traces(self.config)

    # ---- the learner's inputs -------------------------------------------------------------------
    def _input(
        self, head: Head, obs: jax.Array, prev_encoded: jax.Array, reward: jax.Array, done: jax.Array
    ) -> jax.Array:
        """Meta-RL input [algorithm.md A2] from the encoded previous action, both slots zero at an
        episode's first step; `meta_rl=False`: the observation alone."""
        return self.hooks.meta_input(head, obs, prev_encoded, reward, done) if self.config.meta_rl else obs

    def _input_size(self, spec: EnvSpecLike, head: Head) -> int:
        if not self.config.meta_rl:
            return spec.obs_dim
        enc = head.num_actions if spec.action_kind == "discrete" else spec.action_dim
        return spec.obs_dim + enc + 1

    def _normalized(
        self, obs_stats: RunningStats, reward_stats: RunningStats, obs: jax.Array, reward: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Observation and reward as the network sees them in evaluation [algorithm.md A3]."""
        if self.config.normalize_obs:
            obs = normalize(obs_stats, obs)
        if self.config.normalize_reward:
            reward = normalize(reward_stats, reward)
        return obs, reward

    def _training_view(
        self, obs_stats: RunningStats, reward_stats: RunningStats, obs: jax.Array, reward: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Observation and reward as the network sees them in training."""
        return self.hooks.training_inputs((obs, reward), self._normalized(obs_stats, reward_stats, obs, reward))

    @staticmethod
    def _value(params: Params, h: jax.Array) -> jax.Array:
        return h @ params.readouts.critic + params.readouts.critic_bias

    # ---- protocol: training -------------------------------------------------------------------
    def steps_per_iteration(self, spec: EnvSpecLike) -> int:
        return self.config.num_envs

    def init(self, key: PRNGKey, env: EnvLike) -> RTRRLState:
        """Parameters, and one forward pass per env on x_0 = [o_0; 0; 0] for h_0, a_0 and V(h_0) [A15]."""
        cfg, core, spec = self.config, self.core, env.spec
        head = make_head(spec, 0 if cfg.sigma_mode == "paper" else 1)
        k_rnn, k_a, k_c, k_ba, k_bc, k_env, k_act, key = jax.random.split(key, 8)
        in_size, a_out = self._input_size(spec, head), head.out_size()
        rnn, wiring = core.init(k_rnn, in_size, a_out + 1)
        d = core.output_size(in_size)
        readouts = Readouts(_glorot(k_a, (d, a_out)), _glorot(k_c, (d, 1))[:, 0], jnp.zeros(()))
        feedback = Readouts(_glorot(k_ba, (d, a_out)), _glorot(k_bc, (d, 1))[:, 0], jnp.zeros(()))
        params = Params(readouts, rnn)
        env_state, ts = jax.vmap(env.reset)(jax.random.split(k_env, cfg.num_envs))
        obs_stats, reward_stats = init_stats((spec.obs_dim,)), init_stats(())
        if cfg.normalize_obs:
            obs_stats = update_stats(obs_stats, ts.obs)

        def first(ts: TimeStepLike, k: PRNGKey) -> Carry:
            obs, _ = self._training_view(obs_stats, reward_stats, ts.obs, jnp.zeros(()))
            x = self._input(head, obs, no_action(head), jnp.zeros(()), jnp.zeros((), bool))
            state, trace, y = core.step(rnn, wiring, core.zero_state(rnn), core.zero_trace(rnn), x)
            action = head.sample(k, y @ readouts.actor)
            z = jax.tree_util.tree_map(jnp.zeros_like, params)
            return Carry(state, y, trace, z, self._value(params, y), action, jnp.ones(()), jnp.zeros(()))

        carry = jax.vmap(first)(ts, self.hooks.action_keys(k_act, cfg.num_envs))
        opt = self.update_rule.init(params)
        r_bar, return_stats = jnp.zeros(()), init_stats(())
        return RTRRLState(
            params, opt, feedback, wiring, head, env_state, carry, r_bar, obs_stats, reward_stats, return_stats, key
        )

    def train(self, state: RTRRLState, env: EnvLike, num_iterations: int) -> tuple[RTRRLState, TrainMetrics]:
        state, metrics = scan_iterations(lambda s: self._iteration(s, env), state, num_iterations, self.config.unroll)
        snapshot = {
            "actor_norm": jnp.linalg.norm(state.params.readouts.actor),
            **self.core.parameter_diagnostics(state.params.rnn),
        }
        return state, metrics._replace(diagnostics={**metrics.diagnostics, **snapshot})

    def _iteration(self, s: RTRRLState, env: EnvLike) -> tuple[RTRRLState, TrainMetrics]:
        """One env step of every env, then one update of the shared parameters [algorithm.md A15]."""
        cfg, n = self.config, self.config.num_envs
        key, k_env, k_act = jax.random.split(s.key, 3)
        # 1. execute the pending actions (the env auto-resets what ended)
        actions = jax.vmap(s.head.executed)(s.carry.pending)
        env_state, ts = jax.vmap(env.step)(jax.random.split(k_env, n), s.env_state, actions)
        # 2. running statistics: inputs, and the discounted return for `reward_scaling`
        obs_stats = update_stats(s.obs_stats, ts.obs) if cfg.normalize_obs else s.obs_stats
        reward_stats = update_stats(s.reward_stats, ts.reward) if cfg.normalize_reward else s.reward_stats
        returns, return_stats, reward_scale = s.carry.discounted_return, s.return_stats, jnp.ones(())
        if cfg.reward_scaling:  # statistics of the discounted return, this step's reward included
            returns = cfg.gamma * returns + ts.reward
            return_stats = update_stats(return_stats, returns)
            reward_scale = jnp.sqrt(return_stats.var + 1e-8)
        s = s._replace(obs_stats=obs_stats, reward_stats=reward_stats, return_stats=return_stats)
        # 3-8 and 10-12 per env; 9: the old traces' directions, averaged, make one update
        per_env = functools.partial(self._env_step, s, reward_scale)
        carry, directions, delta, diag = jax.vmap(per_env)(s.carry, ts, self.hooks.action_keys(k_act, n), returns)
        params, opt = self.update_rule.apply(s.params, s.opt, directions, s.carry.z, delta)
        params = params._replace(rnn=self.core.project(params.rnn))
        r_bar = s.r_bar if not cfg.eta else s.r_bar + cfg.eta * jnp.mean(delta)
        new = s._replace(params=params, opt=opt, env_state=env_state, carry=carry, r_bar=r_bar, key=key)
        metrics = episode_metrics(ts)._replace(diagnostics={k: jnp.mean(v) for k, v in diag.items()})
        return new, metrics

    def _env_step(
        self, s: RTRRLState, reward_scale: jax.Array, c: Carry, ts: TimeStepLike, key: PRNGKey, ret: jax.Array
    ) -> tuple[Carry, Params, jax.Array, dict[str, jax.Array]]:
        """One env's steps 3-8 and 10-12 of [algorithm.md A15]: (carry, ascent direction, delta, diagnostics)."""
        cfg, core, head, params = self.config, self.core, s.head, s.params
        done = ts.done
        d = done.astype(jnp.float32)
        obs, reward_in = self._training_view(s.obs_stats, s.reward_stats, ts.obs, ts.reward)
        # 3-5. where an episode ended the core starts afresh; the Meta-RL input; core step and trace
        state = jnp.where(done, 0.0, c.state)
        trace = jax.tree_util.tree_map(lambda t: jnp.where(done, 0.0, t), c.trace)
        x = self._input(head, obs, head.encode(c.pending), reward_in, done)
        state, trace, h = core.step(params.rnn, s.wiring, state, trace, x)
        # 6-7. value, next action, and this step's learning signals
        value = self._value(params, h)
        action = head.sample(key, h @ params.readouts.actor)
        g, g_ent = self.learning_signals(params, s.feedback, head, h, state, trace, action)
        # 8. TD error: V of the next state is V(h_t), or at a truncation V of the final observation's
        bootstrap = (1.0 - d) * value
        if cfg.bootstrap_truncation:
            bootstrap = jnp.where(ts.truncated, self._final_value(s, c, ts, reward_in), bootstrap)
        delta = ts.reward / reward_scale + cfg.gamma * bootstrap - s.r_bar - c.v_stored
        # 9. this env's ascent direction, from the old traces (+ entropy, not traced)
        direction = self._direction(c, g_ent, delta, value)
        # 10-11. I, then clear the traces where an episode ended and add this step's gradients
        weight = cfg.gamma * c.weight * (1.0 - d) + d if cfg.eta is None else c.weight
        z = self._trace_step(c.z, g, done, weight)
        entropy = self.hooks.entropy(head, h @ params.readouts.actor)
        diag = {"entropy": entropy, "td_error": delta, "abs_td_error": jnp.abs(delta), "value": value}
        ret = jnp.where(done, 0.0, ret) if cfg.reward_scaling else ret
        # 12. V_stored <- V(h_t), pending action <- a_t
        return Carry(state, h, trace, z, value, action, weight, ret), direction, delta, diag | core.step_diagnostics(h)

    def _final_value(self, s: RTRRLState, c: Carry, ts: TimeStepLike, reward_in: jax.Array) -> jax.Array:
        """V of the state the step's own final observation leads to, before any reset [algorithm.md A13]."""
        final_obs = self._training_view(s.obs_stats, s.reward_stats, ts.final_obs, ts.reward)[0]
        x = self._input(s.head, final_obs, s.head.encode(c.pending), reward_in, jnp.zeros((), bool))
        return self._value(s.params, self.core.forward(s.params.rnn, s.wiring, c.state, x)[1])

    def _direction(self, c: Carry, g_ent: Params, delta: jax.Array, value: jax.Array) -> Params:
        """Ascent direction from the old traces [algorithm.md A13]: delta z, plus the entropy gradient for
        actor and RNN; the RNN's scaled by `eta_f` (and nothing when frozen)."""
        cfg, z, critic = self.config, c.z, self.traces.critic_direction
        dv = value - c.v_stored
        readouts = Readouts(
            delta * z.readouts.actor + g_ent.readouts.actor,
            critic(delta, z.readouts.critic, dv),
            critic(delta, z.readouts.critic_bias, dv),
        )
        train = float(cfg.train_rnn)
        rnn = jax.tree_util.tree_map(lambda zr, e: (cfg.eta_f * delta * zr + e) * train, z.rnn, g_ent.rnn)
        return Params(readouts, rnn)

    def _trace_step(self, z: Params, g: Params, done: jax.Array, weight: jax.Array) -> Params:
        """Clear where an episode ended, then z <- f(z, g, I) per group [algorithm.md A13, A14]."""
        traces = self.traces
        z = jax.tree_util.tree_map(lambda t: jnp.where(done, 0.0, t), z)
        readouts = Readouts(
            traces.actor(z.readouts.actor, g.readouts.actor, weight),
            traces.critic(z.readouts.critic, g.readouts.critic, weight),
            traces.critic(z.readouts.critic_bias, g.readouts.critic_bias, weight),
        )
        rnn = jax.tree_util.tree_map(lambda t, gi: traces.rnn(t, gi, weight), z.rnn, g.rnn)
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
        cfg, hooks, core = self.config, self.hooks, self.core
        out = h @ params.readouts.actor
        o_bar = cfg.eta_pi * jax.grad(lambda o: hooks.log_prob(head, o, action))(out)
        ent_bar = cfg.entropy_rate * jax.grad(lambda o: hooks.entropy(head, o))(out)
        v_bar = jnp.ones(())  # dL/dV
        if cfg.var_scaling and isinstance(head, GaussianHead):  # s = min(mean sigma, 1), stop-gradiented

            def scale(o):
                return jnp.minimum(jnp.mean(head.scale(o)), 1.0)

            def objective():
                return cfg.eta_pi * hooks.log_prob(head, out, action) + self._value(params, h)

            s = jax.lax.stop_gradient(scale(out))
            live = hooks.scale_gradient(objective, scale, out)
            o_bar, ent_bar, v_bar = s * o_bar + live, s * ent_bar, s
        back = feedback if cfg.f_align else params.readouts
        g_h = back.actor @ o_bar + back.critic * v_bar
        td = Params(Readouts(jnp.outer(h, o_bar), v_bar * h, v_bar), core.gradient(params.rnn, state, trace, g_h))
        ent_rnn = core.gradient(params.rnn, state, trace, back.actor @ ent_bar)
        ent = Params(Readouts(jnp.outer(h, ent_bar), jnp.zeros_like(h), jnp.zeros(())), ent_rnn)
        return td, ent

    # ---- protocol: acting ------------------------------------------------------------------------
    def policy_params(self, state: RTRRLState) -> PolicyParams:
        return PolicyParams(state.params, state.head, state.wiring, state.obs_stats, state.reward_stats)

    def initial_carry(self, pp: PolicyParams) -> tuple[jax.Array, jax.Array]:
        """(core state, encoded previous action): zeros at an episode start, as training's first input."""
        return self.core.zero_state(pp.params.rnn), no_action(pp.head)

    def policy(self, pp: PolicyParams, carry, timestep: TimeStepLike, key: PRNGKey):
        """Stochastic action, with training's episode-boundary rule (see `Compat.eval_keeps_state`)."""
        params, head = pp.params, pp.head
        h, prev_encoded = carry
        done = self.hooks.eval_episode_start(timestep.done)
        h = jnp.where(done, 0.0, h)
        obs, reward = self._normalized(pp.obs_stats, pp.reward_stats, timestep.obs, timestep.reward)
        x = self._input(head, obs, prev_encoded, reward, done)
        h, y = self.core.forward(params.rnn, pp.wiring, h, x)
        fed_back, executed = self.hooks.eval_action(head, head.sample(key, y @ params.readouts.actor))
        return (h, fed_back), executed


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
