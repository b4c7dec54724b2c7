"""Autoencode port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

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


def record(pyenv):
    """popgym's (obs, reward) per step, appended as `lockstep` steps it (which checks ours equal them)."""
    steps, step = [], pyenv.step

    def recording(action):
        out = step(action)
        steps.append(out[:2])
        return out

    pyenv.step = recording
    return steps


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    port, pyenv = make(f"Autoencode{difficulty}"), popgym_env(f"Autoencode{difficulty}")
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert port.max_episode_length == pyenv.max_episode_length == 2 * port.num_cards - 1
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"Autoencode{difficulty}"), popgym_env(f"Autoencode{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    actions = np.random.default_rng(seed).integers(0, 4, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    n = port.num_cards  # the episode's shape, as popgym plays it: n - 1 watch steps, then n plays
    modes = [o[0] for o, _ in steps]
    assert modes == [1] * (n - 2) + [0] * (n + 1)
    assert all(r == 0 for _, r in steps[: n - 1]) and all(r != 0 for _, r in steps[n - 1:])


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
        watched = [obs0[1]] + [o[1] for o, _ in steps[: n - 1]]
        return int(watched[2 * n - 2 - t])

    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(r for _, r in steps) == pytest.approx(1.0)


def test_autoreset_decks_are_fresh_and_uniform():
    """The shoe's deck, ready after n - 1 of the 2n - 1 steps, is a uniform permutation
    (chi-square on where card 0 lands and on the first suit shown) and differs from the deck
    just played; the new episode starts watching its first card."""
    port = make("AutoencodeEasy")
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(state, key):
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term | trunc
        keys = jax.random.split(key, port.max_episode_length + 1)
        state, done = jax.lax.scan(body, state, keys[:-1])
        (mode, suit), new = autoreset(keys[-1], state, done[-1])
        start_ok = (mode == 1) & (suit == cards.suit(new.shoe.cards[0])) & (new.steps == 0)
        return new, (jnp.argmax(new.shoe.cards == 0), suit, jnp.all(new.shoe.cards == state.shoe.cards), start_ok,
                     done)

    _, state = port.reset(jax.random.key(1))
    episodes = 1_500
    _, (pos0, suit, same, start_ok, done) = jax.jit(
        lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes)))(state, jax.random.key(2))
    done = np.asarray(done)
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not np.any(np.asarray(same)) and np.all(np.asarray(start_ok))
    assert stats.chisquare(np.bincount(np.asarray(pos0), minlength=n)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(np.asarray(suit), minlength=4)).pvalue > 1e-3
