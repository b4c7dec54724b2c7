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
from agents.rtrrl import Compat, LinearTDAgent, LinearTDConfig, Readouts, RTRRLAgent, RTRRLConfig
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


@pytest.mark.parametrize(
    "head, out_size",
    [
        (CategoricalHead(3), 3),
        (GaussianHead(jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.0]), 0), 4),
        (GaussianHead(jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.0]), 1), 4),
    ],
)
def test_score_function_matches_finite_differences(head, out_size):
    out = jax.random.normal(jax.random.PRNGKey(0), (out_size,))
    action = head.sample(jax.random.PRNGKey(1), out)
    score = jax.grad(lambda o: head.log_prob(o, action))(out)
    eps = 1e-2
    fd = np.array(
        [
            (head.log_prob(out + eps * e, action) - head.log_prob(out - eps * e, action)) / (2 * eps)
            for e in np.eye(out_size, dtype=np.float32)
        ]
    )
    np.testing.assert_allclose(score, fd, rtol=2e-2, atol=2e-3)
    if isinstance(head, GaussianHead):  # [algorithm.md K1]: the mean's score is not zero at a fixed action
        assert np.all(np.abs(score[: out_size // 2]) > 1e-6)


def _adam_after_a_zero_step(tx, readouts):
    """Adam's state after iteration 1, whose direction is zero (the traces start empty and there is
    no entropy term): both moments zero, one step counted. `_replay_step_2` checks the premise."""
    adam, *rest = tx.init(readouts)
    return (adam._replace(count=jnp.ones_like(adam.count)), *rest)


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


def _replay_step_2(cfg, task):
    """Run two iterations of linear-td; return (s0, s1, s2) and step 2's inputs rebuilt by hand."""
    agent = LinearTDAgent(cfg)
    env = make_env(task)
    s0 = agent.init(jax.random.PRNGKey(3), env)
    s1, _ = agent.train(s0, env, 1)  # fills the traces with g at x_1 (delta times zero traces)
    s2, _ = agent.train(s1, env, 1)
    if cfg.entropy_rate == 0.0:  # a zero direction: iteration 1 moves no parameter
        for a, b in zip(jax.tree_util.tree_leaves(s0.params), jax.tree_util.tree_leaves(s1.params)):
            np.testing.assert_array_equal(a, b)
    key, k_env, k_act = jax.random.split(s1.key, 3)
    _, ts = jax.vmap(env.step)(jax.random.split(k_env, 1), s1.env_state, s1.carry.pending)
    ts = jax.tree_util.tree_map(lambda x: x[0], ts)
    prev = jax.tree_util.tree_map(lambda x: x[0], s1.carry)
    slots = jnp.concatenate([jax.nn.one_hot(prev.pending, 2), ts.reward[None]])
    x = jnp.concatenate([ts.obs, (1 - ts.done) * slots])
    x_final = jnp.concatenate([ts.final_obs, slots])  # the step's own observation, before any reset
    return s0, s1, s2, ts, prev, x, x_final


@pytest.mark.parametrize(
    "max_len, bootstrap, optimizer",
    [(None, True, "adam"), (2, True, "adam"), (2, False, "adam"), (None, True, "sgd"), (None, True, "obgd")],
)
def test_lambda_zero_is_one_step_actor_critic(max_len, bootstrap, optimizer):
    """With lambda = 0 one iteration must equal a hand-written one-step actor-critic update:
    Adam (or SGD) ascent on delta * grad[log pi(a_prev|x_prev) + V(x_prev)], delta = r + gamma V(x') - V(x_prev),
    where x' is the next input, or at a truncation (episode cap 2) the input the final observation
    gives (bootstrap) / nothing (the reference: truncation = termination)."""
    lr = 0.5 if optimizer == "obgd" else 1e-3  # large enough for the overshoot bound to act
    cfg = LinearTDConfig(
        lambda_actor=0.0,
        lambda_critic=0.0,
        entropy_rate=0.0,
        bootstrap_truncation=bootstrap,
        optimizer=optimizer,
        lr_td=lr,
    )
    task = dataclasses.replace(TASKS["CartPole-vel"], max_episode_length=max_len or 500)
    s0, s1, s2, ts, prev, x, x_final = _replay_step_2(cfg, task)
    assert bool(ts.truncated) == (max_len == 2)
    ro = s1.params.readouts
    next_value = (1 - ts.done) * (x @ ro.critic + ro.critic_bias)
    if bootstrap and bool(ts.truncated):
        next_value = x_final @ ro.critic + ro.critic_bias
    delta = ts.reward + cfg.gamma * next_value - prev.v_stored
    x_prev = prev.y

    def objective(readouts):  # the action a_1 was sampled from pi(.|x_1) in step 1
        return s1.head.log_prob(x_prev @ readouts.actor, prev.pending) + x_prev @ readouts.critic + readouts.critic_bias

    grads = jax.grad(objective)(s0.params.readouts)  # traces were filled with step 1's (pre-update) params
    direction = jax.tree_util.tree_map(lambda g: -delta * g, grads)
    if optimizer == "sgd":  # Algorithm 1: theta += alpha * delta * grad
        want = jax.tree_util.tree_map(lambda p, g: p + cfg.lr_td * delta * g, ro, grads)
    elif optimizer == "obgd":  # the same step, shrunk per group (actor; critic weights + bias) to bound overshoot

        def bound(*traces):
            l1 = sum(float(np.abs(np.asarray(t)).sum()) for t in traces)
            return 1.0 / max(1.0, lr * cfg.obgd_kappa * max(abs(float(delta)), 1.0) * l1)

        s_actor, s_critic = bound(grads.actor), bound(grads.critic, grads.critic_bias)
        assert s_actor < 1.0 and s_critic < 1.0, "the bound is active at this step size"
        want = Readouts(
            ro.actor + lr * s_actor * delta * grads.actor,
            ro.critic + lr * s_critic * delta * grads.critic,
            ro.critic_bias + lr * s_critic * delta * grads.critic_bias,
        )
    else:
        tx = optax.adam(cfg.lr_td)
        updates, _ = tx.update(direction, _adam_after_a_zero_step(tx, ro), ro)
        want = optax.apply_updates(ro, updates)
    for got, w in zip(s2.params.readouts, want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)


def test_dutch_trace_and_correction_follow_the_reference():
    """trace_mode='dutch' [algorithm.md A14], critic only: z <- gl z + (1 - a gl z.g) g per leaf and the
    direction delta z + a (V(h_t) - V_stored)(z - delta z), a = the critic's step size."""
    cfg = LinearTDConfig(trace_mode="dutch", entropy_rate=0.0, lr_critic=0.05)
    s0, s1, s2, ts, prev, x, _ = _replay_step_2(cfg, TASKS["CartPole-vel"])
    assert not bool(ts.done)
    ro, alpha, gl = s1.params.readouts, 0.05, cfg.gamma * cfg.lambda_critic
    value = x @ ro.critic + ro.critic_bias
    delta = ts.reward + cfg.gamma * value - prev.v_stored
    z, zb = prev.z.readouts.critic, prev.z.readouts.critic_bias
    want_z = gl * z + (1 - alpha * gl * jnp.dot(z, x)) * x  # the critic's gradient is x (and 1 for the bias)
    want_zb = gl * zb + (1 - alpha * gl * zb) * 1.0
    np.testing.assert_allclose(s2.carry.z.readouts.critic[0], want_z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s2.carry.z.readouts.critic_bias[0], want_zb, rtol=1e-5)
    np.testing.assert_allclose(
        s2.carry.z.readouts.actor[0],
        gl * prev.z.readouts.actor + jax.grad(lambda a: s1.head.log_prob(x @ a, s2.carry.pending[0]))(ro.actor),
        rtol=1e-5,
        atol=1e-6,
    )  # the actor keeps an accumulating trace
    correction = alpha * (value - prev.v_stored)
    direction = Readouts(
        delta * prev.z.readouts.actor,
        delta * z + correction * (z - delta * z),
        delta * zb + correction * (zb - delta * zb),
    )
    lrs = Readouts(cfg.lr_td, alpha, alpha)
    tx = optax.chain(
        optax.scale_by_adam(), optax.stateless(lambda u, _: jax.tree_util.tree_map(lambda g, a: a * g, u, lrs))
    )
    updates, _ = tx.update(direction, _adam_after_a_zero_step(tx, ro), ro)
    for got, w in zip(s2.params.readouts, optax.apply_updates(ro, updates)):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)


def test_separate_actor_and_critic_step_sizes():
    """lr_actor / lr_critic: per-group Adam; changing the critic's rate leaves the actor's update alone."""
    base = LinearTDConfig(entropy_rate=0.0)
    _, s1, s2, *_ = _replay_step_2(base, TASKS["CartPole-vel"])
    _, t1, t2, *_ = _replay_step_2(dataclasses.replace(base, lr_critic=3 * base.lr_td), TASKS["CartPole-vel"])
    step = lambda a, b: np.asarray(b) - np.asarray(a)
    np.testing.assert_allclose(
        step(t1.params.readouts.actor, t2.params.readouts.actor),
        step(s1.params.readouts.actor, s2.params.readouts.actor),
        rtol=1e-5,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        step(t1.params.readouts.critic, t2.params.readouts.critic),
        3 * step(s1.params.readouts.critic, s2.params.readouts.critic),
        rtol=1e-4,
        atol=1e-9,
    )


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
    env, s = _state(frozen, "CartPole-vel")  # its own optimiser state (the RNN's group takes no steps)
    s3, _ = jax.jit(lambda s: frozen.train(s, env, 200))(s)
    np.testing.assert_array_equal(s3.params.rnn.W, s.params.rnn.W)
    assert not np.array_equal(s3.params.readouts.actor, s.params.readouts.actor)


def test_config_validation():
    for bad in (
        dict(rnn="gru"),
        dict(gradient_mode="bptt"),
        dict(gamma=1.5),
        dict(num_envs=0),
        dict(trace_mode="replacing"),
        dict(wiring="grid"),
        dict(rnn="lru", wiring="random"),
        dict(lr_actor=0.0),
        dict(optimizer="rmsprop"),
        dict(optimizer_rnn="lion"),
        dict(adam_eps=0.0),
    ):
        with pytest.raises(ValueError):
            dataclasses.replace(RTRRLConfig(), **bad)


def test_compat_continuous_actor_gradient_never_moves_the_mean():
    """[algorithm.md K1]: the reference's reparameterised score has zero gradient w.r.t. the mean."""

    def actor_signal(compat):
        agent = RTRRLAgent(RTRRLConfig(compat=Compat(continuous_actor_gradient=compat)))
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
    prev = head.encode(jnp.asarray(2))
    fixed = RTRRLAgent(RTRRLConfig())._input(head, obs, prev, reward, done)
    compat = RTRRLAgent(RTRRLConfig(compat=Compat(prev_action_at_reset=True)))._input(head, obs, prev, reward, done)
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
    live, _, _ = signals(var_scaling=True, compat=Compat(var_scaling_live_gradient=True))
    np.testing.assert_allclose(live.readouts.critic, scaled.readouts.critic)  # the critic has no sigma path
    if s < 1.0:  # below the cap the product rule adds a term to the actor's scale outputs
        assert not np.allclose(live.readouts.actor, scaled.readouts.actor)


def test_wiring_keeps_absent_connections_still_unless_reference_traces():
    """No self-recurrence: the diagonal of W_hh gets no trace, so Adam never moves it; the
    reference's traces ignore the mask and do move it (though the forward pass never uses it)."""

    def trained(reference):
        agent = RTRRLAgent(RTRRLConfig(wiring="fully_connected_no_self", compat=Compat(wiring_traces=reference)))
        env, s = _state(agent, "CartPole-vel")
        s2, _ = jax.jit(lambda s: agent.train(s, env, 300))(s)
        i = s.wiring.shape[1] - s.params.rnn.tau.shape[0] - 1
        diag = lambda st: np.diag(np.asarray(st.params.rnn.W)[:, i:-1])
        return diag(s), diag(s2), s, s2

    before, after, s, s2 = trained(False)
    np.testing.assert_array_equal(after, before)
    assert not np.allclose(s2.params.rnn.W, s.params.rnn.W)  # present connections learn
    before, after, *_ = trained(True)
    assert not np.allclose(after, before)


def test_compat_shared_action_key_gives_every_env_the_same_noise():
    def noise(shared):
        agent = RTRRLAgent(RTRRLConfig(num_envs=4, compat=Compat(shared_action_key=shared)))
        env, s = _state(agent, "Pendulum-v1")
        mean, sigma = jax.vmap(lambda y: s.head._params(y @ s.params.readouts.actor))(s.carry.y)
        return np.asarray((s.carry.pending - mean) / sigma)[:, 0]

    shared, independent = noise(True), noise(False)
    np.testing.assert_allclose(shared, shared[0], rtol=1e-4)
    assert np.std(independent) > 0.1


def test_compat_unclipped_eval_feeds_back_the_raw_sample():
    def actions(compat):
        agent = RTRRLAgent(RTRRLConfig(compat=Compat(unclipped_eval=compat)))
        env, s = _state(agent, "MountainCarContinuous")
        pp = agent.policy_params(s)
        pp = pp._replace(
            params=pp.params._replace(
                readouts=pp.params.readouts._replace(actor=pp.params.readouts.actor.at[:, 1].set(10.0))
            )
        )  # sigma near its maximum 2: often out of [-1, 1]
        _, ts = env.reset(jax.random.PRNGKey(0))
        act = jax.vmap(lambda k: agent.policy(pp, agent.initial_carry(pp), ts, k)[1])
        return np.asarray(act(jax.random.split(jax.random.PRNGKey(1), 200)))

    assert np.abs(actions(False)).max() <= 1.0
    assert np.abs(actions(True)).max() > 1.0


def test_compat_lambda_rnn_zero_drops_the_episodic_factor():
    """eta=None weights new gradients by I = gamma^k; with lambda_rnn = 0 the reference's RNN trace
    is the bare gradient: the two traces differ by exactly I."""

    def run(compat):
        agent = RTRRLAgent(RTRRLConfig(eta=None, lambda_rnn=0.0, compat=Compat(lambda_rnn_zero=compat)))
        env, s = _state(agent, "Pendulum-v1")
        s, _ = jax.jit(lambda s: agent.train(s, env, 3))(s)
        return s

    plain, compat = run(False), run(True)
    weight = float(plain.carry.weight[0])
    np.testing.assert_allclose(weight, 0.99**3, rtol=1e-6)
    np.testing.assert_allclose(plain.carry.z.rnn.W, weight * compat.carry.z.rnn.W, rtol=1e-4, atol=1e-8)


def test_normalize_eval_only_trains_on_raw_inputs():
    """[algorithm.md K4] compat: statistics update, training is exactly the unnormalised run."""

    def run(**kw):
        agent = RTRRLAgent(RTRRLConfig(**kw))
        env, s = _state(agent, "Pendulum-v1")
        return jax.jit(lambda s: agent.train(s, env, 50))(s)[0]

    off = dict(normalize_obs=False, normalize_reward=False)
    raw, both = run(**off), run(normalize_obs=True, normalize_reward=False)
    eval_only = run(normalize_obs=True, normalize_reward=False, compat=Compat(normalize_eval_only=True))
    np.testing.assert_allclose(eval_only.params.rnn.W, raw.params.rnn.W, rtol=1e-6)
    assert float(eval_only.obs_stats.count) > 50
    assert not np.allclose(both.params.rnn.W, raw.params.rnn.W)


@pytest.mark.parametrize("rnn, reward_scaling", [("ctrnn", False), ("lru", False), ("none", False), ("ctrnn", True)])
def test_diagnostics_equal_a_hand_loop(rnn, reward_scaling):
    """`train`'s diagnostics against numpy over states recorded one iteration at a time.

    CartPole-v1 pays reward 1 on every step and an episode ends exactly where the env's step
    counter restarts at 0, so delta_t = r_t + gamma (1 - d_t) V(h_t) - V(h_{t-1}) by hand (no
    truncation within 120 steps), with r_t = 1, or with `reward_scaling` 1 / std of the discounted
    returns u_t = gamma u_{t-1} + 1 seen so far (Welford's statistics recomputed here with numpy)."""
    agent = RTRRLAgent(RTRRLConfig(rnn=rnn, reward_scaling=reward_scaling))
    env, s0 = _state(agent, "CartPole-v1", seed=3)
    steps = 120
    one = jax.jit(lambda s: agent._iteration(s, env)[0])
    states = [s0]
    for _ in range(steps):
        states.append(one(states[-1]))
    end, m = jax.jit(lambda s: agent.train(s, env, steps))(s0)
    got = {k: float(v) for k, v in m.diagnostics.items()}

    def at(k, f):
        return np.asarray(f(states[k]), np.float64)

    entropy, delta, value, sat, returns = [], [], [], [], []
    u = 0.0
    for k in range(1, steps + 1):
        u = 0.99 * u + 1.0
        returns.append(u)
        if at(k, lambda s: s.env_state.time[0]) == 0:
            u = 0.0
        # init_stats: a prior of N(0, 1) with weight 1e-4, then every return so far
        n, prior = len(returns), 1e-4
        mean = np.sum(returns) / (n + prior)
        var = (prior * (1.0 + mean**2) + np.sum((np.asarray(returns) - mean) ** 2)) / (n + prior)
        reward = 1.0 / np.sqrt(var + 1e-8) if reward_scaling else 1.0
        logits = at(k, lambda s: s.carry.y[0]) @ at(k - 1, lambda s: s.params.readouts.actor)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        entropy.append(-(p * np.log(p)).sum())
        v, v_prev = at(k, lambda s: s.carry.v_stored[0]), at(k - 1, lambda s: s.carry.v_stored[0])
        done = at(k, lambda s: s.env_state.time[0]) == 0
        delta.append(reward + 0.99 * (1 - done) * v - v_prev)
        value.append(v)
        if rnn == "ctrnn":
            sat.append(np.mean(np.abs(at(k, lambda s: s.carry.y[0])) > 0.95))
    want = {
        "entropy": np.mean(entropy),
        "td_error": np.mean(delta),
        "abs_td_error": np.mean(np.abs(delta)),
        "value": np.mean(value),
        "actor_norm": np.linalg.norm(at(steps, lambda s: s.params.readouts.actor)),
    }
    if rnn == "ctrnn":
        want |= {
            "saturation": np.mean(sat),
            "w_norm": np.linalg.norm(at(steps, lambda s: s.params.rnn.W)),
            "tau_at_clamp": np.mean(at(steps, lambda s: s.params.rnn.tau) == 1.0),
        }
    if rnn == "lru":
        want["rnn_norm"] = np.sqrt(
            sum(np.sum(np.asarray(x, np.float64) ** 2) for x in jax.tree_util.tree_leaves(states[-1].params.rnn))
        )
    assert set(got) == set(want)
    if reward_scaling:
        np.testing.assert_allclose(float(end.return_stats.var), var, rtol=1e-4)
        np.testing.assert_allclose(float(end.carry.discounted_return[0]), u, rtol=1e-5)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=2e-4, atol=1e-5, err_msg=k)
    assert 0 < want["entropy"] < np.log(2)
    assert sum(at(k, lambda s: s.env_state.time[0]) == 0 for k in range(1, steps + 1)) >= 2, (
        "episodes ended in the window"
    )
    np.testing.assert_allclose(end.params.readouts.actor, states[-1].params.readouts.actor, rtol=1e-5, atol=1e-6)
