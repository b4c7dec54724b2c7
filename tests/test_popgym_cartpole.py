"""CartPole ports (position only, velocity only, noisy position only) vs PyPI popgym.

gymnasium integrates in float64 and the port in float32. One step from the same state agrees
to float32 rounding, which we test tightly from many random injected states. Over an episode
CartPole's instability grows the difference about 8% per step (1e-7 becomes 1e-4 in ~100
steps), so episodes run free for a bounded horizon and then re-inject popgym's physics
before every step (the port keeps its own step counter and fallen flag, so truncation, the
reward transform and the reset quirks are still checked over whole episodes).
Noise is compared exactly by feeding the port popgym's own standard normal draws (taken from
a deep copy of its `np_random` just before it draws) and statistically for the port's draws.
"""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding
from popgym_oracle import assert_same_obs, assert_same_spaces_and_flags, jitted, popgym_env, sampled
from scipy import stats

from benchmarks.popgym import make
from benchmarks.popgym.cartpole import RESET_BOUND, State

FAMILIES = ["PositionOnlyCartPole", "VelocityOnlyCartPole", "NoisyPositionOnlyCartPole"]
IDS = [f + d for f in FAMILIES for d in ("Easy", "Medium", "Hard")]
FREE_HORIZON = 60  # steps run without re-injection: float32 drift stays below ~1e-5
FREE_ATOL = 2e-5
RESYNC_ATOL = 1e-5

# gymnasium warns on steps past termination, which some tests take on purpose
pytestmark = pytest.mark.filterwarnings("ignore:.*already returned terminated")


@pytest.fixture(scope="module", params=IDS)
def env_id(request):
    return request.param


def popgym_eps(port, pyenv):
    """The standard normal draws popgym's next `add_noise_to_obs` will make (None if noiseless)."""
    return copy.deepcopy(pyenv.np_random).standard_normal(2) if port.sigma else None


def injected_start(port, pyenv, seed):
    """popgym reset with `seed`, and the port's episode start from popgym's state and draws."""
    rng, _ = seeding.np_random(seed)  # the generator popgym's reset(seed=seed) starts from
    obs0, _ = pyenv.reset(seed=seed)  # draws the state, then (noisy variants) the noise
    np.testing.assert_array_equal(rng.uniform(-RESET_BOUND, RESET_BOUND, size=(4,)), pyenv.state)
    eps = rng.standard_normal(2) if port.sigma else None
    obs, state = port.initial(pyenv.state, eps)
    return obs0, obs, state


def run_lockstep(port, pyenv, policy, seed, *, max_steps=None, after_termination=0):
    """Step both from the same start until popgym's episode ends (plus `after_termination`
    steps); free-running for FREE_HORIZON steps, then popgym's physics re-injected each step."""
    obs0, obs, state = injected_start(port, pyenv, seed)
    transition = jax.jit(port.transition)
    space = port.observation_space
    assert_same_obs(space, obs, obs0, atol=1e-7, where="at reset")
    rewards, rewards_py, t, extra = [], [], 0, None
    rng = np.random.default_rng(seed)
    while True:
        resync = t >= FREE_HORIZON
        if resync:
            state = state._replace(physics=jnp.asarray(pyenv.state, jnp.float32))
        action = policy(pyenv.state, rng)
        eps = popgym_eps(port, pyenv)
        obs_p, r_p, term_p, trunc_p, _ = pyenv.step(action)
        obs, state, r, term, trunc = transition(state, jnp.asarray(action), eps)
        t += 1
        atol = RESYNC_ATOL if resync else FREE_ATOL
        where = f"at step {t}"
        np.testing.assert_allclose(np.asarray(state.physics), pyenv.state, atol=atol, rtol=0, err_msg=where)
        assert_same_obs(space, obs, obs_p, atol=atol, where=where)
        np.testing.assert_allclose(float(r), r_p, rtol=1e-6, err_msg=f"reward {where}")
        assert (bool(term), bool(trunc)) == (term_p, trunc_p), where
        rewards.append(float(r))
        rewards_py.append(r_p)
        if extra is not None:
            extra -= 1
        elif term_p or trunc_p:
            extra = after_termination
        if extra == 0 or (max_steps and t >= max_steps):
            return t, np.array(rewards), np.array(rewards_py), term_p, trunc_p


