"""RepeatFirst: name the suit of the episode's first card at every step (popgym.envs.repeat_first)."""

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
class RepeatFirst:
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
        return Discrete(cards.NUM_SUITS)

    @property
    def action_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    def initial(self, shoe: cards.Shoe) -> tuple[jax.Array, State]:
        """First observation (the card to repeat) and state of an episode dealt from `shoe`."""
        return cards.suit(shoe.cards[0]), State(shoe, jnp.ones((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.new_shoe(key, self.num_cards))

    def step(self, key: jax.Array, state: State,
             action: jax.Array) -> tuple[jax.Array, State, jax.Array, jax.Array, jax.Array]:
        """Reward +-1/(n-1) for naming the first card's suit; the next card is dealt and shown."""
        n, d = self.num_cards, state.dealt
        terminated = n - d == 1  # popgym checks the deck before dealing: one card left
        scale = 1.0 / (n - 1)
        reward = jnp.where(action == cards.suit(state.shoe.cards[0]), scale, -scale)
        shoe = cards.shuffle_step(key, state.shoe)
        obs = cards.suit(shoe.cards[jnp.minimum(d, n - 1)])
        return obs, State(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)

    def autoreset(self, key: jax.Array, state: State, done: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.next_episode(key, state.shoe, done))
