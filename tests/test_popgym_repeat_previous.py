"""RepeatPrevious port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import (
    assert_same_spaces_and_flags,
    dealing_order,
    episodes_with_autoreset,
    jitted,
    lockstep,
    popgym_env,
    sampled,
)
from scipy import stats

from benchmarks.popgym import make


def injected(port, pyenv):
    return port.initial(dealing_order(pyenv.deck))


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"RepeatPrevious{difficulty}"), popgym_env(f"RepeatPrevious{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"RepeatPrevious{difficulty}"), popgym_env(f"RepeatPrevious{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    actions = np.random.default_rng(seed).integers(0, 4, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == pyenv.max_episode_length


@pytest.mark.parametrize("difficulty", ["Easy", "Hard"])
def test_optimal_policy_scores_one_on_both(difficulty):
    port, pyenv = make(f"RepeatPrevious{difficulty}"), popgym_env(f"RepeatPrevious{difficulty}")
    obs0, _ = pyenv.reset(seed=7)
    obs, state = injected(port, pyenv)
    k = port.k

    def oracle(t, env):  # the suit dealt k cards before the current one
        hand = env.deck["player"]
        return int(env.deck.suits_idx[hand[-k]]) if len(hand) >= k else 0

    _, step, _ = jitted(port)
    total_py, total = 0.0, 0.0
    for t in range(port.max_episode_length):
        a = oracle(t, pyenv)
        _, r_py, *_ = pyenv.step(a)
        obs, state, r, *_ = step(jax.random.key(t), state, jnp.asarray(a))
        total_py += r_py
        total += float(r)
    assert total_py == pytest.approx(1.0) and total == pytest.approx(1.0, abs=1e-5)


def test_autoreset_decks_are_fresh_and_uniform():
    """Decks prepared by the shoe are uniform permutations: where card 0 lands is uniform
    (chi-square), and the number of cards a deck leaves where they were in the arrangement its
    shuffle started from (the deck of two episodes before) follows a uniform permutation's
    fixed-point law, about Poisson(1) (chi-square), which a Fisher-Yates that never picks some
    position would fail."""
    port = make("RepeatPreviousEasy")
    (pos0, decks, same), done = episodes_with_autoreset(
        port,
        2_000,
        lambda old, obs, new: (
            jnp.argmax(new.shoe.cards == 0),
            new.shoe.cards,
            jnp.all(new.shoe.cards == old.shoe.cards),
        ),
    )
    assert done[:, -1].all() and not same.any()
    assert stats.chisquare(np.bincount(pos0, minlength=port.num_cards)).pvalue > 1e-3
    fixed = np.sum(decks[2:] == decks[:-2], axis=1)
    observed = np.bincount(np.minimum(fixed, 3), minlength=4)
    poisson = stats.poisson(1.0)
    expected = np.array([poisson.pmf(0), poisson.pmf(1), poisson.pmf(2), poisson.sf(2)]) * len(fixed)
    assert stats.chisquare(observed, expected).pvalue > 1e-3
