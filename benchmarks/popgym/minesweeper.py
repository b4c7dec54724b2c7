"""MineSweeper on a hidden board: click a tile, see its mine count (popgym.envs.minesweeper).

popgym draws `num_mines` distinct tiles uniformly (`np_random.choice(..., replace=False)`);
we draw them with `num_mines` Fisher-Yates swaps on the tile indices (at most 10 on at
most 64 tiles), the same uniform subset without a full permutation, cheap enough to reset
every step under `vmap`. popgym's "neighbour" count sums the 3x3 block around a tile
including the tile itself; so does ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.core import Box, Discrete, MultiDiscrete, ResetEachEpisode

CLEAR, MINE, VIEWED = 0, 1, 2  # popgym's HiddenSquare


class State(NamedTuple):
    hidden_grid: jax.Array  # int32[h, w]: CLEAR, MINE or VIEWED
    neighbor_grid: jax.Array  # int32[h, w]: mines in the 3x3 block centred on each tile
    timestep: jax.Array  # int32


@dataclass(frozen=True)
class MineSweeper(ResetEachEpisode):
    dims: tuple[int, int] = (4, 4)
    num_mines: int = 2
    obs_requires_prev_action: bool = field(default=True, init=False)

    @property
    def num_tiles(self) -> int:
        return self.dims[0] * self.dims[1]

    @property
    def max_episode_length(self) -> int:
        return self.num_tiles - self.num_mines

    @property
    def observation_space(self) -> Discrete:
        return Discrete(min(self.num_mines + 1, 10))

    @property
    def action_space(self) -> MultiDiscrete:
        return MultiDiscrete(tuple(self.dims))

    def new_mines(self, key: jax.Array) -> jax.Array:
        """bool[h, w] with `num_mines` distinct tiles set, every such set equally likely."""
        n, m = self.num_tiles, self.num_mines
        tiles = jnp.arange(n, dtype=jnp.int32)
        swap = jax.random.randint(key, (m,), jnp.arange(m), n)  # partial Fisher-Yates
        for i in range(m):
            j = swap[i]
            tiles = tiles.at[j].set(tiles[i]).at[i].set(tiles[j])
        mines = jnp.zeros((n,), bool).at[tiles[:m]].set(True)
        return mines.reshape(self.dims)

    def initial(self, hidden_grid: jax.Array) -> tuple[jax.Array, State]:
        """First observation and state of an episode with popgym's `hidden_grid` (1 = mine)."""
        hidden = jnp.asarray(hidden_grid).astype(jnp.int32)
        mines = jnp.pad((hidden == MINE).astype(jnp.int32), 1)
        h, w = self.dims
        neighbor = sum(mines[1 + di : 1 + di + h, 1 + dj : 1 + dj + w] for di in (-1, 0, 1) for dj in (-1, 0, 1))
        return jnp.zeros((), jnp.int32), State(hidden, neighbor, jnp.zeros((), jnp.int32))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        return self.initial(jnp.where(self.new_mines(key), MINE, CLEAR))

    def step(self, key: jax.Array, state: State, action: jax.Array):
        a0, a1 = action[0], action[1]
        tile = state.hidden_grid[a0, a1]
        success = 1.0 / self.max_episode_length
        fail = -0.5 - success
        bad_action = -0.5 / (self.max_episode_length - 2)
        reward = jnp.where(tile == MINE, fail, jnp.where(tile == VIEWED, bad_action, success))
        hidden = state.hidden_grid.at[a0, a1].set(jnp.where(tile == CLEAR, VIEWED, tile))
        timestep = state.timestep + 1
        terminated = (tile == MINE) | jnp.all(hidden != CLEAR)
        truncated = (timestep == self.max_episode_length) & ~terminated
        obs = state.neighbor_grid[a0, a1]
        return obs, State(hidden, state.neighbor_grid, timestep), reward.astype(jnp.float32), terminated, truncated


@dataclass(frozen=True)
class MineSweeperPopjym(MineSweeper):
    """popjym's MineSweeper (`popgym_minesweeper.py`), which the paper ran: same board, rewards
    and flat action (popjym's `Discrete(h*w)` indexes the raveled grid, our (row, col) unravelled
    in C order), but

    - it cannot be won: popjym marks every clicked tile viewed, mines included, and ends the
      episode when *every* tile is viewed, which no game reaches without clicking a mine first;
    - its time limit is a termination checked before the step counter moves, so an episode
      runs up to `max_episode_length + 1` steps (popgym: truncated after that many): after the
      last safe tile, one more click, a repeat (-0.5/(L-2)) or a mine, is forced, and the best
      return is 1 - 0.5/(L-2) (23/24 on Easy);
    - it observes a float vector of length `num_mines` with a one at the mine count, which drops
      counts >= `num_mines` (JAX drops out-of-range scatters): on Easy a count of 2 shows as
      zeros, the same as the first observation.
    """

    @property
    def max_episode_length(self) -> int:
        return self.num_tiles - self.num_mines + 1

    @property
    def observation_space(self) -> Box:
        return Box((0.0,) * self.num_mines, (1.0,) * self.num_mines)

    def observe(self, count: jax.Array) -> jax.Array:
        """popjym's one-hot of a mine count over `num_mines` slots (counts past the end show nothing)."""
        return jnp.zeros((self.num_mines,), jnp.float32).at[count].set(1.0, mode="drop")

    def initial(self, hidden_grid: jax.Array) -> tuple[jax.Array, State]:
        _, state = super().initial(hidden_grid)
        return jnp.zeros((self.num_mines,), jnp.float32), state

    def step(self, key: jax.Array, state: State, action: jax.Array):
        a0, a1 = action[0], action[1]
        tile = state.hidden_grid[a0, a1]
        length = self.num_tiles - self.num_mines  # popgym's episode length, popjym's reward scale
        success = 1.0 / length
        reward = jnp.where(tile == MINE, -0.5 - success, jnp.where(tile == VIEWED, -0.5 / (length - 2), success))
        hidden = state.hidden_grid.at[a0, a1].set(VIEWED)
        terminated = (tile == MINE) | (state.timestep == length) | jnp.all(hidden == VIEWED)
        obs = self.observe(state.neighbor_grid[a0, a1])
        new = State(hidden, state.neighbor_grid, state.timestep + 1)
        return obs, new, reward.astype(jnp.float32), terminated, jnp.zeros((), bool)