def balance(s, rng):
    """A linear controller that keeps the pole up and the cart centred for 600+ steps."""
    return int(3 * s[2] + s[3] + 0.05 * s[0] + 0.2 * s[1] > 0)


def drift(s, rng):
    """Keeps the pole up but with a bias that drives the cart off the track."""
    return int(3 * s[2] + s[3] + 0.1 > 0)


def random_action(s, rng):
    return int(rng.integers(2))


def test_spaces_and_length(env_id):
    port, pyenv = make(env_id), popgym_env(env_id)
    assert_same_spaces_and_flags(port, pyenv)
    if port.sigma:
        np.testing.assert_array_equal(pyenv.noise_sigma, port.noise_sigma)


def test_one_step_from_random_states(env_id):
    """Many injected states (inside and outside the bounds, fallen or not, any step count):
    one step agrees with gymnasium to float32 rounding, reward/termination/truncation exactly."""
    port, pyenv = make(env_id), popgym_env(env_id)
    pyenv.reset(seed=0)
    rng = np.random.default_rng(1)
    n = 150
    physics = rng.uniform([-3.0, -3.0, -0.3, -3.0], [3.0, 3.0, 0.3, 3.0], size=(n, 4)).astype(np.float32)
    physics[:10] = rng.uniform(-RESET_BOUND, RESET_BOUND, size=(10, 4))  # typical starts
    fallen = rng.random(n) < 0.5
    num_steps = rng.integers(0, port.max_episode_length, size=n)
    num_steps[:5] = port.max_episode_length - 1
    actions = rng.integers(0, 2, size=n)
    expected, eps = [], []
    for i in range(n):
        pyenv.state = physics[i].astype(np.float64)
        pyenv.steps_beyond_terminated = 0 if fallen[i] else None
        pyenv.num_steps = int(num_steps[i])
        eps.append(popgym_eps(port, pyenv) if port.sigma else np.zeros(2))
        expected.append(pyenv.step(int(actions[i])) + (pyenv.state.copy(),))
    state = State(jnp.asarray(physics), jnp.asarray(num_steps, jnp.int32), jnp.asarray(fallen))
    eps = jnp.asarray(np.array(eps), jnp.float32) if port.sigma else None
    obs, new, r, term, trunc = jax.jit(jax.vmap(port.transition))(state, jnp.asarray(actions), eps)
    for i, (obs_p, r_p, term_p, trunc_p, _, physics_p) in enumerate(expected):
        where = f"state {i}: {physics[i]}, fallen {fallen[i]}, steps {num_steps[i]}, action {actions[i]}"
        np.testing.assert_allclose(np.asarray(new.physics[i]), physics_p, rtol=1e-6, atol=1e-6, err_msg=where)
        assert_same_obs(port.observation_space, obs[i], obs_p, atol=2e-6, where=where)
        assert float(r[i]) == pytest.approx(r_p, rel=1e-6), where
        assert (bool(term[i]), bool(trunc[i])) == (term_p, trunc_p), where
        assert bool(new.fallen[i]) == (fallen[i] or term_p), where
        assert int(new.num_steps[i]) == num_steps[i] + 1
    # both kinds of outcome occur, so the checks above were not vacuous
    assert np.asarray(term).any() and not np.asarray(term).all() and np.asarray(trunc).any()
    assert (np.asarray(r) == -1).any() and (np.asarray(r) > 0).any()


@pytest.mark.parametrize("seed", sampled(0, 1, 2))
def test_random_actions_episode(env_id, seed):
    port, pyenv = make(env_id), popgym_env(env_id)
    t, _, rewards_py, term, trunc = run_lockstep(port, pyenv, random_action, seed)
    assert term and not trunc and t < port.max_episode_length
    np.testing.assert_array_equal(rewards_py, 1 / port.max_episode_length)  # the falling step pays too


