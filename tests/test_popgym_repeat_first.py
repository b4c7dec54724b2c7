"""RepeatFirst port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

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
    port, pyenv = make(f"RepeatFirst{difficulty}"), popgym_env(f"RepeatFirst{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert port.max_episode_length == pyenv.max_episode_length == port.num_cards - 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"RepeatFirst{difficulty}"), popgym_env(f"RepeatFirst{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    actions = np.random.default_rng(seed).integers(0, 4, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_optimal_policy_scores_one_on_both(difficulty):
    """Always naming the first card's suit (popgym's `card`) earns exactly 1 on both."""
    port, pyenv = make(f"RepeatFirst{difficulty}"), popgym_env(f"RepeatFirst{difficulty}")
    obs0, _ = pyenv.reset(seed=7)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    assert lockstep(port, obs, state, pyenv, obs0, lambda t, env: int(obs0)) == port.max_episode_length
    assert sum(s[1] for s in steps) == pytest.approx(1.0)


def test_autoreset_decks_are_fresh_and_uniform():
    """Decks prepared by the shoe during an episode are uniform permutations (chi-square on
    where card 0 lands) and differ from the deck just played; the new episode's observation
    is its first card's suit."""
    port = make("RepeatFirstEasy")
    (pos0, same, obs_ok, dealt), done = episodes_with_autoreset(
        port,
        2_000,
        lambda old, obs, new: (
            jnp.argmax(new.shoe.cards == 0),
            jnp.all(new.shoe.cards == old.shoe.cards),
            obs == cards.suit(new.shoe.cards[0]),
            new.dealt,
        ),
    )
    assert done[:, -1].all() and not done[:, :-1].any()  # ends exactly at max_episode_length
    assert not same.any() and obs_ok.all() and (dealt == 1).all()
    assert stats.chisquare(np.bincount(pos0, minlength=port.num_cards)).pvalue > 1e-3
