"""RepeatPrevious: name the suit of the card dealt k steps ago (popgym.envs.repeat_previous)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete


@dataclass(frozen=True)
class RepeatPrevious(cards.CardGame):
    k: int = 4

    @property
    def observation_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    @property
    def action_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    def first_obs(self, card: jax.Array) -> jax.Array:
        return cards.suit(card)

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[jax.Array, cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """+-1/(n-k) for naming the suit dealt k cards before the one on show (once k are dealt)."""
        n, d = self.num_cards, state.dealt
        terminated = n - d == 1
        target = cards.suit(state.shoe.cards[jnp.maximum(d - self.k, 0)])
        scale = 1.0 / (n - self.k)
        reward = jnp.where(d >= self.k, jnp.where(action == target, scale, -scale), 0.0)
        shoe = cards.shuffle_step(key, state.shoe)
        obs = cards.suit(shoe.cards[jnp.minimum(d, n - 1)])
        return obs, cards.Dealt(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
