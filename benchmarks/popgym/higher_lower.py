"""HigherLower: guess whether the next card's rank is higher or lower (popgym.envs.higher_lower).

popgym sets no `max_episode_length` on this env; an episode is always n - 1 steps (it
terminates when the deck has one card left before dealing), which is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete


@dataclass(frozen=True)
class HigherLower(cards.CardGame):
    @property
    def observation_space(self) -> Discrete:
        return Discrete(cards.NUM_RANKS)

    @property
    def action_space(self) -> Discrete:
        return Discrete(2)

    def first_obs(self, card: jax.Array) -> jax.Array:
        return cards.rank(card).astype(jnp.int32)

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[jax.Array, cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """Action 0 guesses higher, 1 lower; +-1/n (popgym's deck size, not n - 1), 0 on equal ranks."""
        n, d = self.num_cards, state.dealt
        terminated = n - d <= 1
        shoe = cards.shuffle_step(key, state.shoe)
        curr = cards.rank(shoe.cards[jnp.minimum(d - 1, n - 1)])
        nxt = cards.rank(shoe.cards[jnp.minimum(d, n - 1)]).astype(jnp.int32)
        scale = 1.0 / n
        guess_higher = action == 0
        reward = jnp.where(nxt == curr, 0.0, jnp.where((nxt > curr) == guess_higher, scale, -scale))
        return nxt, cards.Dealt(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
