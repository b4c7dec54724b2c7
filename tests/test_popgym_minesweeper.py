"""MineSweeper port vs PyPI popgym: exact episodes on injected mine grids, uniformly drawn mines."""

from collections import Counter
from itertools import combinations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_spaces_and_flags, jitted, lockstep, popgym_env, sampled
from scipy import stats

from benchmarks.popgym import make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def injected(port, pyenv):
    return port.initial(pyenv.hidden_grid.copy())


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert (port.dims, port.num_mines) == (tuple(pyenv.dims), pyenv.num_mines)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_neighbor_grid_matches_popgym(difficulty):
    """The 3x3 count including the tile itself, on several of popgym's boards."""
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    for seed in range(10):
        pyenv.reset(seed=seed)
        _, state = injected(port, pyenv)
        np.testing.assert_array_equal(np.asarray(state.neighbor_grid), pyenv.neighbor_grid)
        np.testing.assert_array_equal(np.asarray(state.hidden_grid), pyenv.hidden_grid)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(*range(6)))
def test_random_actions_match_popgym(difficulty, seed):
    """Random clicks (repeats and mines included) until popgym ends the episode."""
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    actions = np.random.default_rng(seed).integers(0, port.dims, size=(port.max_episode_length, 2))
    lockstep(port, obs, state, pyenv, obs0, actions)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_safe_clicks_match_popgym(difficulty, seed):
    """Safe tiles only, with repeats: never a mine, so the episode is truncated at the cap
    (or terminated if every safe tile happens to be seen first)."""
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    safe = np.argwhere(pyenv.hidden_grid == 0)
    actions = safe[np.random.default_rng(seed).integers(0, len(safe), size=port.max_episode_length)]
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    assert pyenv.timestep == pyenv.max_episode_length


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(2, 3))
def test_clicking_every_safe_tile_wins(difficulty, seed):
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    safe = np.random.default_rng(seed).permutation(np.argwhere(pyenv.hidden_grid == 0))
    _, step, _ = jitted(port)
    total_py, total = 0.0, 0.0
    for t, a in enumerate(safe):
        obs_p, r_py, term_p, trunc_p, _ = pyenv.step(a)
        obs, state, r, term, trunc = step(jax.random.key(t), state, jnp.asarray(a))
        assert int(obs) == obs_p and bool(term) == term_p and bool(trunc) == trunc_p
        assert float(r) == pytest.approx(r_py, abs=1e-6)
        total_py += r_py
        total += float(r)
    assert term_p and not trunc_p and t + 1 == port.max_episode_length
    assert total_py == pytest.approx(1.0) and total == pytest.approx(1.0, abs=1e-5)


def test_mine_on_the_last_step_is_terminated_not_truncated():
    """popgym: `truncated = timestep == max_episode_length and not terminated`."""
    port, pyenv = make("MineSweeperEasy"), popgym_env("MineSweeperEasy")
    obs0, _ = pyenv.reset(seed=4)
    obs, state = injected(port, pyenv)
    safe, mines = np.argwhere(pyenv.hidden_grid == 0), np.argwhere(pyenv.hidden_grid == 1)
    actions = np.concatenate([np.repeat(safe[:1], port.max_episode_length - 1, 0), mines[:1]])
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length


def _port_mines(port, key, boards):
    grids = jax.jit(jax.vmap(lambda k: port.reset(k)[1].hidden_grid))(jax.random.split(key, boards))
    return np.asarray(grids).reshape(boards, -1) == 1


def test_easy_mine_sets_are_uniform():
    """All 120 two-mine sets of the 4x4 board equally likely (chi-square), from reset and autoreset."""
    port = make("MineSweeperEasy")
    boards = 12_000
    mines = _port_mines(port, jax.random.key(0), boards)
    assert np.all(mines.sum(1) == 2)
    index = {pair: i for i, pair in enumerate(combinations(range(16), 2))}
    counts = Counter(index[tuple(np.flatnonzero(m))] for m in mines)
    assert stats.chisquare([counts[i] for i in range(len(index))]).pvalue > 1e-3

    _, _, autoreset = jitted(port)
    _, state = port.reset(jax.random.key(1))
    grids = jax.jit(jax.vmap(lambda k: autoreset(k, state, jnp.asarray(True))[1].hidden_grid))(
        jax.random.split(jax.random.key(2), boards)
    )
    mines = np.asarray(grids).reshape(boards, -1) == 1
    counts = Counter(index[tuple(np.flatnonzero(m))] for m in mines)
    assert stats.chisquare([counts[i] for i in range(len(index))]).pvalue > 1e-3


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_mine_tiles_match_popgyms_sampler(difficulty):
    """Per-tile mine frequencies of the port's resets vs popgym's resets (two-sample
    chi-square; conservative, the fixed mine count makes tiles negatively correlated), and
    per-tile frequencies against uniform."""
    port, pyenv = make(f"MineSweeper{difficulty}"), popgym_env(f"MineSweeper{difficulty}")
    boards = 3000
    ours = _port_mines(port, jax.random.key(3), boards)
    assert np.all(ours.sum(1) == port.num_mines)
    pyenv.reset(seed=5)
    theirs = np.zeros(port.num_tiles)
    for _ in range(boards):
        pyenv.reset()
        theirs += pyenv.hidden_grid.reshape(-1) == 1
    table = np.stack([ours.sum(0), theirs])
    assert stats.chi2_contingency(table).pvalue > 1e-3
    assert stats.chisquare(ours.sum(0)).pvalue > 1e-3
    # the number of mines in the top-left 2x2 block (a joint statistic of several tiles)
    block = np.zeros(port.dims, bool)
    block[:2, :2] = True
    in_block = ours[:, block.reshape(-1)].sum(1)
    expected = stats.hypergeom(port.num_tiles, 4, port.num_mines).pmf(np.arange(5)) * boards
    observed = np.bincount(in_block, minlength=5)
    keep = expected > 5
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    if expected[-1] < 1e-9:
        observed, expected = observed[:-1], expected[:-1]
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
