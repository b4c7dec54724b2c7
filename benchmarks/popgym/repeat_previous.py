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


@dataclass(frozen=True)
class RepeatPreviousPopjym(RepeatPrevious):
    """popjym's RepeatPrevious (`popgym_repeat_previous.py`, `step_env`), which the paper ran.

    popjym counts steps from the card on show: at step t it shows card t and rewards naming
    card t - k, i.e. the card k observations back (popgym: k - 1 back, because its count starts
    at the first card dealt). It also gives the last card a step of its own, so an episode runs
    `num_cards` steps (popgym: one fewer), the first k of them unrewarded. The rewarded steps
    and their scale +-1/(n-k) are the same, so returns still lie in [-1, 1].
    """

    @property
    def max_episode_length(self) -> int:
        return self.num_cards

    def step(
        self, key: jax.Array, state: cards.Dealt, action: jax.Array
    ) -> tuple[jax.Array, cards.Dealt, jax.Array, jax.Array, jax.Array]:
        """+-1/(n-k) for naming the suit k cards before the one on show; the episode ends after the last card."""
        n, t = self.num_cards, state.dealt - 1  # popjym's timestep: the index of the card on show
        terminated = t + 1 == n
        target = cards.suit(state.shoe.cards[jnp.maximum(t - self.k, 0)])
        scale = 1.0 / (n - self.k)
        reward = jnp.where(t >= self.k, jnp.where(action == target, scale, -scale), 0.0)
        shoe = cards.shuffle_step(key, state.shoe)
        obs = cards.suit(shoe.cards[jnp.minimum(t + 1, n - 1)])  # popjym's gather clamps past the deck
        return obs, cards.Dealt(shoe, state.dealt + 1), reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
