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


@dataclass(frozen=True)
class RepeatFirstPopjym(RepeatFirst):
    """popjym's RepeatFirst (`popgym_repeat_first.py`, `step_env`), which the paper ran.

    popjym gives the last card a step of its own: an episode runs `num_cards` steps (popgym:
    one fewer) at the same +-1/(n-1) per step, so the best return is n/(n-1) (52/51 on Easy)
    and returns can leave [-1, 1]. On its last step popjym shows the first card again
    (`cards[timestep % n]`); that observation is never acted on.
    """

    @property
    def max_episode_length(self) -> int:
        return self.num_cards

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[jax.Array, cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """Reward +-1/(n-1) for naming the first card's suit, for all n cards; ends after the last one."""
        n, d = self.num_cards, state.dealt
        terminated = d == n  # popjym: the step after the last card's is the n-th
        scale = 1.0 / (n - 1)
        reward = jnp.where(action == cards.suit(state.shoe.cards[0]), scale, -scale)
        shoe = cards.shuffle_step(key, state.shoe)
        obs = cards.suit(shoe.cards[d % n])
        return obs, cards.Dealt(shoe, d + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
