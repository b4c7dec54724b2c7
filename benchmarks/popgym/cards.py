"""Decks of cards laid out like popgym's `Deck`, and a shoe that shuffles the next deck as it plays.

Card ids follow `popgym.core.deck.Deck` with `num_decks` decks: id `c` in [0, 52 * num_decks)
has rank `(c % 52) // 4` (a, 2, ..., k), suit `c % 4` (s, d, c, h) and colour `c % 2` (b, r).
popgym deals from the end of its shuffled `idx`; we store decks in dealing order, so
popgym's deck `idx` is our `idx[::-1]`.

Why a shoe: an auto-resetting env that is vmapped evaluates its reset at every step, and a
fresh `jax.random.permutation` of an 832-card deck (popgym's RepeatFirstHard) is costly on CPU
(docs/performance.md, "popgym", has the measured cost).
The shoe keeps the next episode's deck and applies one Fisher-Yates swap to it per step;
card games deal one card per step, so the deck is fully shuffled by the time it is needed.
Where an episode ends early (a short episode cap), `next_episode` finishes the shuffle in a
`while_loop` that runs no iteration when every deck is ready. A Fisher-Yates shuffle of any
starting order with fresh randomness is uniform and independent of that order, so reusing
the finished deck as the starting order costs nothing in randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

DECK_SIZE = 52
NUM_RANKS, NUM_SUITS, NUM_COLORS = 13, 4, 2


def suit(card: jax.Array) -> jax.Array:
    return card % NUM_SUITS


def rank(card: jax.Array) -> jax.Array:
    return (card % DECK_SIZE) // NUM_SUITS


def color(card: jax.Array) -> jax.Array:
    return card % NUM_COLORS


ATTRIBUTES = {"suits": (suit, NUM_SUITS), "ranks": (rank, NUM_RANKS), "colors": (color, NUM_COLORS)}
"""popgym's deck field names -> (card id -> index, number of distinct values)."""


class Shoe(NamedTuple):
    cards: jax.Array  # int32[n]: this episode's deck in dealing order
    next_cards: jax.Array  # int32[n]: next episode's deck, being shuffled
    shuffled: jax.Array  # int32: Fisher-Yates swaps applied to next_cards (complete at n - 1)


def new_shoe(key: jax.Array, num_cards: int) -> Shoe:
    """Two independently shuffled decks (the reset of a first episode)."""
    k1, k2 = jax.random.split(key)
    perm = lambda k: jax.random.permutation(k, num_cards).astype(jnp.int32)
    return Shoe(perm(k1), perm(k2), jnp.asarray(num_cards - 1, jnp.int32))


def shoe_from_order(cards: jax.Array) -> Shoe:
    """A shoe dealing exactly `cards` (state injection in tests)."""
    cards = jnp.asarray(cards, jnp.int32)
    return Shoe(cards, cards, jnp.asarray(cards.shape[0] - 1, jnp.int32))


def shuffle_step(key: jax.Array, shoe: Shoe) -> Shoe:
    """One Fisher-Yates swap on the next deck (nothing once it is complete)."""
    n = shoe.next_cards.shape[0]
    i = shoe.shuffled
    j = jax.random.randint(key, (), i, n)
    nxt = shoe.next_cards
    swapped = nxt.at[i].set(nxt[j]).at[j].set(nxt[i])
    ready = i >= n - 1
    return Shoe(shoe.cards, jnp.where(ready, nxt, swapped), jnp.where(ready, i, i + 1))


def next_episode(key: jax.Array, shoe: Shoe, done: jax.Array) -> Shoe:
    """Where `done`, deal from the prepared deck; the one just played starts the next shuffle."""
    n = shoe.next_cards.shape[0]

    def unfinished(s: Shoe) -> jax.Array:
        return jnp.logical_and(done, s.shuffled < n - 1)

    shoe = jax.lax.while_loop(unfinished, lambda s: shuffle_step(jax.random.fold_in(key, s.shuffled), s), shoe)
    started = Shoe(shoe.next_cards, shoe.cards, jnp.zeros((), jnp.int32))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), started, shoe)


class Dealt(NamedTuple):
    shoe: Shoe
    dealt: jax.Array  # int32: cards dealt this episode (1 at the start; the last one is on show)


@dataclass(frozen=True)
class CardGame:
    """Base of the games that deal one card per step from one shoe of `num_decks` decks
    (RepeatPrevious, RepeatFirst, HigherLower, Autoencode): the deck bookkeeping, reset and
    auto-reset live here once; a game adds its spaces, `first_obs` and `step`."""

    num_decks: int = 1
    obs_requires_prev_action: bool = field(default=False, init=False)

    @property
    def num_cards(self) -> int:
        return DECK_SIZE * self.num_decks

    @property
    def max_episode_length(self) -> int:
        return self.num_cards - 1

    def first_obs(self, card: jax.Array) -> Any:
        """The observation showing an episode's first card."""
        raise NotImplementedError

    def initial(self, shoe: Shoe) -> tuple[Any, Dealt]:
        """First observation and state of an episode dealt from `shoe` (tests inject popgym's deck)."""
        return self.first_obs(shoe.cards[0]), Dealt(shoe, jnp.ones((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[Any, Dealt]:
        return self.initial(new_shoe(key, self.num_cards))

    def autoreset(self, key: jax.Array, state: Dealt, done: jax.Array) -> tuple[Any, Dealt]:
        return self.initial(next_episode(key, state.shoe, done))
