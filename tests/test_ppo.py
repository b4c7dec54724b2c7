"""PPO pieces against independent computations: a plain-loop GAE, a numpy clipped loss,
per-episode unrolled recurrent runs, scipy's Gaussian log-density; and a vmapped seed block
that must not hang."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from agents.heads import GaussianHead
from agents.networks import RecurrentActorCritic, initial_carry
from agents.ppo import DIAGNOSTICS, PPOAgent, PPOConfig, explained_variance, gae, ppo_loss
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


def _gae_loop(reward, value, next_value, terminated, done, gamma, lam):
    T = len(reward)
    adv = np.zeros(T)
    running = 0.0
    for t in reversed(range(T)):
        delta = reward[t] + gamma * (0.0 if terminated[t] else next_value[t]) - value[t]
        running = delta + gamma * lam * (0.0 if done[t] else running)
        adv[t] = running
    return adv, adv + value


def test_gae_equals_a_plain_loop_with_episode_ends():
    rng = np.random.default_rng(0)
    T, E = 40, 3
    reward, value, next_value = (rng.normal(size=(T, E)).astype(np.float32) for _ in range(3))
    terminated = rng.random((T, E)) < 0.1
    truncated = ~terminated & (rng.random((T, E)) < 0.1)
    done = terminated | truncated
    adv, tgt = gae(
        jnp.asarray(reward),
        jnp.asarray(value),
        jnp.asarray(next_value),
        jnp.asarray(terminated, jnp.float32),
        jnp.asarray(done, jnp.float32),
        0.99,
        0.95,
    )
    for e in range(E):
        want_adv, want_tgt = _gae_loop(
            reward[:, e], value[:, e], next_value[:, e], terminated[:, e], done[:, e], 0.99, 0.95
        )
        np.testing.assert_allclose(adv[:, e], want_adv, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(tgt[:, e], want_tgt, rtol=1e-4, atol=1e-5)
    assert done.any() and truncated.any()


def test_clipped_loss_equals_a_hand_computation():
    rng = np.random.default_rng(1)
    n = 64
    lp, old_lp = rng.normal(size=n) * 0.3, rng.normal(size=n) * 0.3
    adv, value, old_value, targets = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    entropy = rng.random(n)
    cfg = PPOConfig()
    got, aux = ppo_loss(
        *(jnp.asarray(x, jnp.float32) for x in (lp, old_lp, adv, value, old_value, targets, entropy)), cfg
    )

    a = (adv - adv.mean()) / (adv.std() + 1e-8)
    ratio = np.exp(lp - old_lp)
    actor = -np.mean(np.minimum(ratio * a, np.clip(ratio, 0.8, 1.2) * a))
    v_clip = old_value + np.clip(value - old_value, -0.2, 0.2)
    value_loss = 0.5 * np.mean(np.maximum((value - targets) ** 2, (v_clip - targets) ** 2))
    want = actor + 0.5 * value_loss - 0.01 * entropy.mean()
    np.testing.assert_allclose(float(got), want, rtol=1e-4)
    np.testing.assert_allclose(float(aux["value"]), value_loss, rtol=1e-4)
    # diagnostics: KL estimator E[(r - 1) - log r] and the share of clipped ratios
    np.testing.assert_allclose(float(aux["approx_kl"]), np.mean((ratio - 1) - (lp - old_lp)), rtol=1e-4)
    assert float(aux["clip_fraction"]) == np.mean(np.abs(ratio - 1) > 0.2) > 0


def test_explained_variance_equals_its_definition():
    rng = np.random.default_rng(2)
    targets = rng.normal(size=(16, 4))
    values = targets + 0.5 * rng.normal(size=(16, 4))
    want = 1 - np.var(targets - values) / np.var(targets)
    np.testing.assert_allclose(float(explained_variance(jnp.asarray(values), jnp.asarray(targets))), want, rtol=1e-5)
    assert float(explained_variance(jnp.asarray(targets), jnp.asarray(targets))) == 1.0
    assert float(explained_variance(jnp.zeros(4), jnp.ones(4))) == 0.0, "constant targets: 0, not NaN"


def test_training_reports_its_diagnostics():
    env = make_env(TASKS["CartPole-v1"])
    agent = PPOAgent(PPOConfig(num_steps=16))
    s = agent.init(jax.random.PRNGKey(0), env)
    _, m = jax.jit(lambda s: agent.train(s, env, 3))(s)
    assert set(m.diagnostics) == set(DIAGNOSTICS)
    d = {k: float(v) for k, v in m.diagnostics.items()}
    assert 0.0 < d["entropy"] <= np.log(2) + 1e-6 and d["approx_kl"] >= 0.0 and 0.0 <= d["clip_fraction"] <= 1.0
    assert d["value_loss"] > 0.0 and d["explained_variance"] <= 1.0


@pytest.mark.parametrize("cell", ["gru", "lstm", "ctrnn"])
def test_recurrent_state_resets_exactly_where_episodes_start(cell):
    """One (T, B) pass with resets equals running each episode separately from a zero state."""
    net = RecurrentActorCritic(2, False, cell, hidden_size=8, embed_size=8, head_size=8)
    T, B, D = 12, 2, 3
    obs = jax.random.normal(jax.random.PRNGKey(0), (T, B, D))
    resets = jnp.zeros((T, B), bool).at[0].set(True).at[5, 0].set(True).at[9, 0].set(True).at[3, 1].set(True)
    start = jax.tree_util.tree_map(lambda x: x + 0.5, initial_carry(cell, 8, (B,)))  # nonzero: must be reset at t=0
    params = net.init(jax.random.PRNGKey(1), start, obs, resets)
    _, out, value = net.apply(params, start, obs, resets)
    for b in range(B):
        bounds = [int(t) for t in np.flatnonzero(np.asarray(resets[:, b]))] + [T]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            zero = initial_carry(cell, 8, (1,))
            _, o, v = net.apply(params, zero, obs[lo:hi, b : b + 1], jnp.zeros((hi - lo, 1), bool))
            np.testing.assert_allclose(out[lo:hi, b], o[:, 0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(value[lo:hi, b], v[:, 0], rtol=1e-5, atol=1e-6)


def test_gaussian_log_prob_matches_scipy():
    head = GaussianHead(jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.0]), 2)
    out = jnp.array([0.3, -0.7, -0.2, -7.0])  # mean (0.3, -0.7), log-std (-0.2, -7 -> clipped at -5)
    action = jnp.array([0.1, -0.69])
    want = stats.norm.logpdf(0.1, 0.3, np.exp(-0.2)) + stats.norm.logpdf(-0.69, -0.7, np.exp(-5.0))
    np.testing.assert_allclose(float(head.log_prob(out, action)), want, rtol=1e-5)
    want_ent = stats.norm.entropy(0.3, np.exp(-0.2)) + stats.norm.entropy(-0.7, np.exp(-5.0))
    np.testing.assert_allclose(float(head.entropy(out)), want_ent, rtol=1e-5)


def test_truncation_bootstraps_from_the_final_observation():
    """Episodes cut at 3 steps: the rollout's bootstrap value at a truncation is V(final obs),
    recomputed here by replaying the rollout's keys; purejaxrl's behaviour (off) stores 0."""
    env = make_env(dataclasses.replace(TASKS["CartPole-v1"], max_episode_length=3))
    for boot in (True, False):
        agent = PPOAgent(PPOConfig(num_envs=2, num_steps=6, bootstrap_truncation=boot))
        s = agent.init(jax.random.PRNGKey(0), env)
        net = agent._network(s.head)
        _, traj, _, _ = agent._rollout(s, env, net)
        truncated = np.asarray(traj.truncated)
        assert truncated.sum() >= 2
        if not boot:
            np.testing.assert_array_equal(traj.final_value, 0.0)
            continue
        key, env_state, obs = s.key, s.env_state, s.obs
        for t in range(6):  # replay
            key, k_act, k_env = jax.random.split(key, 3)
            out, _ = net.apply(s.params, obs)
            action = s.head.sample(k_act, out)
            env_state, ts = jax.vmap(env.step)(jax.random.split(k_env, 2), env_state, action)
            _, want = net.apply(s.params, ts.final_obs)
            np.testing.assert_allclose(traj.final_value[t], want, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(np.asarray(ts.truncated), truncated[t])
            obs = ts.obs


@pytest.mark.slow  # ~35 s: keeps `nox -s tests` well under 10 min
def test_vmapped_seed_block_does_not_hang():
    """purejaxrl's vmapped seeds hung on jax 0.10 (vmapped QR in orthogonal inits starving the
    CPU pool). The runner inits seed by seed; run a 4-seed block of every PPO agent, without
    NPROC=1, in a subprocess under a timeout."""
    code = textwrap.dedent("""
        import jax
        from benchmarks.program import make_block_program
        from benchmarks.protocol import Budget, EvalProtocol
        from benchmarks.envs import make_env
        from benchmarks.tasks import TASKS
        import agents
        env = make_env(TASKS["CartPole-vel"])
        budget = Budget(max_env_steps=2048, eval_interval=1024, patience=5,
                        eval=EvalProtocol(eval_steps=100, final_episodes=2))
        seeds = jax.numpy.arange(4)
        for name in ("ppo", "ppo-gru", "ppo-lstm", "ppo-ctrnn"):
            init, epoch, final = make_block_program(agents.make_agent(name), env, budget)
            carry = jax.jit(init)(seeds)
            carry, out = jax.jit(epoch)(carry, seeds)
            jax.block_until_ready(jax.jit(final)(carry, seeds))
        print("done")
    """)
    env = {k: v for k, v in os.environ.items() if k != "NPROC"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "done" in proc.stdout


def test_meta_rl_input_matches_rtrrl():
    """`meta_rl=True` feeds PPO the same [obs, previous action, previous reward] vector as RTRRL."""
    from agents.heads import CategoricalHead
    from agents.rtrrl import RTRRLAgent

    head = CategoricalHead(3)
    obs, reward = jnp.array([0.5, -1.0]), jnp.asarray(2.0)
    ppo = PPOAgent(PPOConfig(meta_rl=True))
    prev = head.encode(jnp.asarray(1))
    for done in (False, True):
        d = jnp.asarray(done)
        want = [0.5, -1.0, 0, 0, 0, 0] if done else [0.5, -1.0, 0, 1, 0, 2.0]
        np.testing.assert_array_equal(ppo._input(obs, prev, reward, d), want)
        np.testing.assert_array_equal(RTRRLAgent()._input(head, obs, prev, reward, d), want)
    env = make_env(TASKS["CartPole-vel"])
    for name in ("ppo", "ppo-gru"):
        import agents

        agent = agents.make_agent(name, dataclasses.replace(agents.default_config(name), meta_rl=True))
        s, m = jax.jit(lambda k, agent=agent: agent.train(agent.init(k, env), env, 2))(jax.random.PRNGKey(0))
        assert s.params is not None and float(m.episodes) > 0
        pp = agent.policy_params(s)
        _, ts = env.reset(jax.random.PRNGKey(1))
        carry, action = agent.policy(pp, agent.initial_carry(pp), ts, jax.random.PRNGKey(2))
        assert action.shape == () and carry[1].shape == (2,), "the policy carries the encoded action"
        np.testing.assert_array_equal(carry[1], jax.nn.one_hot(action, 2))
