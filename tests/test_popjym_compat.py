"""The popjym-compat variants (`<Id>-popjym`) of the paper's six popgym rows.

popjym is not installed here, so each difference from popgym is checked against an independent
computation: a plain-Python loop over an injected deck or board that follows popjym's rules as
read from its source (EdanToledo/popjym, `popjym/environments/popgym_*.py`), and, where popjym
keeps popgym's behaviour, a differential run against our popgym port (itself tested step by
step against PyPI popgym).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import normalization as norm
from benchmarks import popgym
from benchmarks.envs import make_env
from benchmarks.popgym import cards, core
from benchmarks.popgym.minesweeper import MINE
from benchmarks.suites import SUITES
from benchmarks.tasks import POPJYM_TASKS, TASKS

KEY = jax.random.key(0)


def _deck(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(52).astype(np.int32)


def _play(env, state, actions):
    """Step `env` from `state` with `actions`; (obs, reward, terminated, truncated) per step."""
    step = jax.jit(env.step)
    out = []
    for i, a in enumerate(actions):
        obs, state, r, term, trunc = step(jax.random.key(i), state, jnp.asarray(a))
        out.append((np.asarray(obs), float(r), bool(term), bool(trunc)))
    return out, state


# ---- RepeatPrevious: the card k back, 52 steps ---------------------------------------------------


def _repeat_previous_by_hand(suits, actions, k):
    """popjym's `step_env`: at timestep t (card t on show) reward +-1/(n-k) for naming card t-k,
    nothing for t < k; the step that reaches timestep n terminates; the next card is shown."""
    n, out = len(suits), []
    for t, a in enumerate(actions):
        r = 0.0 if t < k else (1.0 if a == suits[t - k] else -1.0) / (n - k)
        out.append((suits[min(t + 1, n - 1)], r, t + 1 == n, False))
    return out


@pytest.mark.parametrize("policy", ["optimal", "random", "popgym_target"])
def test_repeat_previous_rewards_the_card_k_back(policy):
    env = popgym.make("RepeatPreviousEasy-popjym")
    order = _deck(1)
    suits = [int(c) % 4 for c in order]
    rng = np.random.default_rng(2)
    k, n = env.k, 52
    if policy == "optimal":
        actions = [suits[t - k] if t >= k else int(rng.integers(4)) for t in range(n)]
    elif policy == "popgym_target":  # popgym's card k - 1 back
        actions = [suits[t - k + 1] if t >= k - 1 else 0 for t in range(n)]
    else:
        actions = [int(rng.integers(4)) for _ in range(n)]
    obs0, state = env.initial(cards.shoe_from_order(order))
    assert int(obs0) == suits[0]
    got, _ = _play(env, state, actions)
    want = _repeat_previous_by_hand(suits, actions, k)
    assert [(int(o), t, u) for o, _, t, u in got] == [(o, t, u) for o, _, t, u in want]
    np.testing.assert_allclose([r for _, r, _, _ in got], [r for _, r, _, _ in want], rtol=1e-6)
    ret = sum(r for _, r, _, _ in got)
    assert env.max_episode_length == n and got[-1][2] and not any(t for _, _, t, _ in got[:-1])
    if policy == "optimal":
        assert ret == pytest.approx(1.0, abs=1e-5)
    if policy == "popgym_target":
        assert ret < 0.5  # naming popgym's target is no better than chance here


# ---- RepeatFirst: 52 steps at 1/51 ----------------------------------------------------------------


def test_repeat_first_runs_one_step_longer_than_popgym():
    env, ported = popgym.make("RepeatFirstEasy-popjym"), popgym.make("RepeatFirstEasy")
    order = _deck(3)
    suits = [int(c) % 4 for c in order]
    rng = np.random.default_rng(4)
    for actions in ([suits[0]] * 52, [int(rng.integers(4)) for _ in range(52)]):
        _, state = env.initial(cards.shoe_from_order(order))
        got, _ = _play(env, state, actions)
        # by hand (popjym's step_env): +-1/51 for naming the first suit; obs card (t+1) % 52; ends at t + 1 == 52
        want = [(suits[(t + 1) % 52], (1.0 if a == suits[0] else -1.0) / 51, t == 51) for t, a in enumerate(actions)]
        assert [(int(o), t) for o, _, t, _ in got] == [(o, t) for o, _, t in want]
        np.testing.assert_allclose([r for _, r, _, _ in got], [r for _, r, _ in want], rtol=1e-6)
        # popgym's episode is the same but one step shorter
        _, pstate = ported.initial(cards.shoe_from_order(order))
        pgot, _ = _play(ported, pstate, actions[:51])
        assert [r for _, r, _, _ in pgot] == [r for _, r, _, _ in got[:51]] and pgot[-1][2] and not got[50][2]
        if actions[1:] == actions[:-1]:  # always the first suit: the best return, above popgym's 1
            ret = sum(r for _, r, _, _ in got)
            assert ret == pytest.approx(52 / 51, abs=1e-5) == norm.ceiling(TASKS["RepeatFirstEasy-popjym"]).value


# ---- MineSweeper: cannot be won, one more step, 2-float observation ------------------------------

MINES = ((0, 1), (2, 2))


def _board() -> np.ndarray:
    grid = np.zeros((4, 4), np.int32)
    for r, c in MINES:
        grid[r, c] = MINE
    return grid


def _count(r: int, c: int) -> int:
    """Mines in the 3x3 block around (r, c), the tile included (popgym's and popjym's count)."""
    return sum(abs(r - mr) <= 1 and abs(c - mc) <= 1 for mr, mc in MINES)


def _one_hot_2(count: int) -> list[float]:
    return [float(count == 0), float(count == 1)]  # popjym: zeros(num_mines).at[count].set(1)


def test_minesweeper_cannot_be_won_and_runs_a_forced_last_step():
    env, ported = popgym.make("MineSweeperEasy-popjym"), popgym.make("MineSweeperEasy")
    safe = [(r, c) for r in range(4) for c in range(4) if (r, c) not in MINES]
    obs0, state = env.initial(_board())
    np.testing.assert_array_equal(obs0, [0.0, 0.0])
    got, _ = _play(env, state, [np.array(t, np.int32) for t in [*safe, safe[0]]])
    assert len(safe) == 14 and env.max_episode_length == 15
    for (r, c), (obs, rew, term, trunc) in zip(safe, got):
        np.testing.assert_array_equal(obs, _one_hot_2(_count(r, c)))
        assert rew == pytest.approx(1 / 14) and not term and not trunc  # every safe tile clicked: no win
    obs, rew, term, trunc = got[14]  # the 15th step: a repeated click, and the time limit ends it
    assert rew == pytest.approx(-0.5 / 12) and term and not trunc
    assert sum(r for _, r, _, _ in got) == pytest.approx(23 / 24) == norm.ceiling(TASKS["MineSweeperEasy-popjym"]).value
    # popgym's port wins on the 14th safe tile, with the same rewards up to there
    pgot, _ = _play(ported, ported.initial(_board())[1], [np.array(t, np.int32) for t in safe])
    assert [r for _, r, _, _ in pgot] == [r for _, r, _, _ in got[:14]] and pgot[-1][2]
    assert any(_count(*t) >= 2 for t in safe)  # the board shows the dropped count (zeros) too


def test_minesweeper_mines_and_repeats_score_as_popgym():
    env = popgym.make("MineSweeperEasy-popjym")
    _, state = env.initial(_board())
    got, _ = _play(env, state, [np.array(t, np.int32) for t in [(3, 3), (3, 3), (3, 3), MINES[1]]])
    assert [r for _, r, _, _ in got] == pytest.approx([1 / 14, -0.5 / 12, -0.5 / 12, -0.5 - 1 / 14])
    assert [t for _, _, t, _ in got] == [False, False, False, True]


# ---- MultiarmedBandit: one float, terminates at 200 -----------------------------------------------


def test_multiarmed_bandit_terminates_and_observes_one_float():
    env, ported = popgym.make("MultiarmedBanditEasy-popjym"), popgym.make("MultiarmedBanditEasy")
    rng = np.random.default_rng(5)
    bandits = rng.random(10).astype(np.float32)
    obs0, state = env.initial(bandits)
    _, pstate = ported.initial(bandits)
    np.testing.assert_array_equal(obs0, [0.0])
    pull, ppull = jax.jit(env.pull), jax.jit(ported.pull)
    for t in range(200):
        a, u = int(rng.integers(10)), float(rng.random())
        obs, state, r, term, trunc = pull(state, jnp.asarray(a), jnp.float32(u))
        pobs, pstate, pr, pterm, ptrunc = ppull(pstate, jnp.asarray(a), jnp.float32(u))
        paid = np.float32(u) < bandits[a]  # by hand: the arm pays when u < p
        np.testing.assert_array_equal(obs, [float(paid)])
        assert float(r) == pytest.approx((1.0 if paid else -1.0) / 200) and float(r) == float(pr)
        assert int(pobs) == int(paid)
        assert bool(term) == (t == 199) and not bool(trunc)  # popjym: new timestep >= 200 terminates
        assert bool(ptrunc) == (t == 199) and not bool(pterm)  # popgym: truncates there


# ---- CartPole: popgym's dynamics, the step limit terminates ---------------------------------------


@pytest.mark.parametrize("family", ["PositionOnlyCartPole", "NoisyPositionOnlyCartPole"])
def test_cartpole_is_popgym_except_the_time_limit_terminates(family):
    """Lockstep with our popgym port on the same physics and noise draws: equal observations and
    rewards at every step; where popgym truncates at 200 steps the variant terminates."""
    env, ported = popgym.make(f"{family}Easy-popjym"), popgym.make(f"{family}Easy")
    key = jax.random.key(6)
    physics = jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)
    eps0 = jnp.zeros((2,), jnp.float32) if env.sigma else None
    _, state = env.initial(physics, eps0)
    _, pstate = ported.initial(physics, eps0)
    step, pstep = jax.jit(env.transition), jax.jit(ported.transition)
    ends = []
    for t in range(400):
        # a balancing controller on the hidden state, so episodes reach the limit; some random pushes
        x, x_dot, th, th_dot = np.asarray(state.physics)
        a = int(th + 0.5 * th_dot + 0.01 * x + 0.1 * x_dot > 0) if t % 7 else t % 2
        eps = jax.random.normal(jax.random.fold_in(key, t), (2,)) if env.sigma else None
        obs, state, r, term, trunc = step(state, jnp.asarray(a), eps)
        pobs, pstate, pr, pterm, ptrunc = pstep(pstate, jnp.asarray(a), eps)
        np.testing.assert_array_equal(obs, pobs)
        assert float(r) == float(pr) and not bool(trunc)
        assert bool(term) == bool(pterm or ptrunc)
        if bool(term):
            ends.append((int(state.num_steps), bool(ptrunc)))
            _, state = env.initial(physics, eps0)
            _, pstate = ported.initial(physics, eps0)
    assert (200, True) in ends  # reached the limit: popgym truncated, popjym terminated


# ---- the tasks, through the runner -------------------------------------------------------------------

SPECS = {  # obs width, actions, episode cap: what the agent sees of popjym's spaces
    "PositionOnlyCartPoleEasy-popjym": (2, 2, 200),
    "NoisyPositionOnlyCartPoleEasy-popjym": (2, 2, 200),
    "MineSweeperEasy-popjym": (2, 16, 15),
    "MultiarmedBanditEasy-popjym": (1, 10, 200),
    "RepeatFirstEasy-popjym": (4, 4, 52),
    "RepeatPreviousEasy-popjym": (4, 4, 52),
}


def test_the_six_tasks_their_specs_and_suite():
    assert set(POPJYM_TASKS) == set(SPECS) == set(SUITES["popjym-paper"].tasks)
    for tid, (obs_dim, n, length) in SPECS.items():
        task = TASKS[tid]
        assert task.package == "popgym" and task.paper_rows and "differs from popgym" in task.description
        spec = make_env(task).spec
        assert (spec.obs_dim, spec.num_actions, spec.max_episode_length) == (obs_dim, n, length), tid


@pytest.mark.parametrize("tid", ["PositionOnlyCartPoleEasy-popjym", "MultiarmedBanditEasy-popjym"])
def test_the_runner_reports_the_limit_as_termination(tid):
    """At the 200-step limit the runner reports popjym's termination, the popgym task a truncation."""
    for task_id, terminated in ((tid, True), (tid.removesuffix("-popjym"), False)):
        env = make_env(TASKS[task_id])
        state, _ = env.reset(KEY)
        inner = state.inner._replace(num_steps=jnp.asarray(199, jnp.int32))
        state = state._replace(inner=inner, time=jnp.asarray(199, jnp.int32))
        _, ts = jax.jit(env.step)(jax.random.key(1), state, jnp.asarray(0))
        assert (bool(ts.terminated), bool(ts.truncated)) == (terminated, not terminated), task_id
        assert int(ts.episode_length) == 200


