"""Battleship port vs PyPI popgym: exact episodes on injected boards, ship placement exactly
as popgym's rejection sampler distributes it (enumerated) and statistically (sampled)."""

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_spaces_and_flags, jitted, lockstep, popgym_env, sampled
from scipy import stats

from benchmarks.popgym import make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def injected(port, pyenv):
    return port.initial(pyenv.board.copy())


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert list(port.ship_sizes) == list(pyenv.ship_sizes)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1, 2))
def test_random_actions_match_popgym(difficulty, seed):
    """Random shots (repeats included) until popgym ends the episode (mostly truncation)."""
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    n = port.board_size
    actions = np.random.default_rng(seed).integers(0, n, size=(n * n, 2))
    assert lockstep(port, obs, state, pyenv, obs0, actions) == n * n


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(3, 4))
def test_sweeping_every_tile_matches_popgym(difficulty, seed):
    """Every tile once, in a shuffled order: ends by termination at the last ship tile."""
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    n = port.board_size
    order = np.random.default_rng(seed).permutation(n * n)
    actions = np.stack(np.unravel_index(order, (n, n)), 1)
    last_ship = max(t for t, (i, j) in enumerate(actions) if pyenv.board[i, j]) + 1
    assert lockstep(port, obs, state, pyenv, obs0, actions) == last_ship
    assert pyenv.hits == pyenv.needed_hits


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_firing_only_at_ships_scores_one(difficulty):
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    pyenv.reset(seed=5)
    obs, state = injected(port, pyenv)
    _, step, _ = jitted(port)
    ships = np.argwhere(pyenv.board == 1)
    total_py, total = 0.0, 0.0
    for t, a in enumerate(ships):
        obs_p, r_py, term_p, trunc_p, _ = pyenv.step(a)
        obs, state, r, term, trunc = step(jax.random.key(t), state, jnp.asarray(a))
        assert int(obs) == obs_p == 1 and bool(term) == term_p and bool(trunc) == trunc_p
        total_py += r_py
        total += float(r)
    assert term_p and not trunc_p and len(ships) == 12
    assert total_py == pytest.approx(1.0) and total == pytest.approx(1.0, abs=1e-5)


def test_terminated_and_truncated_together_on_the_last_tile():
    """popgym reports both when the last ship tile is hit on the last allowed step."""
    port, pyenv = make("BattleshipEasy"), popgym_env("BattleshipEasy")
    obs0, _ = pyenv.reset(seed=6)
    obs, state = injected(port, pyenv)
    n = port.board_size
    order = sorted(range(n * n), key=lambda c: pyenv.board.flat[c])  # ship tiles last
    actions = np.stack(np.unravel_index(np.asarray(order), (n, n)), 1)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == n * n  # lockstep compares both flags
    assert pyenv.hits == pyenv.needed_hits and pyenv.num_steps == pyenv.max_episode_length


class _ForcedRandom:
    """Feeds popgym's `place_ship` one chosen (start, direction) try; a rejection asks again."""

    def __init__(self, start, direction):
        self.draws = [np.asarray(start), np.asarray(direction)]

    def integers(self, high, size):
        if not self.draws:
            raise _Rejected
        return self.draws.pop(0)


class _Rejected(Exception):
    pass


def popgym_accepted_boards(pyenv, board, size):
    """popgym's results of every equally likely (start, direction) try: accepted board -> tries."""
    n = pyenv.board_size
    out = Counter()
    for i in range(n):
        for j in range(n):
            for d0 in range(2):
                for d1 in range(2):
                    pyenv._np_random = _ForcedRandom((i, j), (d0, d1))
                    try:
                        out[pyenv.place_ship(board.copy(), size).tobytes()] += 1
                    except _Rejected:
                        pass
    return out


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_placement_distribution_is_exactly_popgyms(difficulty):
    """On partly filled boards (popgym's own, after 0-3 ships), each accepted popgym try
    maps to a placement the port can draw, and every placement the port draws with
    probability 1/count is reached by exactly two popgym tries: the same distribution."""
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    place_at = jax.jit(port.place_ship_at, static_argnums=1)
    rng = np.random.default_rng(0)
    for seed in range(2):
        pyenv.reset(seed=seed)
        board = np.zeros((port.board_size,) * 2, np.int8)
        for size in [2, 3, 3, 4]:
            theirs = popgym_accepted_boards(pyenv, board, size)
            count = int(port.placements(jnp.asarray(board, bool), size).sum())
            ours = Counter(
                np.asarray(place_at(jnp.asarray(board, bool), size, k)).astype(np.int8).tobytes() for k in range(count)
            )
            assert len(ours) == count and sum(theirs.values()) == 2 * count
            assert theirs == Counter({b: 2 * c for b, c in ours.items()})
            pyenv._np_random = np.random.default_rng(rng.integers(1 << 30))
            board = pyenv.place_ship(board, size)


