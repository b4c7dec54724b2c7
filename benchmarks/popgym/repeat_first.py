"""RepeatFirst: name the suit of the episode's first card at every step (popgym.envs.repeat_first)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete


@dataclass(frozen=True)
class RepeatFirst(cards.CardGame):
    @property
    def observation_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    @property
    def action_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    def first_obs(self, card: jax.Array) -> jax.Array:
        """The card to repeat for the whole episode."""
        return cards.suit(card)

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[jax.Array, cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """Reward +-1/(n-1) for naming the first card's suit; the next card is dealt and shown."""
        n, d = self.num_cards, state.dealt
        terminated = n - d == 1  # popgym checks the deck before dealing: one card left
        scale = 1.0 / (n - 1)
        reward = jnp.where(action == cards.suit(state.shoe.cards[0]), scale, -scale)
        shoe = cards.shuffle_step(key, state.shoe)
        obs = cards.suit(shoe.cards[jnp.minimum(d, n - 1)])
        return obs, cards.Dealt(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
