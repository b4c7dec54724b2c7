"""Pendulum ports (position only, noisy position only) vs PyPI popgym.

gymnasium integrates in float64 with an unbounded theta; the port in float32 with theta
wrapped to [-pi, pi) (equivalent: theta is only used through sin, cos and
`angle_normalize`). One step agrees to float32 rounding from many random injected states.
Whole episodes run free for a bounded horizon (20 steps) and then re-inject popgym's
physics before every step: near the unstable top (the swing-up policy) the float32/float64
difference grows ~20% per step, from 1e-7 to ~1e-2 within 60 steps.
Noise: popgym's own normal draws fed to the port, plus statistics of the port's.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding
from popgym_oracle import assert_same_obs, assert_same_spaces_and_flags, jitted, popgym_env, sampled
from scipy import stats
from test_popgym_cartpole import clipped_normal_pit, popgym_eps

from benchmarks.popgym import make
from benchmarks.popgym.pendulum import State

FAMILIES = ["PositionOnlyPendulum", "NoisyPositionOnlyPendulum"]
IDS = [f + d for f in FAMILIES for d in ("Easy", "Medium", "Hard")]
FREE_HORIZON = 20  # float32 drift stays below ~1e-5 (near the top it grows ~20% per step)
FREE_ATOL = 5e-5
RESYNC_ATOL = 1e-5


@pytest.fixture(scope="module", params=IDS)
def env_id(request):
    return request.param


def wrap(th):
    return (np.asarray(th, np.float64) + np.pi) % (2 * np.pi) - np.pi


def assert_same_physics(ours, theirs, atol, where):
    """(theta, thdot) equal, theta modulo 2 pi (the port keeps it wrapped)."""
    ours = np.asarray(ours, np.float64)
    np.testing.assert_allclose(wrap(ours[..., 0] - theirs[..., 0]), 0, atol=atol, err_msg=f"theta {where}")
    np.testing.assert_allclose(ours[..., 1], theirs[..., 1], atol=atol, rtol=0, err_msg=f"thdot {where}")


def injected_start(port, pyenv, seed):
    rng, _ = seeding.np_random(seed)  # the generator popgym's reset(seed=seed) starts from
    obs0, _ = pyenv.reset(seed=seed)  # draws the state, then (noisy variant) the noise
    np.testing.assert_array_equal(rng.uniform([-np.pi, -1.0], [np.pi, 1.0]), pyenv.state)
    eps = rng.standard_normal(2) if port.sigma else None
    obs, state = port.initial(pyenv.state, eps)
    return obs0, obs, state


def run_lockstep(port, pyenv, policy, seed):
    """Step both from the same start until popgym truncates; free-running for FREE_HORIZON
    steps, then popgym's physics re-injected before each step. Returns both rewards."""
    obs0, obs, state = injected_start(port, pyenv, seed)
    transition = jax.jit(port.transition)
    space = port.observation_space
    assert_same_obs(space, obs, obs0, atol=1e-6, where="at reset")
    rewards, rewards_py, t = [], [], 0
    rng = np.random.default_rng(seed)
    while True:
        resync = t >= FREE_HORIZON
        if resync:
            state = state._replace(physics=jnp.asarray([wrap(pyenv.state[0]), pyenv.state[1]], jnp.float32))
        action = policy(pyenv.state, rng)
        eps = popgym_eps(port, pyenv)
        obs_p, r_p, term_p, trunc_p, _ = pyenv.step(action)
        obs, state, r, term, trunc = transition(state, jnp.asarray(action), eps)
        t += 1
        atol = RESYNC_ATOL if resync else FREE_ATOL
        where = f"at step {t}"
        assert_same_physics(state.physics, pyenv.state, atol, where)
        assert_same_obs(space, obs, obs_p, atol=atol, where=where)
        np.testing.assert_allclose(float(r), r_p, rtol=1e-5, atol=1e-8, err_msg=f"reward {where}")
        assert (bool(term), bool(trunc)) == (term_p, trunc_p), where
        rewards.append(float(r))
        rewards_py.append(r_p)
        if term_p or trunc_p:
            return t, np.array(rewards), np.array(rewards_py)


def random_torque(s, rng):
    """Uniform torques, a quarter of them beyond the [-2, 2] the env clips to."""
    return rng.uniform(-2.5, 2.5, size=(1,)).astype(np.float32)


def swing_up(s, rng):
    """Pump energy until the pendulum can reach the top, then balance it there (returns ~0.9)."""
    th, thd = wrap(s[0]), s[1]
    if abs(th) < 0.6:
        return np.array([np.clip(-8 * th - 2 * thd, -2, 2)], np.float32)
    energy = 0.5 * thd**2 + 15 * np.cos(th)  # 15 at rest on top
    return np.array([2.0 * np.sign(thd) * (energy < 15)], np.float32)


def test_spaces_and_length(env_id):
    port, pyenv = make(env_id), popgym_env(env_id)
    assert_same_spaces_and_flags(port, pyenv)
    assert pyenv.action_space.shape == (1,)
    if port.sigma:
        np.testing.assert_array_equal(pyenv.noise_sigma, port.noise_sigma)


