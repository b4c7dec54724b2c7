"""CountRecall port vs PyPI popgym: exact episodes from both injected decks, independent uniform
decks at reset and auto-reset (two shoes)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_space, jitted, lockstep, popgym_env
from scipy import stats

from benchmarks.popgym import cards, make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def injected(port, pyenv):
    """Our episode start dealing popgym's two decks (popgym deals from the end of `idx`)."""
    return port.initial(cards.shoe_from_order(pyenv.value_deck.idx[::-1].copy()),
                        cards.shoe_from_order(pyenv.query_deck.idx[::-1].copy()))


def record_rewards(pyenv):
    """popgym's rewards, appended as `lockstep` steps it (which checks ours equal them)."""
    rewards, step = [], pyenv.step

    def recording(action):
        out = step(action)
        rewards.append(out[1])
        return out

    pyenv.step = recording
    return rewards


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
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert port.max_episode_length == pyenv.max_episode_length
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action
    assert port.max_card_count == pyenv.max_card_count and port.num_distinct_cards == pyenv.num_distinct_cards


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", [0, 1])
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
    rewards = record_rewards(pyenv)
    policy = counting_policy(port.num_distinct_cards, explore=0.5, seed=3)
    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert min(rewards) < 0 < max(rewards)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_counting_policy_scores_one_on_both(difficulty):
    port, pyenv = make(f"CountRecall{difficulty}"), popgym_env(f"CountRecall{difficulty}")
    obs0, _ = pyenv.reset(seed=11)
    obs, state = injected(port, pyenv)
    rewards = record_rewards(pyenv)
    policy = counting_policy(port.num_distinct_cards)
    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(rewards) == pytest.approx(1.0)


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
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(state, key):
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term | trunc
        keys = jax.random.split(key, n)
        state, done = jax.lax.scan(body, state, keys[:-1])
        obs, new = autoreset(keys[-1], state, done[-1])
        v, q = new.value_shoe.cards, new.query_shoe.cards
        stale = (jnp.all(v == state.value_shoe.cards) | jnp.all(q == state.query_shoe.cards) | jnp.all(v == q))
        start_ok = (jnp.all(obs == jnp.stack([cards.color(v[0]), cards.color(q[0])]))
                    & jnp.all(new.counts == jax.nn.one_hot(obs[0], 2, dtype=jnp.int32)) & (new.dealt == 1))
        return new, (jnp.argmax(v == 0), jnp.argmax(q == 0), cards.suit(v[0]), cards.suit(q[0]), stale,
                     start_ok, done)

    _, state = port.reset(jax.random.key(1))
    episodes = 2_000
    _, (pos_v, pos_q, suit_v, suit_q, stale, start_ok, done) = jax.jit(
        lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes)))(state, jax.random.key(2))
    done = np.asarray(done)
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not np.any(np.asarray(stale)) and np.all(np.asarray(start_ok))
    for pos in (pos_v, pos_q):
        assert stats.chisquare(np.bincount(np.asarray(pos), minlength=n)).pvalue > 1e-3
    table = np.zeros((4, 4), np.int64)
    np.add.at(table, (np.asarray(suit_v), np.asarray(suit_q)), 1)
    assert stats.chi2_contingency(table).pvalue > 1e-3
    assert stats.pearsonr(np.asarray(pos_v), np.asarray(pos_q)).pvalue > 1e-3