def _ships_popgym(pyenv, boards):
    """(placement id, orientation) of each ship of `boards` popgym boards, from popgym's sampler."""
    n = pyenv.board_size
    rows = []
    for _ in range(boards):
        board = np.zeros((n, n), np.int8)
        row = []
        for size in pyenv.ship_sizes:
            new = pyenv.place_ship(board.copy(), size)
            row.append(_ship_id(new - board, n))
            board = new
        rows.append(row)
    return np.asarray(rows)


def _ship_id(ship, n):
    """A ship's tiles -> its low end and axis as one id (axis-0 ships vertical in the array)."""
    (r, c), axis = np.argwhere(ship)[0], int(np.any(ship.sum(1) > 1))
    return (axis * n + r) * n + c


def _ships_port(port, key, boards):
    def one(k):
        board = jnp.zeros((port.board_size,) * 2, bool)
        ids = []
        for kk, size in zip(jax.random.split(k, len(port.ship_sizes)), port.ship_sizes):
            new = port.place_ship(kk, board, size)
            ship = new & ~board
            n = port.board_size
            first = jnp.argmax(ship.reshape(-1))
            axis = jnp.any(ship.sum(1) > 1).astype(jnp.int32)
            ids.append(axis * n * n + first)
            board = new
        return jnp.stack(ids), board

    keys = jax.random.split(key, boards)
    ids, final = jax.jit(jax.vmap(one))(keys)
    # the port's `new_board` is this same loop
    reset = jitted(port)[0]
    for k, b in zip(keys[:4], final[:4]):
        np.testing.assert_array_equal(np.asarray(reset(k)[1].board), np.asarray(b))
    return np.asarray(ids)


def _two_sample(a, b):
    """Chi-square test that two samples of category ids come from one distribution."""
    cats = np.union1d(a, b)
    table = np.stack([np.searchsorted(cats, x)[:, None] == np.arange(len(cats)) for x in (a, b)]).sum(1)
    return stats.chi2_contingency(table).pvalue


@pytest.mark.parametrize("difficulty", ["Easy", pytest.param("Medium", marks=pytest.mark.slow), "Hard"])
def test_sampled_boards_match_popgyms_sampler(difficulty):
    """Each ship's placement and orientation, and per-tile occupancy, over boards from
    popgym's `place_ship` vs the port's: two-sample tests."""
    port, pyenv = make(f"Battleship{difficulty}"), popgym_env(f"Battleship{difficulty}")
    boards = 3000
    pyenv.reset(seed=11)
    theirs = _ships_popgym(pyenv, boards)
    ours = _ships_port(port, jax.random.key(12), boards)
    n = port.board_size
    for s in range(len(port.ship_sizes)):
        assert _two_sample(ours[:, s], theirs[:, s]) > 1e-3, f"ship {s} placement"
        assert _two_sample(ours[:, s] // (n * n), theirs[:, s] // (n * n)) > 1e-3, f"ship {s} orientation"
    # the first ship is uniform over all 2 n (n - size + 1) placements
    size = port.ship_sizes[0]
    counts = np.bincount(ours[:, 0], minlength=2 * n * n)
    allowed = np.zeros((2, n, n), bool)
    allowed[0, : n - size + 1, :] = True
    allowed[1, :, : n - size + 1] = True
    assert counts[~allowed.reshape(-1)].sum() == 0
    assert stats.chisquare(counts[allowed.reshape(-1)]).pvalue > 1e-3
    # per-tile occupancy (independent across boards): two-proportion tests, Bonferroni over tiles
    occ_py = np.zeros((n, n))
    for _ in range(boards):
        pyenv.reset()
        occ_py += pyenv.board
    occ = np.asarray(jax.jit(jax.vmap(port.new_board))(jax.random.split(jax.random.key(13), boards))).sum(0)
    p = (occ + occ_py) / (2 * boards)
    z = (occ - occ_py) / boards / np.sqrt(np.maximum(p * (1 - p) * 2 / boards, 1e-12))
    assert 2 * stats.norm.sf(np.abs(z)).min() * n * n > 1e-3
    assert occ.sum() == boards * 12


def test_autoreset_boards_are_fresh():
    port = make("BattleshipEasy")
    reset, _, autoreset = jitted(port)
    _, state = reset(jax.random.key(0))
    boards = [np.asarray(autoreset(jax.random.key(i), state, jnp.asarray(True))[1].board) for i in range(1, 20)]
    assert all(b.sum() == 12 for b in boards)
    assert len({b.tobytes() for b in boards}) == len(boards)
    _, new = autoreset(jax.random.key(1), state, jnp.asarray(True))
    assert int(new.num_steps) == 0 and int(new.hits) == 0 and not bool(new.guesses.any())