def test_balanced_episode_is_truncated(env_id):
    port, pyenv = make(env_id), popgym_env(env_id)
    t, rewards, rewards_py, term, trunc = run_lockstep(port, pyenv, balance, seed=3)
    assert t == port.max_episode_length and trunc and not term
    assert rewards.sum() == pytest.approx(1.0, rel=1e-5) and rewards_py.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_cart_leaving_the_track_and_steps_after_termination(family):
    """The cart drifts off the track (x termination after more than FREE_HORIZON steps);
    stepping on past termination pays popgym's -1 on both."""
    port, pyenv = make(family + "Hard"), popgym_env(family + "Hard")
    t, rewards, rewards_py, term, trunc = run_lockstep(port, pyenv, drift, seed=0, after_termination=5)
    assert term and not trunc and FREE_HORIZON < t < port.max_episode_length
    assert abs(pyenv.state[0]) > 2.4
    np.testing.assert_array_equal(rewards[-5:], -1.0)
    np.testing.assert_array_equal(rewards_py[-5:], -1.0)
    assert rewards[-6] == pytest.approx(1 / port.max_episode_length)


@pytest.mark.parametrize("family", FAMILIES)
def test_reset_distribution_and_autoreset(family):
    """The start state is uniform on (-0.05, 0.05)^4, components independent; autoreset is a reset."""
    port = make(family + "Easy")
    reset, step, autoreset = jitted(port)
    keys = jax.random.split(jax.random.key(11), 20_000)
    obs, state = jax.vmap(reset)(keys)
    physics = np.asarray(state.physics, np.float64)
    for i in range(4):
        assert stats.kstest(physics[:, i], stats.uniform(-RESET_BOUND, 2 * RESET_BOUND).cdf).pvalue > 1e-3
    corr = np.corrcoef(physics.T)[np.triu_indices(4, 1)]
    assert np.abs(corr).max() < 0.05
    assert not np.asarray(state.num_steps).any() and not np.asarray(state.fallen).any()
    if not port.sigma:  # every variant shows the positions at reset (VelocityOnly too)
        np.testing.assert_array_equal(np.asarray(obs), physics[:, [0, 2]].astype(np.float32))
    _, s = reset(keys[0])
    _, s, *_ = step(keys[1], s, jnp.asarray(1))
    o2, s2 = autoreset(keys[2], s, jnp.asarray(True))
    o3, s3 = reset(keys[2])
    np.testing.assert_array_equal(np.asarray(o2), np.asarray(o3))
    np.testing.assert_array_equal(np.asarray(s2.physics), np.asarray(s3.physics))
    assert int(s2.num_steps) == 0


def clipped_normal_pit(obs, clean, sigma, low, high, rng):
    """Probability integral transform of `clip(clean + N(0, sigma), low, high)` samples: uniform
    on (0, 1) iff the noise is right. A clipped sample only says the noise went past the bound,
    so it is spread uniformly over that tail's share of (0, 1)."""
    obs, clean = np.asarray(obs, np.float64), np.asarray(clean, np.float64)
    lo, hi = stats.norm.cdf((np.float32(low) - clean) / sigma), stats.norm.cdf((np.float32(high) - clean) / sigma)
    u = stats.norm.cdf((obs - clean) / sigma)
    u = np.where(obs >= np.float32(high), hi + (1 - hi) * rng.random(obs.shape), u)
    return np.where(obs <= np.float32(low), lo * rng.random(obs.shape), u)


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
def test_noise_statistics(difficulty):
    """The port's own noise: N(0, sigma) per component, independent, at reset and at each step,
    clipped to the Box (also where the clean x sits 0.1 inside the bound)."""
    port = make("NoisyPositionOnlyCartPole" + difficulty)
    sigma, n, box = port.noise_sigma, 20_000, port.observation_space
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.key(5), n)
    obs0, state0 = jax.vmap(port.reset)(keys)
    state = State(jnp.asarray([4.7, 0.0, 0.1, 0.0]), jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    obs, new, *_ = jax.vmap(port.step, (0, None, None))(keys, state, jnp.asarray(0))
    for o, clean in ((obs0, state0.physics[:, ::2]), (obs, new.physics[:, ::2])):
        o = np.asarray(o)
        assert (o >= np.float32(box.low)).all() and (o <= np.float32(box.high)).all()
        u = clipped_normal_pit(o, clean, sigma, box.low, box.high, rng)
        for i in range(2):
            assert stats.kstest(u[:, i], "uniform").pvalue > 1e-3, (i, o)
        z = stats.norm.ppf(u)
        assert abs(np.corrcoef(z.T)[0, 1]) < 0.05
    assert (np.asarray(obs[:, 0]) == np.float32(box.high[0])).sum() > n / 1000  # clipping did happen
