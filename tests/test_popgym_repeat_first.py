"""RepeatFirst port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_space, jitted, lockstep, popgym_env
from scipy import stats

from benchmarks.popgym import cards, make

DIFFICULTIES = ["Easy", "Medium", "Hard"]


def injected(port, pyenv):
    """Our episode start dealing popgym's deck (popgym deals from the end of `idx`)."""
    return port.initial(cards.shoe_from_order(pyenv.deck.idx[::-1].copy()))


def record_rewards(pyenv):
    """popgym's rewards, appended as `lockstep` steps it (which checks ours equal them)."""
    rewards, step = [], pyenv.step

    def recording(action):
        out = step(action)
        rewards.append(out[1])
        return out

    pyenv.step = recording
    return rewards


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"RepeatFirst{difficulty}"), popgym_env(f"RepeatFirst{difficulty}")
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert port.max_episode_length == pyenv.max_episode_length == port.num_cards - 1
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", [0, 1])
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
    rewards = record_rewards(pyenv)
    assert lockstep(port, obs, state, pyenv, obs0, lambda t, env: int(obs0)) == port.max_episode_length
    assert sum(rewards) == pytest.approx(1.0)


def test_autoreset_decks_are_fresh_and_uniform():
    """Decks prepared by the shoe during an episode are uniform permutations (chi-square on
    where card 0 lands and on the first card's suit) and differ from the deck just played;
    the new episode's observation is its first card's suit."""
    port = make("RepeatFirstEasy")
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(state, key):
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term | trunc
        keys = jax.random.split(key, n)
        state, done = jax.lax.scan(body, state, keys[:-1])
        obs, new = autoreset(keys[-1], state, done[-1])
        return new, (jnp.argmax(new.shoe.cards == 0), jnp.all(new.shoe.cards == state.shoe.cards), done,
                     obs == cards.suit(new.shoe.cards[0]), new.dealt)

    _, state = port.reset(jax.random.key(1))
    episodes = 2_000
    _, (pos0, same, done, obs_ok, dealt) = jax.jit(
        lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes)))(state, jax.random.key(2))
    done = np.asarray(done)
    assert done[:, -1].all() and not done[:, :-1].any()  # ends exactly at max_episode_length
    assert not bool(jnp.any(same)) and bool(jnp.all(obs_ok)) and bool(jnp.all(dealt == 1))
    assert stats.chisquare(np.bincount(np.asarray(pos0), minlength=n)).pvalue > 1e-3

