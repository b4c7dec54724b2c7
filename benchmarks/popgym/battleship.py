"""Battleship on a hidden board: fire at a tile, see only hit or miss (popgym.envs.battleship).

popgym places each ship by rejection sampling (`Battleship.place_ship`): draw a start tile
uniformly, an axis and a sign uniformly, and retry while the ship leaves the board or
overlaps a ship already placed. Every (start, axis, sign) triple is equally likely on each
try, so an accepted placement is uniform over the valid triples. Each placed segment of
length L on a given axis is reached from exactly two triples (from its low end with sign +,
from its high end with sign -; for L = 1 the two signs of the same start), and both are
valid or invalid together, so uniform over valid triples is uniform over valid
(axis, low end) pairs. We enumerate those pairs (2 n^2 at most) and pick one uniformly:
the same distribution with no loop, cheap enough to reset every step under `vmap`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.core import Discrete, MultiDiscrete, ResetEachEpisode


class State(NamedTuple):
    board: jax.Array  # bool[n, n]: ship tiles
    guesses: jax.Array  # bool[n, n]: tiles fired at
    hits: jax.Array  # int32: ship tiles hit (each counted once)
    num_steps: jax.Array  # int32


@dataclass(frozen=True)
class Battleship(ResetEachEpisode):
    board_size: int = 10
    ship_sizes: tuple[int, ...] = (2, 3, 3, 4)
    obs_requires_prev_action: bool = field(default=True, init=False)

    @property
    def max_episode_length(self) -> int:
        return self.board_size**2

    @property
    def needed_hits(self) -> int:
        return sum(self.ship_sizes)

    @property
    def observation_space(self) -> Discrete:
        return Discrete(2)

    @property
    def action_space(self) -> MultiDiscrete:
        return MultiDiscrete((self.board_size, self.board_size))

    def placements(self, board: jax.Array, ship_size: int) -> jax.Array:
        """bool[2 (n - size + 1), n]: which (axis, low end) placements of a ship are on the board
        and empty. Row i < n - size + 1 holds axis-0 ships from row i (one per column); the
        rest axis-1 ships from column i - (n - size + 1) (one per row)."""
        n, size = self.board_size, ship_size
        empty = ~board
        free0 = jnp.ones((n - size + 1, n), bool)
        free1 = jnp.ones((n - size + 1, n), bool)
        for s in range(size):
            free0 = free0 & empty[s : n - size + 1 + s, :]
            free1 = free1 & empty.T[s : n - size + 1 + s, :]
        return jnp.concatenate([free0, free1])

    def place_ship_at(self, board: jax.Array, ship_size: int, k: jax.Array) -> jax.Array:
        """`board` with a ship at the k-th valid placement (row-major in `placements`)."""
        n, size = self.board_size, ship_size
        valid = self.placements(board, size)
        # first the row holding the k-th valid entry, then its column (cumulative sums of a
        # few dozen entries: one over the whole table is slow on CPU)
        per_row = jnp.sum(valid, 1, dtype=jnp.int32)
        before = jnp.cumsum(per_row) - per_row
        row = jnp.sum(before <= k) - 1  # the last row starting at or before k: never an empty one
        col = jnp.argmax(jnp.cumsum(valid[row].astype(jnp.int32)) > k - before[row])
        along0 = row < n - size + 1
        i = jnp.where(along0, row, row - (n - size + 1))
        r, c = jnp.where(along0, i, col), jnp.where(along0, col, i)
        rows, cols = jnp.arange(n)[:, None], jnp.arange(n)[None, :]
        rows_end = r + jnp.where(along0, size, 1)
        cols_end = c + jnp.where(along0, 1, size)
        ship = (rows >= r) & (rows < rows_end) & (cols >= c) & (cols < cols_end)
        return board | ship

    def place_ship(self, key: jax.Array, board: jax.Array, ship_size: int) -> jax.Array:
        """`board` with one more ship of `ship_size`, distributed as popgym's rejection sampler
        places it: uniform over the valid placements (see the module docstring)."""
        count = jnp.sum(self.placements(board, ship_size), dtype=jnp.int32)
        return self.place_ship_at(board, ship_size, jax.random.randint(key, (), 0, count))

    def new_board(self, key: jax.Array) -> jax.Array:
        """A board with every ship placed in popgym's order."""
        board = jnp.zeros((self.board_size, self.board_size), bool)
        for k, size in zip(jax.random.split(key, len(self.ship_sizes)), self.ship_sizes):
            board = self.place_ship(k, board, size)
        return board

    def initial(self, board: jax.Array) -> tuple[jax.Array, State]:
        """First observation and state of an episode on `board` (bool or 0/1 tiles)."""
        board = jnp.asarray(board).astype(bool)
        zero = jnp.zeros((), jnp.int32)
        return zero, State(board, jnp.zeros_like(board), zero, zero)

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(self.new_board(key))

    def step(self, key: jax.Array, state: State, action: jax.Array):
        a0, a1 = action[0], action[1]
        hit = state.board[a0, a1] & ~state.guesses[a0, a1]
        guesses = state.guesses.at[a0, a1].set(True)
        hits = state.hits + hit.astype(jnp.int32)
        num_steps = state.num_steps + 1
        truncated = num_steps >= self.max_episode_length
        terminated = hits == self.needed_hits
        reward = jnp.where(hit, 1.0 / self.needed_hits, -1.0 / (self.max_episode_length - self.needed_hits))
        obs = hit.astype(jnp.int32)
        return obs, State(state.board, guesses, hits, num_steps), reward.astype(jnp.float32), terminated, truncated