def test_card_game_episodes_run_the_whole_deck_under_autoreset():
    """Random actions through the runner: every episode runs popjym's 52 steps (the runner's cap
    is the variant's, not popgym's 51), returns within [-1, 1]."""
    env = make_env(TASKS["RepeatPreviousEasy-popjym"])
    state, _ = env.reset(KEY)
    step = jax.jit(env.step)
    actions = np.random.default_rng(7).integers(0, 4, 3 * 52)
    ends = []
    for i, a in enumerate(actions):
        state, ts = step(jax.random.key(i), state, jnp.asarray(a))
        if bool(ts.done):
            assert bool(ts.terminated) and abs(float(ts.episode_return)) <= 1.0 + 1e-5
            ends.append(int(ts.episode_length))
    assert ends == [52, 52, 52]


def test_minesweeper_through_the_runner():
    """The runner's cap is popjym's 15 steps: all safe tiles and a repeat, one episode of 23/24."""
    env = make_env(TASKS["MineSweeperEasy-popjym"])
    state, _ = env.reset(KEY)
    state = state._replace(inner=popgym.make("MineSweeperEasy-popjym").initial(_board())[1])
    safe = [r * 4 + c for r in range(4) for c in range(4) if (r, c) not in MINES]
    step = jax.jit(env.step)
    for i, a in enumerate([*safe, safe[0]]):
        state, ts = step(jax.random.key(i), state, jnp.asarray(a))
        assert bool(ts.done) == (i == 14) and not bool(ts.truncated)
    assert int(ts.episode_length) == 15 and float(ts.episode_return) == pytest.approx(23 / 24)


def test_make_builds_every_difficulty_and_refuses_other_families():
    for d in popgym.DIFFICULTIES:
        for name, compat in popgym.POPJYM.items():
            env = popgym.make(f"{name}{d}-popjym")
            assert type(env).__name__ == compat.cls
            assert dataclasses.asdict(env) == dataclasses.asdict(popgym.make(f"{name}{d}"))
    with pytest.raises(KeyError, match="no popjym compat variant"):
        popgym.make("CountRecallEasy-popjym")
    assert isinstance(popgym.make("MultiarmedBanditEasy-popjym").observation_space, core.Box)
