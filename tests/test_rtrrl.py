"""RTRRL learning signals against independent computations: autodiff through the readouts,
finite differences of log pi, and a hand-written one-step actor-critic for lambda = 0."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agents import ctrnn
from agents.heads import CategoricalHead, GaussianHead
from agents.rtrrl import LinearTDAgent, LinearTDConfig, RTRRLAgent, RTRRLConfig
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


@pytest.mark.parametrize("head, out_size", [
    (CategoricalHead(3), 3),
    (GaussianHead(jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.0]), 0), 4),
    (GaussianHead(jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.0]), 1), 4),
])
def test_score_function_matches_finite_differences(head, out_size):
    out = jax.random.normal(jax.random.PRNGKey(0), (out_size,))
    action = head.sample(jax.random.PRNGKey(1), out)
    score = jax.grad(lambda o: head.log_prob(o, action))(out)
    eps = 1e-2
    fd = np.array([(head.log_prob(out + eps * e, action) - head.log_prob(out - eps * e, action)) / (2 * eps)
                   for e in np.eye(out_size, dtype=np.float32)])
    np.testing.assert_allclose(score, fd, rtol=2e-2, atol=2e-3)
    if isinstance(head, GaussianHead):  # pitfall 1: the mean's score is not zero at a fixed action
        assert np.all(np.abs(score[: out_size // 2]) > 1e-6)


def _state(agent, task="CartPole-vel", seed=0):
    env = make_env(TASKS[task])
    return env, agent.init(jax.random.PRNGKey(seed), env)


@pytest.mark.parametrize("f_align", [False, True])
@pytest.mark.parametrize("task", ["CartPole-vel", "Pendulum-v1"])
def test_learning_signals_equal_autodiff_with_feedback_alignment(f_align, task):
    agent = RTRRLAgent(RTRRLConfig(f_align=f_align, gradient_mode="rtrl"))
    env, s = _state(agent, task)
    c = jax.tree_util.tree_map(lambda x: x[0], s.carry)
    h, trace, action = c.y, c.trace, c.pending
    td, _ = agent.learning_signals(s.params, s.feedback, s.head, h, c.state, trace, action)

    def objective(readouts, h):  # L_TD = eta_pi log pi(a|h) + V(h)
        return s.head.log_prob(h @ readouts.actor, action) + h @ readouts.critic + readouts.critic_bias

    want_readouts = jax.grad(objective)(s.params.readouts, h)
    for got, want in zip(td.readouts, want_readouts):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if f_align:  # the hidden signal is B times the output cotangents, not K times
        o_bar = jax.grad(lambda o: s.head.log_prob(o, action))(h @ s.params.readouts.actor)
        g_h = s.feedback.actor @ o_bar + s.feedback.critic
    else:
        g_h = jax.grad(objective, argnums=1)(s.params.readouts, h)
    want_rnn = ctrnn.rtrl_readout(trace, g_h)
    np.testing.assert_allclose(td.rnn.W, want_rnn.W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(td.rnn.tau, want_rnn.tau, rtol=1e-5, atol=1e-7)


def test_lambda_zero_is_one_step_actor_critic():
    """With lambda = 0 one iteration must equal a hand-written one-step actor-critic update:
    Adam ascent on delta * grad[log pi(a_prev|x_prev) + V(x_prev)], delta = r + gamma V(x) - V(x_prev)."""
    cfg = LinearTDConfig(lambda_actor=0.0, lambda_critic=0.0, entropy_rate=0.0)
    agent = LinearTDAgent(cfg)
    env, s0 = _state(agent, "CartPole-vel", seed=3)
    s1, _ = agent.train(s0, env, 1)  # fills the traces with g at x_1 (delta times zero traces)
    s2, _ = agent.train(s1, env, 1)

    # replay step 2 by hand from s1
    key, k_env, k_act = jax.random.split(s1.key, 3)
    _, ts = jax.vmap(env.step)(jax.random.split(k_env, 1), s1.env_state, s1.carry.pending)
    ts = jax.tree_util.tree_map(lambda x: x[0], ts)
    prev = jax.tree_util.tree_map(lambda x: x[0], s1.carry)
    ro = s1.params.readouts
    x = jnp.concatenate([ts.obs, (1 - ts.done) * jax.nn.one_hot(prev.pending, 2), (1 - ts.done) * ts.reward[None]])
    delta = ts.reward + cfg.gamma * (1 - ts.done) * (x @ ro.critic + ro.critic_bias) - prev.v_stored
    x_prev = prev.y

    def objective(readouts):  # the action a_1 was sampled from pi(.|x_1) in step 1
        return s1.head.log_prob(x_prev @ readouts.actor, prev.pending) + x_prev @ readouts.critic + readouts.critic_bias

    grads = jax.grad(objective)(s0.params.readouts)  # traces were filled with step 1's (pre-update) params
    direction = jax.tree_util.tree_map(lambda g: -delta * g, grads)
    updates, _ = optax.adam(cfg.lr_td).update(direction, s1.opt_td, ro)
    want = optax.apply_updates(ro, updates)
    for got, w in zip(s2.params.readouts, want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)


def test_traces_clear_at_episode_ends():
    """Critic traces: z_b = sum (gamma lambda)^k within an episode, exactly 1 (and z_K = h) right after an end."""
    agent = RTRRLAgent(RTRRLConfig())
    env, s = _state(agent, "MemoryChain-4")
    step = jax.jit(lambda s: agent.train(s, env, 1))
    decay = 0.99 * 0.99
    for i in range(4):  # MemoryChain-4 episodes end after exactly 5 steps
        s, m = step(s)
        assert int(m.episodes) == 0
        np.testing.assert_allclose(s.carry.z.readouts.critic_bias[0], sum(decay**k for k in range(i + 1)), rtol=1e-5)
    s, m = step(s)
    assert int(m.episodes) == 1
    np.testing.assert_allclose(s.carry.z.readouts.critic_bias[0], 1.0)
    np.testing.assert_allclose(s.carry.z.readouts.critic[0], s.carry.y[0], rtol=1e-6)


def test_tau_stays_clamped_and_frozen_rnn_does_not_move():
    env, s = _state(RTRRLAgent(RTRRLConfig(lr_rnn=0.5)), "CartPole-vel")
    agent = RTRRLAgent(RTRRLConfig(lr_rnn=0.5))
    s2, _ = jax.jit(lambda s: agent.train(s, env, 200))(s)
    assert float(jnp.min(s2.params.rnn.tau)) >= 1.0
    frozen = RTRRLAgent(RTRRLConfig(train_rnn=False))
    s3, _ = jax.jit(lambda s: frozen.train(s, env, 200))(s)
    np.testing.assert_array_equal(s3.params.rnn.W, s.params.rnn.W)
    assert not np.array_equal(s3.params.readouts.actor, s.params.readouts.actor)


def test_config_validation():
    for bad in (dict(rnn="gru"), dict(gradient_mode="bptt"), dict(gamma=1.5), dict(num_envs=0)):
        with pytest.raises(ValueError):
            dataclasses.replace(RTRRLConfig(), **bad)


def test_reference_continuous_actor_gradient_never_moves_the_mean():
    """Spec pitfall 1: the reference's reparameterised score has zero gradient w.r.t. the mean."""
    def actor_signal(compat):
        agent = RTRRLAgent(RTRRLConfig(reference_continuous_actor_gradient=compat))
        env, s = _state(agent, "Pendulum-v1")
        c = jax.tree_util.tree_map(lambda x: x[0], s.carry)
        td, _ = agent.learning_signals(s.params, s.feedback, s.head, c.y, c.state, c.trace, c.pending)
        return td.readouts.actor  # (D, 2): columns = [mean, scale] pre-activations

    fixed, compat = actor_signal(False), actor_signal(True)
    np.testing.assert_allclose(compat[:, 0], 0.0, atol=1e-6)
    assert np.abs(fixed[:, 0]).max() > 1e-4


