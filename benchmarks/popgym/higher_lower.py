"""HigherLower: guess whether the next card's rank is higher or lower (popgym.envs.higher_lower).

popgym sets no `max_episode_length` on this env; an episode is always n - 1 steps (it
terminates when the deck has one card left before dealing), which is ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete


class State(NamedTuple):
    shoe: cards.Shoe
    dealt: jax.Array  # int32: cards dealt so far (the last one is the current observation)


@dataclass(frozen=True)
class HigherLower:
    num_decks: int = 1
    obs_requires_prev_action: bool = field(default=False, init=False)

    @property
    def num_cards(self) -> int:
        return cards.DECK_SIZE * self.num_decks

    @property
    def max_episode_length(self) -> int:
        return self.num_cards - 1

    @property
    def observation_space(self) -> Discrete:
        return Discrete(cards.NUM_RANKS)

    @property
    def action_space(self) -> Discrete:
        return Discrete(2)

    def initial(self, shoe: cards.Shoe) -> tuple[jax.Array, State]:
        """First observation (rank of the first card) and state of an episode dealt from `shoe`."""
        return cards.rank(shoe.cards[0]).astype(jnp.int32), State(shoe, jnp.ones((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.new_shoe(key, self.num_cards))

    def step(self, key: jax.Array, state: State,
             action: jax.Array) -> tuple[jax.Array, State, jax.Array, jax.Array, jax.Array]:
        """Action 0 guesses higher, 1 lower; +-1/n (popgym's deck size, not n - 1), 0 on equal ranks."""
        n, d = self.num_cards, state.dealt
        terminated = n - d <= 1
        shoe = cards.shuffle_step(key, state.shoe)
        curr = cards.rank(shoe.cards[jnp.minimum(d - 1, n - 1)])
        nxt = cards.rank(shoe.cards[jnp.minimum(d, n - 1)]).astype(jnp.int32)
        scale = 1.0 / n
        guess_higher = action == 0
        reward = jnp.where(nxt == curr, 0.0, jnp.where((nxt > curr) == guess_higher, scale, -scale))
        return nxt, State(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)

    def autoreset(self, key: jax.Array, state: State, done: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.next_episode(key, state.shoe, done))
