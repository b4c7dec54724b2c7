"""Every popgym port behind the runner's env interface, as agents see popgym through its wrappers.

Each family's own tests compare the port with PyPI popgym step by step; these check what the
backend adds: one-hot encoding = popgym `Flatten` + gymnasium `flatten`, the flat action =
popgym's `DiscreteAction` unravelling, episode lengths, returns inside [-1, 1] under auto-reset,
and the task registry (every popgym id registered, aliases, suites).
"""

import dataclasses
import warnings

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import popgym_env

from benchmarks import popgym
from benchmarks.envs import make_env
from benchmarks.popgym import core
from benchmarks.suites import SUITES
from benchmarks.tasks import TASKS, resolve_task_id

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from popgym.wrappers import DiscreteAction, Flatten


def test_every_popgym_id_is_a_task():
    registered = {i for i in gym.registry if i.startswith("popgym-")}
    assert len(registered) == 48  # 16 families x 3 difficulties (labyrinths need mazelib)
    assert {popgym.popgym_gym_id(i) for i in popgym.ENV_IDS} == registered
    for env_id in popgym.ENV_IDS:
        assert TASKS[env_id].package == "popgym"


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("StatelessCartPoleEasy", "PositionOnlyCartPoleEasy"),
        ("NoisyStatelessCartPoleHard", "NoisyPositionOnlyCartPoleHard"),
        ("MinesweeperEasy", "MineSweeperEasy"),
        ("MultiArmedBanditMedium", "MultiarmedBanditMedium"),
        ("popgym-VelocityOnlyCartpoleEasy-v0", "VelocityOnlyCartPoleEasy"),
        ("StatelessCartPole", "PositionOnlyCartPoleEasy-popjym"),  # the paper's Table 3 row name
        ("RepeatFirst", "RepeatFirstEasy-popjym"),
        ("MinesweeperEasy-popjym", "MineSweeperEasy-popjym"),
    ],
)
def test_aliases(alias, canonical):
    assert resolve_task_id(alias) == canonical


def test_suites():
    s = SUITES["popgym"]
    assert len(s.tasks) == 16 and all(t.endswith("Easy") for t in s.tasks)
    assert len(s.tasks_for("all")) == 48 and all(t.endswith("Hard") for t in s.tasks_for("hard"))
    with pytest.raises(ValueError, match="no difficulty"):
        SUITES["quick"].tasks_for("hard")
    rows = {r for t in SUITES["lru-paper"].tasks for r in TASKS[t].paper_rows}
    popjym = SUITES["popjym-paper"]  # the `popgym` suite's agents and budget, on the paper's six rows
    assert (popjym.agents, popjym.seeds, popjym.budget, popjym.agent_settings) == (
        s.agents,
        s.seeds,
        s.budget,
        s.agent_settings,
    )
    for row in (
        "StatelessCartPole",
        "NoisyStatelessCartPole",
        "Minesweeper",
        "MultiArmedBandit",
        "RepeatFirst",
        "RepeatPrevious",
    ):
        assert f"table3:{row}" in rows
        task = TASKS[resolve_task_id(row)]  # the row name names the compat variant it is compared with
        assert task.id in popjym.tasks and f"table3:{row}" in task.paper_rows
    assert len(popjym.tasks) == 6 and set(popjym.tasks) <= set(SUITES["lru-paper"].tasks)


def test_unravel_matches_discrete_action_wrapper():
    space = core.MultiDiscrete((8, 8))
    flat = np.arange(64)
    ours = np.asarray(jax.vmap(lambda a: core.unravel_action(space, a))(jnp.asarray(flat)))
    theirs = np.stack(np.unravel_index(flat, (8, 8)), axis=1)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("env_id", popgym.ENV_IDS)
