"""HigherLower port vs PyPI popgym: exact episodes from injected decks, uniform auto-reset decks."""

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
    """popgym sets no max_episode_length here; ours is the length its episodes always have
    (the lockstep tests check that they end there)."""
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    assert_same_space(port.observation_space, pyenv.observation_space)
    assert_same_space(port.action_space, pyenv.action_space)
    assert not hasattr(pyenv, "max_episode_length")
    assert port.max_episode_length == pyenv.deck_size - 1
    assert port.obs_requires_prev_action == pyenv.obs_requires_prev_action


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)
    actions = np.random.default_rng(seed).integers(0, 2, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    assert {np.sign(r) for _, r in steps} == {-1, 0, 1}  # wins, losses and pushes all compared


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_card_counting_policy_matches_popgym(difficulty):
    """Count the ranks seen (from the observations); guess the side with more cards left."""
    port, pyenv = make(f"HigherLower{difficulty}"), popgym_env(f"HigherLower{difficulty}")
    obs0, _ = pyenv.reset(seed=9)
    obs, state = injected(port, pyenv)
    steps = record(pyenv)

    def policy(t, env):
        seen = np.bincount([obs0] + [o for o, _ in steps], minlength=cards.NUM_RANKS)
        left = cards.NUM_SUITS * port.num_decks - seen
        cur = steps[-1][0] if steps else obs0
        return 0 if left[cur + 1:].sum() >= left[:cur].sum() else 1

    assert lockstep(port, obs, state, pyenv, obs0, policy) == port.max_episode_length
    assert sum(r for _, r in steps) > 0.2  # counting wins far more than it loses (random: 0 +- ~0.1)


def test_autoreset_decks_are_fresh_and_uniform():
    """Decks prepared by the shoe during an episode are uniform permutations (chi-square on
    where card 0 lands and on the first rank shown) and differ from the deck just played."""
    port = make("HigherLowerEasy")
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(state, key):
        def body(s, k):
            _, s, _, term, trunc = step(k, s, jnp.zeros((), jnp.int32))
            return s, term | trunc
        keys = jax.random.split(key, n)
        state, done = jax.lax.scan(body, state, keys[:-1])
        obs, new = autoreset(keys[-1], state, done[-1])
        start_ok = (obs == cards.rank(new.shoe.cards[0])) & (new.dealt == 1)
        return new, (jnp.argmax(new.shoe.cards == 0), obs, jnp.all(new.shoe.cards == state.shoe.cards), start_ok,
                     done)

    _, state = port.reset(jax.random.key(1))
    episodes = 1_500
    _, (pos0, first, same, start_ok, done) = jax.jit(
        lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes)))(state, jax.random.key(2))
    done = np.asarray(done)
    assert done[:, -1].all() and not done[:, :-1].any()
    assert not np.any(np.asarray(same)) and np.all(np.asarray(start_ok))
    assert stats.chisquare(np.bincount(np.asarray(pos0), minlength=n)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(np.asarray(first), minlength=cards.NUM_RANKS)).pvalue > 1e-3
