"""CountRecall: say how often the queried card has been dealt so far (popgym.envs.count_recall).

Two decks play side by side: the value deck deals the card that is counted, the query deck the
card whose count is asked for. Each has its own shoe, so both next-episode decks are shuffled
with independent draws. A card is "colors", "suits" or "ranks" (`deck_type`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym import cards
from benchmarks.popgym.core import Discrete, MultiDiscrete


class State(NamedTuple):
    value_shoe: cards.Shoe
    query_shoe: cards.Shoe
    counts: jax.Array  # int32[num_distinct_cards]: value cards dealt so far, current one included
    query: jax.Array  # int32: the current query (answered at the next step)
    dealt: jax.Array  # int32: cards dealt from each deck so far


@dataclass(frozen=True)
class CountRecall:
    num_decks: int = 1
    error_clamp: float = 0.5
    """Accepted as popgym accepts it; popgym never uses it (the reward is +-1 / (n - 1))."""
    deck_type: str = "colors"
    obs_requires_prev_action: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.deck_type not in cards.ATTRIBUTES:
            raise ValueError(f"invalid deck_type {self.deck_type!r} (popgym raises NotImplementedError)")

    @property
    def num_cards(self) -> int:
        return cards.DECK_SIZE * self.num_decks

    @property
    def num_distinct_cards(self) -> int:
        return cards.ATTRIBUTES[self.deck_type][1]

    @property
    def max_card_count(self) -> int:
        return self.num_cards // self.num_distinct_cards

    @property
    def max_episode_length(self) -> int:
        return self.num_cards - 1

    @property
    def observation_space(self) -> MultiDiscrete:
        return MultiDiscrete((self.num_distinct_cards,) * 2)

    @property
    def action_space(self) -> Discrete:
        return Discrete(self.max_card_count + 1)

    def _card(self, card: jax.Array) -> jax.Array:
        return cards.ATTRIBUTES[self.deck_type][0](card).astype(jnp.int32)

    def initial(self, value_shoe: cards.Shoe, query_shoe: cards.Shoe) -> tuple[jax.Array, State]:
        """First observation [value, query] and state of an episode dealt from the two shoes."""
        value, query = self._card(value_shoe.cards[0]), self._card(query_shoe.cards[0])
        counts = jnp.zeros((self.num_distinct_cards,), jnp.int32).at[value].add(1)
        return jnp.stack([value, query]), State(value_shoe, query_shoe, counts, query, jnp.ones((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        k_value, k_query = jax.random.split(key)
        return self.initial(cards.new_shoe(k_value, self.num_cards), cards.new_shoe(k_query, self.num_cards))

    def step(
        self, key: jax.Array, state: State, action: jax.Array
    ) -> tuple[jax.Array, State, jax.Array, jax.Array, jax.Array]:
        """Reward +-1/(n-1) for the count of the previous query (the card shown with it counted),
        then both decks deal."""
        n, d = self.num_cards, state.dealt
        prev_count = state.counts[state.query]
        k_value, k_query = jax.random.split(key)
        value_shoe = cards.shuffle_step(k_value, state.value_shoe)
        query_shoe = cards.shuffle_step(k_query, state.query_shoe)
        i = jnp.minimum(d, n - 1)
        value, query = self._card(value_shoe.cards[i]), self._card(query_shoe.cards[i])
        counts = state.counts.at[value].add(1)
        scale = 1.0 / self.max_episode_length
        reward = jnp.where(action == prev_count, scale, -scale).astype(jnp.float32)
        terminated = d + 1 == n  # popgym: the value deck is empty after this deal
        obs = jnp.stack([value, query])
        return obs, State(value_shoe, query_shoe, counts, query, d + 1), reward, terminated, jnp.zeros((), bool)

    def autoreset(self, key: jax.Array, state: State, done: jax.Array) -> tuple[jax.Array, State]:
        k_value, k_query = jax.random.split(key)
        return self.initial(
            cards.next_episode(k_value, state.value_shoe, done), cards.next_episode(k_query, state.query_shoe, done)
        )
