"""MultiarmedBandit port vs PyPI popgym: exact episodes from popgym's injected arm probabilities and
its own payout uniforms (replayed from a copy of its generator); payout rates, reset and
auto-reset distributions statistically."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_obs, assert_same_spaces_and_flags, jitted, popgym_env, sampled
from scipy import stats

from benchmarks.popgym import make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def scan_pulls(port):
    """Jitted: an episode of `pull`s from a start state, given the actions and uniforms."""

    def run(state, actions, us):
        def body(s, x):
            obs, s, r, term, trunc = port.pull(s, *x)
            return s, (obs, r, term, trunc)

        return jax.lax.scan(body, state, (actions, us))[1]

    return jax.jit(run)


def popgym_episode(pyenv, seed, policy):
    """popgym's episode under `policy(t, history)`, with the uniform each step consumed (read from a
    copy of its generator before the step)."""
    obs0, info = pyenv.reset(seed=seed)
    shadow = copy.deepcopy(pyenv.np_random)
    actions, us, out = [], [], []
    while True:
        a = policy(len(actions), out)
        us.append(shadow.random())
        obs, r, term, trunc, _ = pyenv.step(a)
        actions.append(a)
        out.append((obs, r, term, trunc))
        if term or trunc:
            break
    assert shadow.bit_generator.state == pyenv.np_random.bit_generator.state  # one uniform per step, no more
    return obs0, info["bandits"], np.asarray(actions), np.asarray(us), out


def assert_episode_matches(port, obs0, bandits, actions, us, out):
    obs, state = port.initial(bandits)
    assert_same_obs(port.observation_space, obs, obs0, where="at reset")
    np.testing.assert_array_equal(np.asarray(state.bandits), bandits)
    ours = [np.asarray(x) for x in scan_pulls(port)(state, jnp.asarray(actions), jnp.asarray(us, jnp.float32))]
    theirs = [np.asarray(x) for x in zip(*out)]
    np.testing.assert_array_equal(ours[0], theirs[0], err_msg="observations")
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-7, rtol=0, err_msg="rewards")
    np.testing.assert_array_equal(ours[2], theirs[2], err_msg="terminated")
    np.testing.assert_array_equal(ours[3], theirs[3], err_msg="truncated")
    assert len(actions) == port.max_episode_length and theirs[3][-1] and not theirs[3][:-1].any()


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"MultiarmedBandit{difficulty}"), popgym_env(f"MultiarmedBandit{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1, 2))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"MultiarmedBandit{difficulty}"), popgym_env(f"MultiarmedBandit{difficulty}")
    rng = np.random.default_rng(seed)
    episode = popgym_episode(pyenv, seed, lambda t, out: int(rng.integers(port.num_bandits)))
    assert_episode_matches(port, *episode)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_greedy_policy_matches_popgym(difficulty):
    """Try every arm twice, then pull the best empirical payout rate: it earns clearly more than 0."""
    port, pyenv = make(f"MultiarmedBandit{difficulty}"), popgym_env(f"MultiarmedBandit{difficulty}")
    k, pulls = port.num_bandits, []

    def greedy(t, out):
        if t < 2 * k:
            return t % k
        wins, tries = np.zeros(k), np.zeros(k)
        np.add.at(wins, pulls, [o for o, *_ in out])
        np.add.at(tries, pulls, 1)
        a = int(np.argmax(wins / tries))
        return a

    def policy(t, out):
        pulls.append(greedy(t, out))
        return pulls[-1]

    episode = popgym_episode(pyenv, 5, policy)
    assert_episode_matches(port, *episode)
    assert sum(r for _, r, _, _ in episode[-1]) > 0.3


def test_manual_step_matches_pull():
    """`step` is `pull` with a uniform from its key; the reward is +-1/episode_length with the payout."""
    port = make("MultiarmedBanditEasy")
    _, state = port.initial(np.linspace(0, 0.9, 10, dtype=np.float32))
    key = jax.random.key(3)
    u = jax.random.uniform(key, (), jnp.float32)
    for a in range(10):
        got = port.step(key, state, jnp.asarray(a))
        want = port.pull(state, jnp.asarray(a), u)
        for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        assert float(got[2]) == pytest.approx((1 if int(got[0]) else -1) / 200)


def test_payout_rates():
    """Each arm pays with its probability (binomial test per arm over independent step keys)."""
    port = make("MultiarmedBanditEasy")
    probs = np.asarray([0.0, 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.999, 0.3], np.float32)
    _, state = port.initial(probs)
    draws = 20_000
    step = jax.jit(jax.vmap(jax.vmap(port.step, (0, None, None)), (None, None, 0)))
    keys = jax.random.split(jax.random.key(4), draws)
    obs, _, reward, term, trunc = step(keys, state, jnp.arange(10))
    obs = np.asarray(obs)  # [arm, draw]
    np.testing.assert_allclose(np.asarray(reward), np.where(obs == 1, 1 / 200, -1 / 200), rtol=1e-6)
    assert not np.asarray(term).any() and not np.asarray(trunc).any()
    assert obs[0].sum() == 0
    for arm in range(1, 10):
        assert stats.binomtest(int(obs[arm].sum()), draws, float(probs[arm])).pvalue > 1e-3, arm


def test_reset_probabilities_are_uniform():
    port = make("MultiarmedBanditHard")
    reset, _, _ = jitted(port)
    obs, state = jax.vmap(reset)(jax.random.split(jax.random.key(5), 4_000))
    b = np.asarray(state.bandits)
    assert b.dtype == np.float32 and b.shape == (4_000, 30) and (b >= 0).all() and (b < 1).all()
    assert (np.asarray(obs) == 0).all() and (np.asarray(state.num_steps) == 0).all()
    assert stats.kstest(b.reshape(-1), "uniform").pvalue > 1e-3
    for arm in (0, 29):
        assert stats.kstest(b[:, arm], "uniform").pvalue > 1e-3
    assert stats.pearsonr(b[:, 0], b[:, 1]).pvalue > 1e-3  # arms independent
    assert stats.pearsonr(b[:-1, 0], b[1:, 0]).pvalue > 1e-3  # resets independent


def test_autoreset_loop():
    """An auto-resetting batch (step, autoreset, select on done): episodes truncate every
    episode_length steps, restart with fresh uniform probabilities, and pay at the rate of the
    pulled arm (z-test of payouts against the summed probabilities)."""
    port = make("MultiarmedBanditEasy")
    batch, steps = 32, 1_000

    def env_step(carry, key):
        state = carry
        k1, k2, k3 = jax.random.split(key, 3)
        action = jax.random.randint(k1, (), 0, port.num_bandits)
        p = state.bandits[action]
        obs, nxt, _, term, trunc = port.step(k2, state, action)
        done = term | trunc
        _, fresh = port.autoreset(k3, nxt, done)
        nxt = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), fresh, nxt)
        return nxt, (obs, p, done, nxt.bandits[0], state.bandits[0])

    def lane(key):
        k0, k1 = jax.random.split(key)
        _, state = port.reset(k0)
        return jax.lax.scan(env_step, state, jax.random.split(k1, steps))[1]

    obs, p, done, b_after, b_before = jax.jit(jax.vmap(lane))(jax.random.split(jax.random.key(6), batch))
    obs, p, done = np.asarray(obs), np.asarray(p, np.float64), np.asarray(done)
    expected = np.zeros(steps, bool)
    expected[port.max_episode_length - 1 :: port.max_episode_length] = True
    assert (done == expected).all()
    z = (obs.sum() - p.sum()) / np.sqrt((p * (1 - p)).sum())
    assert abs(z) < 3.3
    new = np.asarray(b_after)[:, expected]  # arm 0's probability of each new episode
    assert (new != np.asarray(b_before)[:, expected]).all()
    assert stats.kstest(new.reshape(-1), "uniform").pvalue > 1e-3