def test_one_step_from_random_states(env_id):
    """Injected states with theta far outside [-pi, pi], speeds at and beyond the clip, torques
    beyond the clip, any step count: one step agrees with gymnasium to float32 rounding."""
    port, pyenv = make(env_id), popgym_env(env_id)
    pyenv.reset(seed=0)
    rng = np.random.default_rng(2)
    n = 150
    physics = rng.uniform([-4 * np.pi, -9.0], [4 * np.pi, 9.0], size=(n, 2)).astype(np.float32)
    physics[:5, 0] = [0.0, np.pi, -np.pi, 1e-3, 3 * np.pi]
    num_steps = rng.integers(0, port.max_episode_length, size=n)
    num_steps[:5] = port.max_episode_length - 1
    actions = rng.uniform(-3, 3, size=(n, 1)).astype(np.float32)
    expected, eps = [], []
    for i in range(n):
        pyenv.state = physics[i].astype(np.float64)
        pyenv.num_steps = int(num_steps[i])
        eps.append(popgym_eps(port, pyenv) if port.sigma else np.zeros(2))
        expected.append(pyenv.step(actions[i]) + (pyenv.state.copy(),))
    state = State(jnp.asarray(physics), jnp.asarray(num_steps, jnp.int32))
    eps = jnp.asarray(np.array(eps), jnp.float32) if port.sigma else None
    obs, new, r, term, trunc = jax.jit(jax.vmap(port.transition))(state, jnp.asarray(actions), eps)
    for i, (obs_p, r_p, term_p, trunc_p, _, physics_p) in enumerate(expected):
        where = f"state {i}: {physics[i]}, steps {num_steps[i]}, action {actions[i]}"
        assert_same_physics(new.physics[i], physics_p, 5e-6, where)
        assert abs(float(new.physics[i, 0])) <= np.float32(np.pi)
        assert_same_obs(port.observation_space, obs[i], obs_p, atol=5e-6, where=where)
        np.testing.assert_allclose(float(r[i]), r_p, rtol=1e-6, atol=1e-8, err_msg=where)
        assert (bool(term[i]), bool(trunc[i])) == (term_p, trunc_p), where
        assert int(new.num_steps[i]) == num_steps[i] + 1
    assert np.asarray(trunc).any() and not np.asarray(trunc).all()
    assert (np.abs(np.asarray(new.physics[:, 1])) == 8).any()  # the speed clip was exercised


@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_torque_episode(env_id, seed):
    port, pyenv = make(env_id), popgym_env(env_id)
    t, rewards, rewards_py = run_lockstep(port, pyenv, random_torque, seed)
    assert t == port.max_episode_length
    assert rewards.sum() == pytest.approx(rewards_py.sum(), abs=1e-5)


def test_swing_up_episode(env_id):
    """A controller that swings the pendulum up and holds it: both agree, and its return is high."""
    port, pyenv = make(env_id), popgym_env(env_id)
    t, rewards, rewards_py = run_lockstep(port, pyenv, swing_up, seed=1)
    assert t == port.max_episode_length
    assert rewards.sum() == pytest.approx(rewards_py.sum(), abs=1e-5)
    assert rewards.sum() > 0.5


@pytest.mark.parametrize("family", FAMILIES)
def test_reset_distribution_and_autoreset(family):
    """theta uniform on [-pi, pi], thdot uniform on [-1, 1], independent; autoreset is a reset."""
    port = make(family + "Easy")
    reset, step, autoreset = jitted(port)
    keys = jax.random.split(jax.random.key(11), 20_000)
    obs, state = jax.vmap(reset)(keys)
    physics = np.asarray(state.physics, np.float64)
    assert stats.kstest(physics[:, 0], stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    assert stats.kstest(physics[:, 1], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert abs(np.corrcoef(physics.T)[0, 1]) < 0.05
    assert not np.asarray(state.num_steps).any()
    if not port.sigma:
        np.testing.assert_allclose(
            np.asarray(obs), np.stack([np.cos(physics[:, 0]), np.sin(physics[:, 0])], 1), atol=1e-6
        )
    _, s = reset(keys[0])
    _, s, *_ = step(keys[1], s, jnp.asarray([1.0]))
    o2, s2 = autoreset(keys[2], s, jnp.asarray(True))
    o3, s3 = reset(keys[2])
    np.testing.assert_array_equal(np.asarray(o2), np.asarray(o3))
    np.testing.assert_array_equal(np.asarray(s2.physics), np.asarray(s3.physics))
    assert int(s2.num_steps) == 0


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
def test_noise_statistics(difficulty):
    """The port's own noise: N(0, sigma) per component, independent, at reset and at each step,
    clipped to [-1, 1] (often: cos and sin sit at +-1 and 0 at the test state)."""
    port = make("NoisyPositionOnlyPendulum" + difficulty)
    sigma, n, box = port.noise_sigma, 20_000, port.observation_space
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.key(5), n)
    obs0, state0 = jax.vmap(port.reset)(keys)
    state = State(jnp.asarray([0.0, 0.0]), jnp.zeros((), jnp.int32))
    obs, new, *_ = jax.vmap(port.step, (0, None, None))(keys, state, jnp.asarray([0.0]))

    def clean(physics):
        return np.stack([np.cos(physics[..., 0]), np.sin(physics[..., 0])], -1)

    for o, c in ((obs0, clean(np.asarray(state0.physics, np.float64))), (obs, clean(np.asarray(new.physics)))):
        o = np.asarray(o)
        assert (o >= -1).all() and (o <= 1).all()
        u = clipped_normal_pit(o, c, sigma, box.low, box.high, rng)
        for i in range(2):
            assert stats.kstest(u[:, i], "uniform").pvalue > 1e-3, i
        assert abs(np.corrcoef(stats.norm.ppf(u).T)[0, 1]) < 0.05
    assert (np.asarray(obs[:, 0]) == 1).mean() == pytest.approx(0.5, abs=0.02)  # cos = 1 clipped half the time
