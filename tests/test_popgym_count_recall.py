"""CountRecall port vs PyPI popgym: exact episodes from both injected decks, independent uniform
decks at reset and auto-reset (two shoes)."""

import jax
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
    """Our episode start dealing popgym's two decks (popgym deals from the end of `idx`)."""
    return port.initial(dealing_order(pyenv.value_deck), dealing_order(pyenv.query_deck))


def counting_policy(num_distinct, explore=0.0, seed=0):
    """Answers the count of the queried card among the value cards observed so far (the one
    shown with the query included), from popgym's last observation only; with probability
    `explore` a uniformly random answer instead."""
    counts = np.zeros(num_distinct, np.int64)
    rng = np.random.default_rng(seed)

    def act(t, env):
        value, query = env.last_obs
        counts[value] += 1
        if rng.random() < explore:
            return int(rng.integers(0, env.action_space.n))
        return int(counts[query])

    return act


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"CountRecall{difficulty}"), popgym_env(f"CountRecall{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert port.max_card_count == pyenv.max_card_count and port.num_distinct_cards == pyenv.num_distinct_cards


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"CountRecall{difficulty}"), popgym_env(f"CountRecall{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    actions = np.random.default_rng(seed).integers(0, port.max_card_count + 1, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_half_right_answers_match_popgym(difficulty):
    """Both reward signs, often: the counting policy half of the time, random answers otherwise."""
    port, pyenv = make(f"CountRecall{difficulty}"), popgym_env(f"CountRecall{difficulty}")
    obs0, _ = pyenv.reset(seed=3)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    policy = counting_policy(port.num_distinct_cards, explore=0.5, seed=3)
    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert min(s[1] for s in steps) < 0 < max(s[1] for s in steps)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_counting_policy_scores_one_on_both(difficulty):
    port, pyenv = make(f"CountRecall{difficulty}"), popgym_env(f"CountRecall{difficulty}")
    obs0, _ = pyenv.reset(seed=11)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    policy = counting_policy(port.num_distinct_cards)
    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(s[1] for s in steps) == pytest.approx(1.0)


def test_reset_decks_uniform_and_independent():
    """`reset` shuffles the value and the query deck with independent draws: the first value and
    query suits are uniform and independent (chi-square), and the decks never coincide."""
    port = make("CountRecallMedium")  # suits
    obs, state = jax.jit(jax.vmap(port.reset))(jax.random.split(jax.random.key(0), 4_000))
    obs = np.asarray(obs)
    table = np.zeros((4, 4), np.int64)
    np.add.at(table, (obs[:, 0], obs[:, 1]), 1)
    assert stats.chi2_contingency(table).pvalue > 1e-3
    assert stats.chisquare(table.sum(0)).pvalue > 1e-3 and stats.chisquare(table.sum(1)).pvalue > 1e-3
    assert not np.any(np.all(np.asarray(state.value_shoe.cards) == np.asarray(state.query_shoe.cards), axis=1))


def test_autoreset_decks_are_fresh_uniform_and_independent():
    """Both shoes prepare uniform decks during the episode (where card 0 lands, chi-square), fresh
    (neither equals a deck just played), and independent of each other (first suits, chi-square
    contingency); the new episode starts with its counts at the first value card."""
    port = make("CountRecallEasy")

    def summary(old, obs, new):
        v, q = new.value_shoe.cards, new.query_shoe.cards
        stale = jnp.all(v == old.value_shoe.cards) | jnp.all(q == old.query_shoe.cards) | jnp.all(v == q)
        start_ok = (
            jnp.all(obs == jnp.stack([cards.color(v[0]), cards.color(q[0])]))
            & jnp.all(new.counts == jax.nn.one_hot(obs[0], 2, dtype=jnp.int32))
            & (new.dealt == 1)
        )
        return jnp.argmax(v == 0), jnp.argmax(q == 0), cards.suit(v[0]), cards.suit(q[0]), stale, start_ok

    (pos_v, pos_q, suit_v, suit_q, stale, start_ok), done = episodes_with_autoreset(port, 2_000, summary)
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not stale.any() and start_ok.all()
    for pos in (pos_v, pos_q):
        assert stats.chisquare(np.bincount(pos, minlength=port.num_cards)).pvalue > 1e-3
    table = np.zeros((4, 4), np.int64)
    np.add.at(table, (suit_v, suit_q), 1)
    assert stats.chi2_contingency(table).pvalue > 1e-3
    assert stats.pearsonr(pos_v, pos_q).pvalue > 1e-3