def test_reference_previous_action_slot_at_reset():
    head = CategoricalHead(3)
    obs, reward, done = jnp.zeros(2), jnp.ones(()), jnp.ones((), bool)
    fixed = RTRRLAgent(RTRRLConfig())._input(head, obs, jnp.asarray(2), reward, done)
    compat = RTRRLAgent(RTRRLConfig(reference_prev_action_at_reset=True))._input(head, obs, jnp.asarray(2), reward, done)
    np.testing.assert_array_equal(fixed, [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(compat, [0, 0, 1, 0, 0, 0])


def test_var_scaling_scales_every_signal_by_min_sigma_1():
    def signals(**kw):
        agent = RTRRLAgent(RTRRLConfig(**kw))
        env, s = _state(agent, "Reacher")
        c = jax.tree_util.tree_map(lambda x: x[0], s.carry)
        td, ent = agent.learning_signals(s.params, s.feedback, s.head, c.y, c.state, c.trace, c.pending)
        sigma = s.head.scale(c.y @ s.params.readouts.actor)
        return td, ent, min(float(jnp.mean(sigma)), 1.0)

    plain, plain_ent, s = signals()
    scaled, scaled_ent, _ = signals(var_scaling=True)
    assert 0.0 < s <= 1.0
    for a, b in zip(jax.tree_util.tree_leaves((scaled, scaled_ent)), jax.tree_util.tree_leaves((plain, plain_ent))):
        np.testing.assert_allclose(a, s * b, rtol=1e-5, atol=1e-7)
    live, _, _ = signals(var_scaling=True, var_scaling_live_gradient=True)
    np.testing.assert_allclose(live.readouts.critic, scaled.readouts.critic)  # the critic has no sigma path
    if s < 1.0:  # below the cap the product rule adds a term to the actor's scale outputs
        assert not np.allclose(live.readouts.actor, scaled.readouts.actor)