def test_spec_matches_popgym_wrappers(env_id):
    """Observation width = popgym Flatten + gymnasium flatdim; actions = DiscreteAction's size."""
    spec = make_env(TASKS[env_id]).spec
    wrapped = Flatten(popgym_env(env_id))
    if not isinstance(wrapped.action_space, gym.spaces.Box):  # DiscreteAction refuses a Box (Pendulum)
        wrapped = DiscreteAction(wrapped)
    assert spec.obs_dim == gym.spaces.utils.flatdim(wrapped.observation_space)
    # HigherLower has no attribute; its episodes always end after n - 1 steps (its own tests)
    assert spec.max_episode_length == getattr(wrapped.unwrapped, "max_episode_length", spec.max_episode_length)
    if isinstance(wrapped.action_space, gym.spaces.Discrete):
        assert spec.action_kind == "discrete" and spec.num_actions == wrapped.action_space.n
    else:
        assert spec.action_kind == "continuous"
        np.testing.assert_allclose(spec.action_low, wrapped.action_space.low)
        np.testing.assert_allclose(spec.action_high, wrapped.action_space.high)


ROLLOUT_SAMPLE = (
    "CountRecallEasy",
    "ConcentrationEasy",
    "BattleshipEasy",
    "NoisyPositionOnlyPendulumEasy",
    "LabyrinthEscapeEasy",
)  # one of each kind of state; the other Easy ports run in `slow`


@pytest.mark.parametrize(
    "env_id",
    [
        i if i in ROLLOUT_SAMPLE else pytest.param(i, marks=pytest.mark.slow)
        for i in popgym.ENV_IDS
        if i.endswith("Easy")
    ],
)
def test_autoreset_rollout(env_id):
    """Random actions, 8 envs, 3 episode lengths: lengths within the cap, returns in [-1, 1],
    observations valid encodings (one-hot blocks sum to one), no NaN."""
    env = make_env(TASKS[env_id])
    spec, batch = env.spec, 8
    steps = min(3 * spec.max_episode_length, 1500)

    def run(key):
        state, ts0 = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(carry, _):
            state, key = carry
            key, ka, ks = jax.random.split(key, 3)
            if spec.action_kind == "discrete":
                a = jax.random.randint(ka, (batch,), 0, spec.num_actions)
            else:
                a = jax.random.uniform(ka, (batch, spec.action_dim), minval=-2.0, maxval=2.0)
            state, ts = jax.vmap(env.step)(jax.random.split(ks, batch), state, a)
            return (state, key), ts

        return ts0, jax.lax.scan(body, (state, key), None, length=steps)[1]

    ts0, ts = jax.jit(run)(jax.random.key(0))
    done = np.asarray(ts.done)
    assert np.isfinite(np.asarray(ts.obs)).all() and np.isfinite(np.asarray(ts.reward)).all()
    assert np.asarray(ts.episode_length)[done].max(initial=0) <= spec.max_episode_length
    returns = np.asarray(ts.episode_return)[done]
    assert done.any() or steps < spec.max_episode_length
    assert (np.abs(returns) <= 1.0 + 1e-4).all(), returns[np.abs(returns) > 1.0 + 1e-4]
    space = popgym.make(env_id).observation_space
    discrete_part = not isinstance(space, core.Box)
    if discrete_part and not isinstance(space, core.TupleSpace):
        per_block = len(space.nvec) if isinstance(space, core.MultiDiscrete) else 1
        np.testing.assert_allclose(np.asarray(ts.obs).sum(-1), per_block)


def test_episode_cap_override_and_truncation():
    """A user cap shorter than popgym's truncates there; a longer one cannot extend popgym's episode."""
    task = dataclasses.replace(TASKS["RepeatPreviousEasy"], max_episode_length=10)
    assert make_env(task).spec.max_episode_length == 10
    longer = dataclasses.replace(TASKS["RepeatPreviousEasy"], max_episode_length=1000)
    assert make_env(longer).spec.max_episode_length == 51
    env = make_env(task)
    state, _ = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    for t in range(10):
        state, ts = step(jax.random.key(t + 1), state, jnp.asarray(0))
    assert bool(ts.truncated) and not bool(ts.terminated) and int(ts.episode_length) == 10
