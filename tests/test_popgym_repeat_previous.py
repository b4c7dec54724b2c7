"""RepeatPrevious port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_space, jitted, lockstep, popgym_env
from scipy import stats

from benchmarks.popgym import cards, make


def injected(port, pyenv):
    """Our episode start dealing popgym's deck (popgym deals from the end of `idx`)."""
    return port.initial(cards.shoe_from_order(pyenv.deck.idx[::-1].copy()))


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"RepeatPrevious{difficulty}"), popgym_env(f"RepeatPrevious{difficulty}")
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert port.max_episode_length == pyenv.max_episode_length
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action


@pytest.mark.parametrize("difficulty", ["Easy", "Medium", "Hard"])
@pytest.mark.parametrize("seed", [0, 1])
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
    """Decks prepared by the shoe during an episode are uniform permutations (chi-square on
    where card 0 lands, over many episodes) and differ from the deck just played."""
    port = make("RepeatPreviousEasy")
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(carry, key):
        state = carry
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term
        keys = jax.random.split(key, n)
        state, term = jax.lax.scan(body, state, keys[:-1])
        _, new = autoreset(keys[-1], state, term[-1])
        return new, (jnp.argmax(new.shoe.cards == 0), jnp.all(new.shoe.cards == state.shoe.cards), term[-1])

    _, state = port.reset(jax.random.key(1))
    episodes = 2_000
    _, (pos0, same, ended) = jax.jit(lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes)))(
        state, jax.random.key(2))
    assert bool(jnp.all(ended)) and not bool(jnp.any(same))
    counts = np.bincount(np.asarray(pos0), minlength=n)
    assert stats.chisquare(counts).pvalue > 1e-3
