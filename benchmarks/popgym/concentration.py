"""Concentration: flip two face-down cards per turn, keep them up if they match (popgym.envs.concentration).

One step flips one card, so a turn is two steps. The cards lie in a shuffled layout: position
`i` holds card `layout[i]`, which is popgym's `deck.idx` (nothing is dealt in this game, so
the layout is the shoe's deck as it is, not reversed like a dealing order). What matches is a
card's colour (Easy, Medium) or rank (Hard).

popgym's rules, kept exactly:
- The observation shows every matched card and the cards flipped this turn, including the
  second one, before a non-matching pair is turned back down; other cards show `facedown`
  (the number of distinct values).
- Flipping a card that is already matched costs `-1/episode_length` per card in play (so -1x
  as a first flip, -2x as a second) and ends the turn.
- Flipping the same position twice in a turn is a mismatch (-2x), not a match.
- A match pays `1 / (num_cards // 2)`; the episode terminates when every card is matched.
- `episode_length = ceil(2n - n / (2n - 1))` with n the number of cards (the formula for a
  perfect player's expected turns, applied to cards and counted in steps), and the step
  that starts at `curr_step >= episode_length - 1` is truncated, so truncation comes on the
  `episode_length`-th step, possibly together with termination. popgym sets no
  `max_episode_length` attribute on this env; ours is `episode_length`.

Auto-reset uses the shoe: the next layout is shuffled one swap per step. An episode cannot
end before every card has been flipped (n steps or more), so the next layout is always ready
and `next_episode` never loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete, MultiDiscrete


class State(NamedTuple):
    shoe: cards.Shoe  # shoe.cards is the layout: position -> card id
    face_up: jax.Array  # bool[n]: matched cards (popgym's face_up_idx)
    pending: jax.Array  # int32: position flipped first this turn, -1 when none (popgym's in_play_idx)
    matched: jax.Array  # int32: number of matched cards
    curr_step: jax.Array  # int32: steps taken this episode


@dataclass(frozen=True)
class Concentration:
    num_decks: int = 1
    deck_type: str = "ranks"
    obs_requires_prev_action: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if self.deck_type not in ("colors", "ranks"):
            raise ValueError(f"invalid deck_type {self.deck_type!r} (popgym raises NotImplementedError)")

    @property
    def num_cards(self) -> int:
        return cards.DECK_SIZE * self.num_decks

    @property
    def episode_length(self) -> int:
        n = self.num_cards
        return math.ceil(2 * n - (n / (2 * n - 1)))

    @property
    def max_episode_length(self) -> int:
        return self.episode_length

    @property
    def facedown_card(self) -> int:
        """Observation value of a face-down card: the number of distinct card values."""
        return cards.ATTRIBUTES[self.deck_type][1]

    @property
    def observation_space(self) -> MultiDiscrete:
        return MultiDiscrete((self.facedown_card + 1,) * self.num_cards)

    @property
    def action_space(self) -> Discrete:
        return Discrete(self.num_cards)

    def value(self, card: jax.Array) -> jax.Array:
        """What is matched: a card's colour or rank."""
        return cards.ATTRIBUTES[self.deck_type][0](card).astype(jnp.int32)

    def initial(self, shoe: cards.Shoe) -> tuple[jax.Array, State]:
        """First observation (all face down) and state of an episode laid out as `shoe.cards`."""
        n = self.num_cards
        obs = jnp.full((n,), self.facedown_card, jnp.int32)
        zero = jnp.zeros((), jnp.int32)
        return obs, State(shoe, jnp.zeros((n,), bool), zero - 1, zero, zero)

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.new_shoe(key, self.num_cards))

    def step(self, key: jax.Array, state: State, action: jax.Array):
        """Flip the card at position `action` (see the module docstring for popgym's rules)."""
        n = self.num_cards
        success = 1.0 / (n // 2)
        failure = -1.0 / self.episode_length
        layout = state.shoe.cards
        values = self.value(layout)
        pos = jnp.arange(n)
        action = jnp.asarray(action, jnp.int32)
        pending = state.pending
        truncated = state.curr_step >= self.episode_length - 1

        has_pending = pending >= 0
        shown = state.face_up | (pos == pending) | (pos == action)
        obs = jnp.where(shown, values, self.facedown_card).astype(jnp.int32)

        already_up = state.face_up[action]
        second = has_pending & ~already_up
        match = second & (values[pending] == values[action]) & (pending != action)
        reward = jnp.where(
            already_up,
            jnp.where(has_pending, 2 * failure, failure),
            jnp.where(second, jnp.where(match, success, 2 * failure), 0.0),
        )

        face_up = state.face_up | (match & ((pos == action) | (pos == pending)))
        matched = state.matched + 2 * match.astype(jnp.int32)
        terminated = match & (matched == n)
        new_pending = jnp.where(already_up | second, -1, action)
        shoe = cards.shuffle_step(key, state.shoe)
        new = State(shoe, face_up, new_pending.astype(jnp.int32), matched, state.curr_step + 1)
        return obs, new, reward.astype(jnp.float32), terminated, truncated

    def autoreset(self, key: jax.Array, state: State, done: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(cards.next_episode(key, state.shoe, done))
