"""Autoencode port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import (
    assert_same_spaces_and_flags,
    dealing_order,
    episodes_with_autoreset,
    lockstep,
    popgym_env,
    record,
    sampled,
)
from scipy import stats

from benchmarks.popgym import cards, make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def injected(port, pyenv):
    return port.initial(dealing_order(pyenv.deck))


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"Autoencode{difficulty}"), popgym_env(f"Autoencode{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert port.max_episode_length == pyenv.max_episode_length == 2 * port.num_cards - 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"Autoencode{difficulty}"), popgym_env(f"Autoencode{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    actions = np.random.default_rng(seed).integers(0, 4, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    n = port.num_cards  # the episode's shape, as popgym plays it: n - 1 watch steps, then n plays
    modes = [o[0] for o, *_ in steps]
    assert modes == [1] * (n - 2) + [0] * (n + 1)
    assert all(r == 0 for _, r, *_ in steps[: n - 1]) and all(r != 0 for _, r, *_ in steps[n - 1 :])


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_playing_back_in_reverse_scores_one_on_both(difficulty):
    """Remember the watched suits (from the observations), recite them last first: return 1."""
    port, pyenv = make(f"Autoencode{difficulty}"), popgym_env(f"Autoencode{difficulty}")
    obs0, _ = pyenv.reset(seed=5)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    n = port.num_cards
    rng = np.random.default_rng(5)

    def policy(t, env):
        if t < n - 1:  # watching: the action is ignored
            return int(rng.integers(0, 4))
        watched = [obs0[1]] + [o[1] for o, *_ in steps[: n - 1]]
        return int(watched[2 * n - 2 - t])

    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(r for _, r, *_ in steps) == pytest.approx(1.0)


def test_autoreset_decks_are_fresh_and_uniform():
    """The shoe's deck, ready after n - 1 of the 2n - 1 steps, is a uniform permutation
    (chi-square on where card 0 lands and on the first suit shown) and differs from the deck
    just played; the new episode starts watching its first card."""
    port = make("AutoencodeEasy")

    def summary(old, obs, new):
        mode, suit = obs
        start_ok = (mode == 1) & (suit == cards.suit(new.shoe.cards[0])) & (new.dealt == 1)
        return jnp.argmax(new.shoe.cards == 0), suit, jnp.all(new.shoe.cards == old.shoe.cards), start_ok

    (pos0, suit, same, start_ok), done = episodes_with_autoreset(port, 1_500, summary)
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not same.any() and start_ok.all()
    assert stats.chisquare(np.bincount(pos0, minlength=port.num_cards)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(suit, minlength=4)).pvalue > 1e-3
