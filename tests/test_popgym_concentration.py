"""Concentration port vs PyPI popgym: exact episodes from injected layouts (random, memory, quirky and
perfect-information policies, termination on and before the truncation step), uniform layouts at
reset and auto-reset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_spaces_and_flags, jitted, lockstep, popgym_env, record
from scipy import stats

from benchmarks.popgym import cards, make

DIFFICULTIES = ["Easy", "Medium", "Hard"]
SLOW = pytest.mark.slow  # Medium steps cost ~10 ms in lockstep (104 one-hot encodes per observation)


def cases(*params, slow=()):
    """pytest params, those in `slow` marked slow."""
    return [pytest.param(*p, marks=SLOW) if p in slow else pytest.param(*p) for p in params]


def injected(port, pyenv):
    """Our episode start with popgym's layout (position i holds card `deck.idx[i]`)."""
    return port.initial(cards.shoe_from_order(pyenv.deck.idx.copy()))


def start(difficulty, seed):
    port, pyenv = make(f"Concentration{difficulty}"), popgym_env(f"Concentration{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    return port, pyenv, obs0, obs, state


def memory_policy(port, quirk_rate=0.0, seed=0):
    """Remember every value seen in the observations; flip a known partner of the pending card,
    else a known pair, else an unseen card. With `quirk_rate`, instead flip a matched card or the
    pending card again (popgym's penalty rules)."""
    known: dict[int, int] = {}
    rng = np.random.default_rng(seed)
    n = port.num_cards

    def policy(t, env):
        obs = np.asarray(env.obs)
        for i in np.flatnonzero(obs != env.facedown_card):
            known[int(i)] = int(obs[i])
        face_up = {int(i) for i in env.deck["face_up_idx"]}
        in_play = [int(i) for i in env.deck["in_play_idx"]]
        if quirk_rate and rng.random() < quirk_rate:
            choices = sorted(face_up) + in_play
            if choices:
                return int(rng.choice(choices))
        free = {i: v for i, v in known.items() if i not in face_up}
        unseen = [i for i in range(n) if i not in known]
        if in_play:
            p = in_play[0]
            partner = [i for i, v in free.items() if v == free[p] and i != p]
            return partner[0] if partner else unseen[0]
        by_value: dict[int, list[int]] = {}
        for i, v in free.items():
            by_value.setdefault(v, []).append(i)
        pairs = [ps for ps in by_value.values() if len(ps) >= 2]
        return pairs[0][0] if pairs else unseen[0]

    return policy


def perfect_schedule(port, pyenv, waste):
    """Positions to flip knowing the layout: one pair, `waste` flips of a matched card, the other pairs."""
    values = pyenv.deck_idx_type[pyenv.deck.idx]
    order = [int(i) for i in np.argsort(values, kind="stable")]  # equal values adjacent, in even runs
    return order[:2] + [order[0]] * waste + order[2:]


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_spaces_and_length(difficulty):
    """popgym has no max_episode_length attribute here; ours is its `episode_length`."""
    port, pyenv = make(f"Concentration{difficulty}"), popgym_env(f"Concentration{difficulty}")
    assert_same_spaces_and_flags(port, pyenv)
    assert not hasattr(pyenv, "max_episode_length")
    assert port.max_episode_length == pyenv.episode_length == {"Easy": 104, "Medium": 208, "Hard": 104}[difficulty]
    assert port.facedown_card == pyenv.facedown_card


@pytest.mark.parametrize(
    "difficulty,seed", cases(*[(d, s) for d in DIFFICULTIES for s in (0, 1, 2)], slow=[("Medium", 1), ("Medium", 2)])
)
def test_random_actions_match_popgym(difficulty, seed):
    port, pyenv, obs0, obs, state = start(difficulty, seed)
    steps = record(pyenv)
    actions = np.random.default_rng(seed).integers(0, port.num_cards, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) == port.max_episode_length
    assert steps[-1][3] and not any(s[3] for s in steps[:-1])


@pytest.mark.parametrize(
    "difficulty,seed", cases(*[(d, s) for d in DIFFICULTIES for s in (3, 4)], slow=[("Medium", 4)])
)
def test_memory_policy_matches_popgym(difficulty, seed):
    """A player with perfect memory clears the table before truncation (early termination)."""
    port, pyenv, obs0, obs, state = start(difficulty, seed)
    steps = record(pyenv)
    n = lockstep(port, obs, state, pyenv, obs0, memory_policy(port))
    success = 1 / (port.num_cards // 2)
    assert sum(r == success for _, r, _, _ in steps) >= port.num_cards // 4  # it finds many pairs
    assert steps[-1][2] and n < port.max_episode_length


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_quirky_policy_matches_popgym(difficulty):
    """Flipping matched cards (as first and as second card) and the pending card again."""
    port, pyenv, obs0, obs, state = start(difficulty, 11)
    steps = record(pyenv)
    lockstep(port, obs, state, pyenv, obs0, memory_policy(port, quirk_rate=0.3, seed=11))
    fail = -1 / port.episode_length
    rewards = {round(r / fail, 6) for _, r, _, _ in steps if r < 0}
    assert rewards == {1.0, 2.0}
    assert any(r > 0 for _, r, _, _ in steps)


@pytest.mark.parametrize(
    "difficulty,late", cases(*[(d, x) for d in DIFFICULTIES for x in (0, 1)], slow=[("Medium", 0)])
)
def test_termination_at_and_before_truncation(difficulty, late):
    """Knowing the layout, finish on the last step (terminated and truncated) or one step before."""
    port, pyenv, obs0, obs, state = start(difficulty, 20 + late)
    steps = record(pyenv)
    waste = port.episode_length - port.num_cards - 1 + late
    schedule = perfect_schedule(port, pyenv, waste)
    n = lockstep(port, obs, state, pyenv, obs0, schedule)
    assert n == port.episode_length - 1 + late
    assert steps[-1][2] and steps[-1][3] == bool(late)


def test_reset_layout_is_uniform():
    port = make("ConcentrationEasy")
    reset, _, _ = jitted(port)
    obs, state = jax.vmap(reset)(jax.random.split(jax.random.key(0), 5_000))
    assert bool(jnp.all(obs == port.facedown_card)) and bool(jnp.all(state.pending == -1))
    layout = np.asarray(state.shoe.cards)
    assert (np.sort(layout, axis=1) == np.arange(port.num_cards)).all()
    assert stats.chisquare(np.bincount(np.argmax(layout == 0, axis=1), minlength=port.num_cards)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(layout[:, 0], minlength=port.num_cards)).pvalue > 1e-3


@pytest.mark.parametrize("difficulty", ["Easy", "Hard"])
def test_autoreset_after_early_termination_is_fresh_and_uniform(difficulty):
    """Perfect-information episodes end after n steps (before truncation); the next layout is a
    uniform permutation, different from the one played, and the episode starts afresh."""
    port = make(f"Concentration{difficulty}")
    n = port.num_cards
    _, step, autoreset = jitted(port)

    def episode(state, key):
        order = jnp.argsort(port.value(state.shoe.cards), stable=True).astype(jnp.int32)

        def body(s, x):
            k, a = x
            _, s, r, term, trunc = step(k, s, a)
            return s, (term, trunc, r)

        keys = jax.random.split(key, n + 1)
        end, (term, trunc, r) = jax.lax.scan(body, state, (keys[:-1], order))
        obs, new = autoreset(keys[-1], end, term[-1])
        fresh = (
            jnp.all(obs == port.facedown_card)
            & (new.pending == -1)
            & (new.curr_step == 0)
            & (new.matched == 0)
            & ~jnp.any(new.face_up)
        )
        return new, (
            jnp.argmax(new.shoe.cards == 0),
            jnp.all(new.shoe.cards == end.shoe.cards),
            fresh,
            term,
            trunc,
            r.sum(),
        )

    _, state = port.reset(jax.random.key(1))
    episodes = 1_500
    _, (pos0, same, fresh, term, trunc, ret) = jax.jit(
        lambda s, k: jax.lax.scan(episode, s, jax.random.split(k, episodes))
    )(state, jax.random.key(2))
    term = np.asarray(term)
    assert term[:, -1].all() and not term[:, :-1].any() and not np.asarray(trunc).any()
    np.testing.assert_allclose(np.asarray(ret), 1.0, atol=1e-5)
    assert not np.asarray(same).any() and np.asarray(fresh).all()
    assert stats.chisquare(np.bincount(np.asarray(pos0), minlength=n)).pvalue > 1e-3
