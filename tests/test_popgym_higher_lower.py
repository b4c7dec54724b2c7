"""HigherLower port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

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
    """popgym sets no max_episode_length here; ours is the length its episodes always have
    (the lockstep tests check that they end there)."""
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert not hasattr(pyenv, "max_episode_length")
    assert port.max_episode_length == pyenv.deck_size - 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    actions = np.random.default_rng(seed).integers(0, 2, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    assert {np.sign(r) for _, r, *_ in steps} == {-1, 0, 1}  # wins, losses and pushes all compared


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_card_counting_policy_matches_popgym(difficulty):
    """Count the ranks seen (from the observations); guess the side with more cards left."""
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    obs0, _ = pyenv.reset(seed=9)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)

    def policy(t, env):
        seen = np.bincount([obs0] + [o for o, *_ in steps], minlength=cards.NUM_RANKS)
        left = cards.NUM_SUITS * port.num_decks - seen
        cur = steps[-1][0] if steps else obs0
        return 0 if left[cur + 1 :].sum() >= left[:cur].sum() else 1

    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(r for _, r, *_ in steps) > 0.2  # counting wins far more than it loses (random: 0 +- ~0.1)


def test_autoreset_decks_are_fresh_and_uniform():
    """Decks prepared by the shoe during an episode are uniform permutations (chi-square on
    where card 0 lands and on the first rank shown) and differ from the deck just played."""
    port = make("HigherLowerEasy")
    (pos0, first, same, start_ok), done = episodes_with_autoreset(
        port,
        1_500,
        lambda old, obs, new: (
            jnp.argmax(new.shoe.cards == 0),
            obs,
            jnp.all(new.shoe.cards == old.shoe.cards),
            (obs == cards.rank(new.shoe.cards[0])) & (new.dealt == 1),
        ),
    )
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not same.any() and start_ok.all()
    assert stats.chisquare(np.bincount(pos0, minlength=port.num_cards)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(first, minlength=cards.NUM_RANKS)).pvalue > 1e-3
