"""Autoencode: watch a deck's suits, then play them back in reverse order (popgym.envs.autoencode).

An episode of n cards is 2n - 1 steps: n - 1 watch steps deal the remaining cards (the step
that deals the last card already shows the play mode), then n play steps recite them last
card first. The shoe needs only n - 1 swaps to prepare the next deck, so it is always ready.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete, TupleSpace

PLAY, WATCH = 0, 1  # popgym's Mode


@dataclass(frozen=True)
class Autoencode(cards.CardGame):
    @property
    def max_episode_length(self) -> int:
        return 2 * self.num_cards - 1

    @property
    def observation_space(self) -> TupleSpace:
        return TupleSpace((Discrete(2), Discrete(cards.NUM_SUITS)))

    @property
    def action_space(self) -> Discrete:
        return Discrete(cards.NUM_SUITS)

    def first_obs(self, card: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Watch mode, first suit."""
        return jnp.asarray(WATCH, jnp.int32), cards.suit(card).astype(jnp.int32)

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """Watch: deal and show the next suit, no reward. Play: +-1/n for the suit of the latest
        unrecited card; the observation is (play, suit of card id 0) = (0, 0) as in popgym."""
        n, t = self.num_cards, state.dealt - 1  # t: steps taken (`dealt` keeps counting in play mode)
        watching = t < n - 1
        shoe = cards.shuffle_step(key, state.shoe)
        dealt = shoe.cards[jnp.minimum(t + 1, n - 1)]
        mode = jnp.where(watching & (t + 2 < n), WATCH, PLAY).astype(jnp.int32)
        suit = jnp.where(watching, cards.suit(dealt), 0).astype(jnp.int32)
        correct = cards.suit(shoe.cards[jnp.clip(2 * n - 2 - t, 0, n - 1)])
        scale = 1.0 / n
        reward = jnp.where(watching, 0.0, jnp.where(action == correct, scale, -scale)).astype(jnp.float32)
        terminated = t == 2 * n - 2  # popgym: one card left to recite before this step
        return (mode, suit), cards.Dealt(shoe, t + 2), reward, terminated, jnp.zeros((), bool)
