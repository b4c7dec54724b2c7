"""PPO baselines re-derived from purejaxrl (Lu et al. 2022): feed-forward PPO and recurrent PPO
trained with truncated BPTT over rollout segments.

One iteration = a rollout of `num_steps` steps in each of `num_envs` envs, GAE, then
`update_epochs` passes of `num_minibatches` clipped-surrogate Adam steps, all inside the
caller's `jit`. Minibatches are random transitions (feed-forward) or whole env sequences
from the segment start with the stored hidden state (recurrent); the hidden state is reset
to zero wherever an observation starts a new episode, in rollout, in BPTT and in evaluation.

Departures from purejaxrl, each a config switch: time-limit truncations bootstrap from the
value of the final observation (`bootstrap_truncation`); learning-rate annealing is off by
default because agents know nothing of budgets (`anneal_lr_steps`: purejaxrl anneals to 0 over
its total budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents.base import EnvLike, EnvSpecLike, PRNGKey, TimeStepLike, TrainMetrics, episode_metrics, scan_iterations
from agents.heads import GaussianHead, Head, make_head, meta_rl_input, no_action, zero_action
from agents.networks import CELLS, MLPActorCritic, RecurrentActorCritic, initial_carry


@dataclass(frozen=True)
class PPOConfig:
    """Defaults: purejaxrl's CartPole-v1 config (`ppo.py`)."""

    num_envs: int = 4
    """Parallel environments per rollout."""
    num_steps: int = 128
    """Rollout length per env; one iteration consumes num_envs * num_steps env steps."""
    update_epochs: int = 4
    """Passes over each rollout."""
    num_minibatches: int = 4
    """Adam steps per pass (recurrent: must divide num_envs, a minibatch is whole env sequences)."""
    lr: float = 2.5e-4
    """Adam step size."""
    anneal_lr_steps: int = 0
    """Anneal the step size linearly to 0 over this many env steps (purejaxrl: its total budget);
    0 = constant."""
    adam_eps: float = 1e-5
    """Adam epsilon (purejaxrl)."""
    max_grad_norm: float = 0.5
    """Global-norm gradient clip."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_eps: float = 0.2
    """Surrogate ratio clip, also the value clip."""
    clip_value: bool = True
    """Clipped value loss (purejaxrl): max of the plain and the clipped squared error."""
    vf_coef: float = 0.5
    """Value-loss weight; the loss itself carries a 1/2 (purejaxrl convention: 0.25 x squared error)."""
    ent_coef: float | None = None
    """Entropy bonus; None = purejaxrl's: 0.01 for discrete actions (`ppo.py`), 0 for continuous
    (`ppo_continuous_action.py`)."""
    normalize_advantages: bool = True
    """Standardise advantages per minibatch."""
    bootstrap_truncation: bool = True
    """At a time-limit truncation bootstrap from V(final observation) (one extra forward per step);
    False = purejaxrl: a truncation ends the return like a termination."""
    meta_rl: bool = False
    """Input [obs, previous action, previous reward] exactly as RTRRL's ([algorithm.md A2]; slots zero at an
    episode start), for like-for-like comparisons; False = purejaxrl (observation only)."""
    cell: str = "none"
    """'none' (MLP actor-critic), or the recurrent core: 'gru', 'lstm', 'ctrnn'."""
    hidden_size: int = 64
    """MLP width, or recurrent state size."""
    activation: str = "tanh"
    """MLP activation: 'tanh' or 'relu' (recurrent networks use ReLU, as purejaxrl)."""
    embed_size: int = 128
    """Recurrent only: Dense+ReLU embedding before the core."""
    head_size: int = 128
    """Recurrent only: hidden layer of the actor and the critic head."""
    unroll: int = 4
    """Recurrent only: unroll of the time scan (speed only). A few steps per loop iteration amortise
    the loop's per-iteration cost over the tiny sequential matmuls; too many only bloat the program
    (docs/performance.md: PPO's scan unroll)."""

    def __post_init__(self) -> None:
        if (
            min(self.num_envs, self.num_steps, self.update_epochs, self.num_minibatches, self.hidden_size, self.unroll)
            < 1
        ):
            raise ValueError("num_envs, num_steps, update_epochs, num_minibatches, hidden_size and unroll must be >= 1")
        if self.cell not in ("none", *CELLS):
            raise ValueError(f"cell must be 'none' or one of {', '.join(CELLS)} (got {self.cell!r})")
        if self.cell != "none" and self.num_envs % self.num_minibatches:
            raise ValueError("recurrent PPO: num_minibatches must divide num_envs (minibatches are env sequences)")
        if self.cell == "none" and (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError("num_minibatches must divide num_envs * num_steps")
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu' (got {self.activation!r})")
        if self.lr <= 0 or self.anneal_lr_steps < 0 or self.max_grad_norm <= 0:
            raise ValueError("lr and max_grad_norm must be positive, anneal_lr_steps >= 0")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.gae_lambda <= 1.0):
            raise ValueError("gamma and gae_lambda must lie in [0, 1]")


@dataclass(frozen=True)
class PPOGRUConfig(PPOConfig):
    """purejaxrl `ppo_rnn.py` (CartPole-v1): GRU-128, embedding and heads 128."""

    cell: str = "gru"
    """GRU core."""
    hidden_size: int = 128
    """GRU state size (purejaxrl GRU_HIDDEN_DIM)."""


@dataclass(frozen=True)
class PPOLSTMConfig(PPOGRUConfig):
    cell: str = "lstm"
    """LSTM core, otherwise as `ppo-gru`."""


@dataclass(frozen=True)
class PPOCTRNNConfig(PPOConfig):
    """The paper's "PPO CTRNN" baseline [algorithm.md B1]: the authors' settings, not tuned ones."""

    cell: str = "ctrnn"
    """CT-RNN core, tau initialised to 1."""
    hidden_size: int = 32
    """32 neurons, as RTRRL."""
    embed_size: int = 32
    """Dense(32)+ReLU embedding."""
    head_size: int = 32
    """Dense(32)+ReLU heads."""
    num_steps: int = 32
    """Rollout segment of 32 steps."""
    gae_lambda: float = 0.9
    """GAE lambda of the authors' baseline [algorithm.md B1]."""
    ent_coef: float = 0.001
    """Entropy coefficient of the authors' baseline [algorithm.md B1]."""
    max_grad_norm: float = 1.0
    """Global-norm gradient clip of the authors' baseline [algorithm.md B1]."""
    lr: float = 1e-5
    """[algorithm.md B1]: the authors' tiny step size (their PPO column is probably under-tuned; use
    `--set ppo-ctrnn.lr=2.5e-4` for purejaxrl's)."""


class Transition(NamedTuple):
    obs: jax.Array  # the network input (observation, or the Meta-RL vector)
    resets: jax.Array  # obs starts an episode: the hidden state is zeroed before it
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    done: jax.Array
    final_value: jax.Array  # V(final observation) for truncation bootstrapping (0 when off)


class PPOState(NamedTuple):
    params: Any
    opt_state: Any
    head: Head
    env_state: Any
    obs: jax.Array  # (E, D) observations the next step acts on
    resets: jax.Array  # (E,)
    prev_action: jax.Array  # (E, ...) for the Meta-RL input
    prev_reward: jax.Array  # (E,)
    carry: Any  # recurrent state (E, ...); a dummy for the MLP
    key: jax.Array


class PPOPolicyParams(NamedTuple):
    params: Any
    head: Head


def gae(
    reward: jax.Array,
    value: jax.Array,
    next_value: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float,
    lambda_: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation over a (T, ...) segment -> (advantages, value targets).

    next_value[t] is V of the state step t reached (0-weighted where `terminated`); the recursion
    A_t = delta_t + gamma lambda A_{t+1} is cut wherever an episode ended (`done`).
    """
    delta = reward + gamma * (1.0 - terminated) * next_value - value

    def back(adv_next, x):
        delta_t, done_t = x
        adv = delta_t + gamma * lambda_ * (1.0 - done_t) * adv_next
        return adv, adv

    _, adv = jax.lax.scan(back, jnp.zeros_like(value[0]), (delta, done), reverse=True)
    return adv, adv + value


def ppo_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    value: jax.Array,
    old_value: jax.Array,
    targets: jax.Array,
    entropy: jax.Array,
    cfg: PPOConfig,
    ent_coef: float = 0.01,
) -> tuple[jax.Array, dict]:
    """Clipped surrogate + vf_coef * (clipped) value loss - ent_coef * entropy (purejaxrl).

    The aux dict also carries two diagnostics of the step size: `approx_kl`, the estimator
    E[(r - 1) - log r] of KL(old || new) (non-negative, unbiased), and `clip_fraction`, the share
    of samples whose ratio r left [1 - clip_eps, 1 + clip_eps].
    """
    if cfg.normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(ratio * advantages, jnp.clip(ratio, 1.0 - cfg.clip_eps, 1.0 + cfg.clip_eps) * advantages)
    actor_loss = -surrogate.mean()
    sq = (value - targets) ** 2
    if cfg.clip_value:
        clipped = old_value + jnp.clip(value - old_value, -cfg.clip_eps, cfg.clip_eps)
        sq = jnp.maximum(sq, (clipped - targets) ** 2)
    value_loss = 0.5 * sq.mean()
    ent = entropy.mean()
    total = actor_loss + cfg.vf_coef * value_loss - ent_coef * ent
    aux = {
        "actor": actor_loss,
        "value": value_loss,
        "entropy": ent,
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > cfg.clip_eps).astype(jnp.float32)),
    }
    return total, jax.lax.stop_gradient(aux)


def explained_variance(values: jax.Array, targets: jax.Array) -> jax.Array:
    """1 - Var(targets - values) / Var(targets): 1 = the critic predicts the returns, <= 0 = no
    better than a constant (NaN-free: 0 when the targets do not vary)."""
    var = jnp.var(targets)
    return jnp.where(var > 0, 1.0 - jnp.var(targets - values) / jnp.where(var > 0, var, 1.0), 0.0)


DIAGNOSTICS = {
    "entropy": "policy entropy on the rollout (mean over minibatches and epochs)",
    "approx_kl": "E[(r - 1) - log r], r = pi_new / pi_old: how far each update moved the policy",
    "clip_fraction": "share of samples whose probability ratio was clipped",
    "value_loss": "the (clipped) value loss, 1/2 mean squared error",
    "explained_variance": "1 - Var(target - V) / Var(target) on the rollout, before the update",
}
"""What `train` reports in `TrainMetrics.diagnostics` (means over the iterations of an epoch)."""


@dataclass(frozen=True)
class PPOAgent:
    config: PPOConfig = field(default_factory=PPOConfig)
    name: ClassVar[str] = "ppo"

    # ---- network ------------------------------------------------------------------------------
    def _network(self, head: Head):
        """The actor-critic, sized from the head (so a policy needs only its params)."""
        cfg = self.config
        continuous = isinstance(head, GaussianHead)
        size = head.out_size() // 2 if continuous else head.out_size()
        if cfg.cell == "none":
            return MLPActorCritic(size, continuous, cfg.hidden_size, cfg.activation)
        return RecurrentActorCritic(
            size, continuous, cfg.cell, cfg.hidden_size, cfg.embed_size, cfg.head_size, unroll=cfg.unroll
        )

    @property
    def recurrent(self) -> bool:
        return self.config.cell != "none"

    def _input(self, obs: jax.Array, prev_encoded: jax.Array, reward: jax.Array, reset: jax.Array) -> jax.Array:
        """Network input; with `meta_rl` the (encoded) previous action and reward, zeroed at an episode start."""
        return meta_rl_input(obs, prev_encoded, reward, reset) if self.config.meta_rl else obs

    def _apply(self, net, params, carry, obs: jax.Array, resets: jax.Array):
        """(carry, out, value) for obs (T, B, D) and resets (T, B), for either network."""
        if self.recurrent:
            return net.apply(params, carry, obs, resets)
        out, value = net.apply(params, obs)
        return carry, out, value

    def _optimizer(self) -> optax.GradientTransformation:
        cfg = self.config
        lr: Any = cfg.lr
        if cfg.anneal_lr_steps:
            updates = (
                max(1, cfg.anneal_lr_steps // (cfg.num_envs * cfg.num_steps)) * cfg.update_epochs * cfg.num_minibatches
            )
            lr = optax.linear_schedule(cfg.lr, 0.0, updates)
        return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=cfg.adam_eps))

    # ---- protocol -----------------------------------------------------------------------------
    def steps_per_iteration(self, spec: EnvSpecLike) -> int:
        return self.config.num_envs * self.config.num_steps

    def init(self, key: PRNGKey, env: EnvLike) -> PPOState:
        cfg = self.config
        head = make_head(env.spec, 2)
        net = self._network(head)
        k_net, k_env, key = jax.random.split(key, 3)
        env_state, ts = jax.vmap(env.reset)(jax.random.split(k_env, cfg.num_envs))
        resets = jnp.ones((cfg.num_envs,), bool)
        carry = initial_carry(cfg.cell, cfg.hidden_size, (cfg.num_envs,)) if self.recurrent else jnp.zeros(())
        prev_action, prev_reward = zero_action(head, (cfg.num_envs,)), jnp.zeros((cfg.num_envs,))
        x = self._input(ts.obs, head.encode(prev_action), prev_reward, resets)
        params = net.init(k_net, carry, x[None], resets[None]) if self.recurrent else net.init(k_net, x)
        return PPOState(
            params,
            self._optimizer().init(params),
            head,
            env_state,
            ts.obs,
            resets,
            prev_action,
            prev_reward,
            carry,
            key,
        )

    def train(self, state: PPOState, env: EnvLike, num_iterations: int) -> tuple[PPOState, TrainMetrics]:
        return scan_iterations(lambda s: self._iteration(s, env), state, num_iterations)

    def _rollout(self, s: PPOState, env: EnvLike, net):
        cfg, head, params = self.config, s.head, s.params
        n = cfg.num_envs

        def step(c, _):
            env_state, obs, resets, prev_action, prev_reward, carry, key = c
            key, k_act, k_env = jax.random.split(key, 3)
            x = self._input(obs, head.encode(prev_action), prev_reward, resets)
            carry, out, value = self._apply(net, params, carry, x[None], resets[None])
            out, value = out[0], value[0]
            action = head.sample(k_act, out)
            log_prob = head.log_prob(out, action)
            env_state, ts = jax.vmap(env.step)(jax.random.split(k_env, n), env_state, head.executed(action))
            # V(final obs) from the state that saw this step (recurrent: here; MLP: one batched call after the scan)
            no_reset = jnp.zeros((n,), bool)
            x_final = self._input(ts.final_obs, head.encode(action), ts.reward, no_reset)
            final_value = jnp.zeros_like(value)
            if cfg.bootstrap_truncation and self.recurrent:
                final_value = self._apply(net, params, carry, x_final[None], no_reset[None])[2][0]
            later = x_final if cfg.bootstrap_truncation and not self.recurrent else jnp.zeros(())
            tr = Transition(
                x,
                resets,
                action,
                log_prob,
                value,
                ts.reward,
                ts.terminated.astype(jnp.float32),
                ts.truncated,
                ts.done.astype(jnp.float32),
                final_value,
            )
            return (env_state, ts.obs, ts.done, action, ts.reward, carry, key), (tr, later, episode_metrics(ts))

        c0 = (s.env_state, s.obs, s.resets, s.prev_action, s.prev_reward, s.carry, s.key)
        c, (traj, x_finals, metrics) = jax.lax.scan(step, c0, None, length=cfg.num_steps)
        if cfg.bootstrap_truncation and not self.recurrent:
            traj = traj._replace(final_value=net.apply(params, x_finals, method="value"))
        env_state, obs, resets, prev_action, prev_reward, carry, key = c
        x = self._input(obs, head.encode(prev_action), prev_reward, resets)
        last_value = self._apply(net, params, carry, x[None], resets[None])[2][0]
        s = s._replace(
            env_state=env_state,
            obs=obs,
            resets=resets,
            prev_action=prev_action,
            prev_reward=prev_reward,
            carry=carry,
            key=key,
        )
        return s, traj, last_value, metrics

    def _iteration(self, s: PPOState, env: EnvLike) -> tuple[PPOState, TrainMetrics]:
        cfg, head = self.config, s.head
        net = self._network(head)
        carry0 = s.carry  # hidden state at the segment start, for BPTT
        s, traj, last_value, metrics = self._rollout(s, env, net)

        next_value = jnp.concatenate([traj.value[1:], last_value[None]])
        terminated = traj.terminated
        if cfg.bootstrap_truncation:
            next_value = jnp.where(traj.truncated, traj.final_value, next_value)
        else:
            terminated = traj.done  # purejaxrl: a truncation ends the return
        advantages, targets = gae(traj.reward, traj.value, next_value, terminated, traj.done, cfg.gamma, cfg.gae_lambda)

        def loss_fn(params, mb):
            tr, adv, tgt, carry = mb
            if self.recurrent:
                _, out, value = self._apply(net, params, carry, tr["obs"], tr["resets"])
            else:
                out, value = net.apply(params, tr["obs"])
            log_prob = head.log_prob(out, tr["action"])
            return ppo_loss(log_prob, tr["log_prob"], adv, value, tr["value"], tgt, head.entropy(out), cfg, ent_coef)

        optimizer = self._optimizer()
        ent_coef = cfg.ent_coef if cfg.ent_coef is not None else (0.0 if isinstance(head, GaussianHead) else 0.01)
        # only what the loss reads is shuffled into minibatches (resets only matter for BPTT)
        fields = (
            ("obs", "resets", "action", "log_prob", "value")
            if self.recurrent
            else ("obs", "action", "log_prob", "value")
        )
        batch = ({f: getattr(traj, f) for f in fields}, advantages, targets)
        m = cfg.num_minibatches

        def epoch(c, _):
            params, opt_state, key = c
            key, k_perm = jax.random.split(key)
            if self.recurrent:  # minibatch = whole env sequences (T, E/m), from their stored start state
                perm = jax.random.permutation(k_perm, cfg.num_envs)
                seqs = jax.tree_util.tree_map(
                    lambda x: jnp.swapaxes(jnp.take(x, perm, axis=1).reshape(x.shape[0], m, -1, *x.shape[2:]), 0, 1),
                    batch,
                )
                starts = jax.tree_util.tree_map(
                    lambda x: jnp.take(x, perm, axis=0).reshape(m, -1, *x.shape[1:]), carry0
                )
                minibatches = (*seqs, starts)
            else:  # minibatch = random transitions
                flat = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), batch)
                perm = jax.random.permutation(k_perm, cfg.num_envs * cfg.num_steps)
                shuffled = jax.tree_util.tree_map(
                    lambda x: jnp.take(x, perm, axis=0).reshape(m, -1, *x.shape[1:]), flat
                )
                minibatches = (*shuffled, jnp.zeros((m,)))

            def minibatch(c, mb):
                params, opt_state = c
                grads, aux = jax.grad(loss_fn, has_aux=True)(params, mb)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), aux

            (params, opt_state), aux = jax.lax.scan(minibatch, (params, opt_state), minibatches)
            return (params, opt_state, key), aux

        key, k_update = jax.random.split(s.key)
        (params, opt_state, _), aux = jax.lax.scan(
            epoch, (s.params, s.opt_state, k_update), None, length=cfg.update_epochs
        )
        metrics = jax.tree_util.tree_map(jnp.sum, metrics)
        diagnostics = {
            "entropy": aux["entropy"],
            "approx_kl": aux["approx_kl"],
            "clip_fraction": aux["clip_fraction"],
            "value_loss": aux["value"],
        }
        diagnostics = {k: jnp.mean(v) for k, v in diagnostics.items()}
        diagnostics["explained_variance"] = explained_variance(traj.value, targets)
        metrics = metrics._replace(diagnostics=diagnostics)
        return s._replace(params=params, opt_state=opt_state, key=key), metrics

    def policy_params(self, state: PPOState) -> PPOPolicyParams:
        return PPOPolicyParams(state.params, state.head)

    def initial_carry(self, pp: PPOPolicyParams) -> tuple[Any, jax.Array]:
        """(recurrent state, encoded previous action) at an episode start: zeros, as training's first input."""
        core = initial_carry(self.config.cell, self.config.hidden_size) if self.recurrent else jnp.zeros(())
        return core, no_action(pp.head)

    def policy(self, pp: PPOPolicyParams, carry, timestep: TimeStepLike, key: PRNGKey):
        """Stochastic action; the hidden state is reset where `timestep` starts an episode, as in training."""
        core, prev_encoded = carry
        x = self._input(timestep.obs, prev_encoded, timestep.reward, timestep.done)
        batch = jax.tree_util.tree_map(lambda a: a[None], core)
        batch, out, _ = self._apply(self._network(pp.head), pp.params, batch, x[None, None], timestep.done[None, None])
        sample = pp.head.sample(key, out[0, 0])
        return (jax.tree_util.tree_map(lambda a: a[0], batch), pp.head.encode(sample)), pp.head.executed(sample)


@dataclass(frozen=True)
class PPOGRUAgent(PPOAgent):
    config: PPOConfig = field(default_factory=PPOGRUConfig)
    name: ClassVar[str] = "ppo-gru"


@dataclass(frozen=True)
class PPOLSTMAgent(PPOAgent):
    config: PPOConfig = field(default_factory=PPOLSTMConfig)
    name: ClassVar[str] = "ppo-lstm"


@dataclass(frozen=True)
class PPOCTRNNAgent(PPOAgent):
    config: PPOConfig = field(default_factory=PPOCTRNNConfig)
    name: ClassVar[str] = "ppo-ctrnn"
