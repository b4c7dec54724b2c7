"""LabyrinthEscape and LabyrinthExplore: a random maze seen through a 3x3 window (popgym.envs.labyrinth_*).

Both share popgym's `MazeEnv` (popgym/core/maze.py): each episode is a new maze from
mazelib's `HuntAndKill` with its default *random* hunt, entrances from
`Maze.generate_entrances(start_outer=True)`, the agent dropped at the start (on the outer
wall) and shown the 3x3 block around it plus its last action. Escape pays -1/L per step and
+1 on reaching the exit (also on the outer wall); Explore pays 1/#free for every new square
and -1/L otherwise, and ends when every open square has been visited.

The maze generator is mazelib's algorithm (mazelib/generate/HuntAndKill.py):
  1. carve a uniformly random cell (odd row, odd column);
  2. random walk: step to a uniformly chosen unvisited neighbour two squares away, carving
     it and the wall in between, until the current cell has no unvisited neighbour;
  3. hunt: draw a uniformly random cell; if it is visited, walk from it (2.) — a cell
     without unvisited neighbours walks nowhere; stop after `H * W` hunts (grid squares,
     walls included), whether or not every cell has been reached.
We draw the same distribution with fewer iterations: a hunt that lands on an unvisited cell,
or on a visited one without unvisited neighbours, changes nothing, so the number of such
misses before a useful hunt is geometric with success probability (#visited cells with an
unvisited neighbour) / (#cells) and the useful cell is uniform among those; when the misses
would run past mazelib's `H * W` hunts, generation stops there (as mazelib's does), and
once every cell is visited all remaining hunts are misses, so it stops too. Each iteration
therefore carves exactly one cell; a maze takes (#cells - 1) iterations.

An auto-reset under `vmap` evaluates the reset at every step, so the state carries the next
episode's maze generator and `step` advances it `GENERATOR_ITERS_PER_STEP` iterations;
`autoreset` finishes it in a `while_loop` whose condition is `done & not finished` (no
iteration once every lane's maze is ready) and draws the entrances.

Entrances (mazelib/mazelib.py `_generate_outer_entrances`): a uniform side for the start, a
uniform odd coordinate along it, and the end on the opposite side at an independent uniform
odd coordinate. mazelib redraws when start and end are adjacent, which opposite sides of a
maze at least 7 squares across never are. The entrance squares stay walls in mazelib's grid;
popgym overwrites the start with START (so the agent can stand on it) and, in Escape only,
the end with GOAL (in Explore the end stays an obstacle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.popgym.core import Discrete, MultiDiscrete

FREE, OBSTACLE, START, GOAL, HIDDEN = 0, 1, 2, 3, 4  # popgym's Cell
LEFT, RIGHT, UP, DOWN, NONE = 0, 1, 2, 3, 4  # popgym's Actions
NUM_CELL_KINDS, NUM_ACTIONS = 5, 5

GENERATOR_ITERS_PER_STEP = 2
"""Generator iterations per env step: a Hard maze (81 cells) is ready after 40 steps."""

_MOVE_DY = (0, 0, -1, 1)  # popgym's act_map: left, right, up, down
_MOVE_DX = (-1, 1, 0, 0)


class Generator(NamedTuple):
    """mazelib's HuntAndKill part way through a maze, on its h x w cells (odd rows and
    columns of mazelib's grid) as bitboards: bit j of word i is cell (i, j). An iteration is
    then a few operations on h words, cheap under `vmap` (no gathers or scatters)."""

    visited: jax.Array  # uint32[h]: carved cells
    east: jax.Array  # uint32[h]: the wall east of the cell is knocked down
    south: jax.Array  # uint32[h]: the wall south of the cell is knocked down
    row: jax.Array  # int32: the random walk's current cell
    col: jax.Array  # int32
    trials: jax.Array  # int32: hunts drawn so far (mazelib's num_trials)
    count: jax.Array  # int32: cells carved so far
    finished: jax.Array  # bool


def _cells(shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape[0] // 2, shape[1] // 2
    assert w < 32, "a row of cells is one uint32"
    return h, w


def _bit(col: jax.Array) -> jax.Array:
    return jnp.left_shift(jnp.uint32(1), col.astype(jnp.uint32))


def _row_word(words: jax.Array, row: jax.Array) -> jax.Array:
    """words[row] (0 off the board) without a gather."""
    return jnp.sum(jnp.where(jnp.arange(words.shape[-1]) == row, words, 0), axis=-1, dtype=jnp.uint32)


def _set_bit(words: jax.Array, row: jax.Array, col: jax.Array, on: jax.Array | bool = True) -> jax.Array:
    return words | jnp.where((jnp.arange(words.shape[0]) == row) & on, _bit(col), jnp.uint32(0))


def _below(u: jax.Array, n: jax.Array | int) -> jax.Array:
    """A uniform integer in [0, n) from a uniform `u` in [0, 1)."""
    return jnp.minimum(jnp.floor(u * n), n - 1).astype(jnp.int32)


def generator_start(key: jax.Array, shape: tuple[int, int], u: jax.Array | None = None) -> Generator:
    """Step 1: an all-wall grid (shape: mazelib's, walls included) with one uniformly random
    cell carved (mazelib's randrange(1, H, 2), randrange(1, W, 2)); from the two uniforms `u`
    where given (one draw for several things is cheaper under `vmap`)."""
    h, w = _cells(shape)
    u = jax.random.uniform(key, (2,)) if u is None else u
    r, c = _below(u[0], h), _below(u[1], w)
    no = jnp.zeros((h,), jnp.uint32)
    zero = jnp.zeros((), jnp.int32)
    return Generator(_set_bit(no, r, c), no, no, r, c, zero, zero + 1, jnp.zeros((), bool))


def _uniform_index(u: jax.Array, mask: jax.Array) -> jax.Array:
    """A uniformly random index among the True entries of the short vector `mask` (at least
    one), from one uniform `u` in [0, 1): the floor(u * count)-th of them."""
    count = jnp.sum(mask, dtype=jnp.int32)
    k = jnp.minimum(jnp.floor(u * count).astype(jnp.int32), count - 1)
    return jnp.argmax(jnp.cumsum(mask, dtype=jnp.int32) > k)


def generator_iter(key: jax.Array, gen: Generator, width: int, u: jax.Array | None = None) -> Generator:
    """One carved cell of a maze `width` cells wide: hunt first if the walk is stuck, then
    one random-walk step (from the three uniforms `u` where given).

    The walk steps to a uniformly chosen unvisited neighbour (mazelib: `choice` of the
    shuffled `_find_neighbors(..., is_wall=True)`). The hunt skips the misses: their number
    is geometric (1 - u[0] through the inverse CDF, P(misses >= k) = (1 - p) ** k) and the
    cell found is uniform among the visited cells with an unvisited neighbour.
    """
    h, w = gen.visited.shape[0], width
    H, W = 2 * h + 1, 2 * w + 1
    full = jnp.uint32((1 << w) - 1)
    zero_row = jnp.zeros((1,), jnp.uint32)
    u = jax.random.uniform(key, (3,)) if u is None else u  # the hunt's misses and cell, the walk's direction
    unvisited = ~gen.visited & full
    above = jnp.concatenate([zero_row, unvisited[:-1]])  # [i]: row i - 1's unvisited cells
    below = jnp.concatenate([unvisited[1:], zero_row])

    def unvisited_neighbours(r: jax.Array, c: jax.Array) -> jax.Array:
        """bool[4] up, down, left, right (mazelib's `_find_neighbors(r, c, grid, True)`)."""
        up, down, same = _row_word(jnp.stack([above, below, unvisited]), r)
        bits = [
            up >> c.astype(jnp.uint32),
            down >> c.astype(jnp.uint32),
            (same << 1) >> c.astype(jnp.uint32),
            same >> (c + 1).astype(jnp.uint32),
        ]
        return jnp.stack(bits) & 1 == 1

    flags = unvisited_neighbours(gen.row, gen.col)
    stuck = ~jnp.any(flags)
    # hunt
    useful = gen.visited & (above | below | (unvisited << 1) | (unvisited >> 1)) & full
    per_row = jax.lax.population_count(useful).astype(jnp.int32)
    n = jnp.sum(per_row)
    p = jnp.minimum(n / (h * w), 1.0)
    misses = jnp.floor(jnp.log(1.0 - u[0]) / jnp.log1p(-p))
    misses = jnp.where(n > 0, misses, jnp.inf)
    in_budget = gen.trials + misses < H * W
    k = jnp.minimum(jnp.floor(u[1] * n).astype(jnp.int32), n - 1)  # the k-th useful cell, row-major
    before = jnp.cumsum(per_row) - per_row
    hr = jnp.argmax(before + per_row > k)
    word, k = _row_word(useful, hr), k - _row_word(before, hr)
    upto = jax.lax.population_count(word & jnp.uint32((2 << jnp.arange(w, dtype=jnp.uint32)) - 1))
    hc = jnp.argmax(upto.astype(jnp.int32) > k)
    r, c = jnp.where(stuck, hr, gen.row), jnp.where(stuck, hc, gen.col)
    trials = jnp.where(stuck, gen.trials + jnp.minimum(misses, H * W).astype(jnp.int32) + 1, gen.trials)
    flags = jnp.where(stuck, unvisited_neighbours(hr, hc), flags)
    # walk
    d = _uniform_index(u[2], flags)
    nr = r + jnp.array([-1, 1, 0, 0], jnp.int32)[d]
    nc = c + jnp.array([0, 0, -1, 1], jnp.int32)[d]
    east = _set_bit(gen.east, jnp.where(d == 3, r, nr), jnp.where(d == 3, c, nc), d >= 2)
    south = _set_bit(gen.south, jnp.where(d == 1, r, nr), c, d < 2)
    count = gen.count + 1
    carved = Generator(_set_bit(gen.visited, nr, nc), east, south, nr, nc, trials, count, count == h * w)
    done = gen.finished | (stuck & ~in_budget)
    return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), gen._replace(finished=done), carved)


def generator_finish(key: jax.Array, gen: Generator, width: int, where: jax.Array | bool = True) -> Generator:
    """Runs the generator to the end where `where` (no iteration if all are finished)."""
    return jax.lax.while_loop(
        lambda g: jnp.logical_and(where, ~g.finished),
        lambda g: generator_iter(jax.random.fold_in(key, g.count), g, width),
        gen,
    )


def maze_grid(gen: Generator, width: int) -> jax.Array:
    """mazelib's grid (int8[2h + 1, 2 width + 1], 1 = wall) of the generator's cells and passages."""
    h, w = gen.visited.shape[0], width
    bits = lambda words: (words[:, None] >> jnp.arange(w, dtype=jnp.uint32)) & 1
    wall = lambda words: (1 - bits(words)).astype(jnp.int8)
    ones = jnp.ones((h, w), jnp.int8)
    cell_rows = jnp.stack([wall(gen.visited), wall(gen.east)], axis=-1).reshape(h, 2 * w)
    wall_rows = jnp.stack([wall(gen.south), ones], axis=-1).reshape(h, 2 * w)
    rows = jnp.stack([cell_rows, wall_rows], axis=1).reshape(2 * h, 2 * w)
    return jnp.pad(rows, ((1, 0), (1, 0)), constant_values=1)


def generate(key: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """A whole maze: mazelib's `HuntAndKill(...).generate()` grid (int8, 1 = wall)."""
    k0, k1 = jax.random.split(key)
    w = _cells(shape)[1]
    return maze_grid(generator_finish(k1, generator_start(k0, shape), w), w)


def entrances(key: jax.Array, shape: tuple[int, int], u: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """mazelib's `_generate_outer_entrances`: (start, end) as int32[2] (row, col), from the
    three uniforms `u` where given."""
    H, W = shape
    u = jax.random.uniform(key, (3,)) if u is None else u
    side = _below(u[0], 4)  # north, south, west, east
    along_row = side < 2  # start and end on the top/bottom rows
    n = jnp.where(along_row, W // 2, H // 2)
    a, b = 2 * _below(u[1], n) + 1, 2 * _below(u[2], n) + 1
    start_edge = jnp.array([0, H - 1, 0, W - 1], jnp.int32)[side]
    end_edge = jnp.array([H - 1, 0, W - 1, 0], jnp.int32)[side]
    start = jnp.where(along_row, jnp.stack([start_edge, a]), jnp.stack([a, start_edge]))
    end = jnp.where(along_row, jnp.stack([end_edge, b]), jnp.stack([b, end_edge]))
    return start.astype(jnp.int32), end.astype(jnp.int32)


class State(NamedTuple):
    grid: jax.Array  # int8[H, W]: this episode's maze as popgym holds it (START, GOAL marked)
    position: jax.Array  # int32[2]: (y, x)
    explored: jax.Array  # bool[H, W]
    num_explored: jax.Array  # int32: squares explored (they are all open ones)
    num_open: jax.Array  # int32: squares that are not OBSTACLE
    num_free: jax.Array  # int32: squares that are FREE (Explore's reward scale)
    curr_step: jax.Array  # int32
    next_maze: Generator  # the next episode's maze, being generated


@dataclass(frozen=True)
class MazeEnv:
    """popgym's `MazeEnv`: maze generation, movement, the local view; subclasses score it."""

    maze_dims: tuple[int, int] = (10, 10)
    episode_length: int = 1024
    obs_requires_prev_action: bool = field(default=True, init=False)
    marks_goal: ClassVar[bool] = False
    """Whether the end square becomes GOAL (Escape) or stays an obstacle (Explore)."""

    def __post_init__(self) -> None:
        assert self.maze_dims[0] % 2 == 0 and self.maze_dims[1] % 2 == 0, "Maze dims must be even"
        assert min(self.maze_dims) >= 6, "Mazes cannot be smaller than 3x3."
        object.__setattr__(self, "maze_dims", tuple(int(m) for m in self.maze_dims))

    @property
    def shape(self) -> tuple[int, int]:
        """mazelib's grid: (maze_dims[0] // 2) x (maze_dims[1] // 2) cells, walls included."""
        return 2 * (self.maze_dims[0] // 2) + 1, 2 * (self.maze_dims[1] // 2) + 1

    @property
    def max_episode_length(self) -> int:
        return self.episode_length

    @property
    def observation_space(self) -> MultiDiscrete:
        return MultiDiscrete((NUM_CELL_KINDS,) * 9 + (NUM_ACTIONS,))

    @property
    def action_space(self) -> Discrete:
        return Discrete(NUM_ACTIONS - 1)

    def local_view(self, grid: jax.Array, position: jax.Array) -> jax.Array:
        """int32[3, 3]: popgym's `local_view`, clipping quirks included.

        popgym slices grid[max(y-1, 0) : y_end + 1, max(x-1, 0) : x_end + 1] and pads the
        result with OBSTACLE at the bottom/right only, so on the top row or left column the
        view is shifted (the agent is in its first row/column). It clips x_end at the
        number of rows and y_end at the number of columns (equal for square mazes).
        """
        H, W = grid.shape
        y, x = position[0], position[1]
        rows = jnp.maximum(y - 1, 0) + jnp.arange(3)
        cols = jnp.maximum(x - 1, 0) + jnp.arange(3)
        last_row = jnp.minimum(jnp.minimum(y + 1, W), H - 1)
        last_col = jnp.minimum(jnp.minimum(x + 1, H), W - 1)
        inside = (rows <= last_row)[:, None] & (cols <= last_col)[None, :]
        view = grid[jnp.clip(rows, 0, H - 1)][:, jnp.clip(cols, 0, W - 1)]
        return jnp.where(inside, view, OBSTACLE).astype(jnp.int32)

    def get_obs(self, grid: jax.Array, position: jax.Array, action: jax.Array) -> jax.Array:
        view = self.local_view(grid, position).reshape(9)
        return jnp.concatenate([view, jnp.reshape(action, (1,)).astype(jnp.int32)])

    def move(self, grid: jax.Array, position: jax.Array, action: jax.Array) -> jax.Array:
        """popgym's `move`: one square, clamped to the grid, not into an obstacle."""
        H, W = grid.shape
        ny = jnp.clip(position[0] + jnp.array(_MOVE_DY, jnp.int32)[action], 0, H - 1)
        nx = jnp.clip(position[1] + jnp.array(_MOVE_DX, jnp.int32)[action], 0, W - 1)
        return jnp.where(grid[ny, nx] == OBSTACLE, position, jnp.stack([ny, nx]))

    def initial(
        self, maze: jax.Array, start: jax.Array, end: jax.Array, next_maze: Generator
    ) -> tuple[jax.Array, State]:
        """First observation and state of an episode in mazelib's `maze` (1 = wall).

        `start`/`end` are mazelib's entrances (row, col); `next_maze` the generator of the
        following episode's maze.
        """
        start = jnp.asarray(start, jnp.int32)
        grid = jnp.asarray(maze, jnp.int8).at[start[0], start[1]].set(START)
        if self.marks_goal:
            grid = grid.at[end[0], end[1]].set(GOAL)
        explored = jnp.zeros(grid.shape, bool).at[start[0], start[1]].set(True)
        num_open = jnp.sum(grid != OBSTACLE, dtype=jnp.int32)
        num_free = jnp.sum(grid == FREE, dtype=jnp.int32)
        one, zero = jnp.ones((), jnp.int32), jnp.zeros((), jnp.int32)
        state = State(grid, start, explored, one, num_open, num_free, zero, next_maze)
        return self.get_obs(grid, start, jnp.asarray(NONE)), state

    def _start_in(self, key: jax.Array, maze: jax.Array) -> tuple[jax.Array, State]:
        """An episode in `maze` with fresh entrances and a fresh generator for the next one."""
        u = jax.random.uniform(key, (5,))
        return self.initial(maze, *entrances(key, self.shape, u[:3]), generator_start(key, self.shape, u[3:]))

    def reset(self, key: jax.Array) -> tuple[jax.Array, State]:
        k_maze, k_start = jax.random.split(key)
        return self._start_in(k_start, generate(k_maze, self.shape))

    def autoreset(self, key: jax.Array, state: State, done: jax.Array) -> tuple[jax.Array, State]:
        """The next episode in the maze prepared during this one (finished here if need be)."""
        k_fin, k_start = jax.random.split(key)
        w = _cells(self.shape)[1]
        return self._start_in(k_start, maze_grid(generator_finish(k_fin, state.next_maze, w, done), w))

    def _walk(self, key: jax.Array, state: State, action: jax.Array) -> tuple[jax.Array, State, jax.Array, jax.Array]:
        """popgym's `MazeEnv.step` (+ advancing the next maze): (obs, state, new square?, truncated)."""
        position = self.move(state.grid, state.position, action)
        new_square = ~state.explored[position[0], position[1]]
        gen = state.next_maze
        u = jax.random.uniform(key, (GENERATOR_ITERS_PER_STEP, 3))
        for i in range(GENERATOR_ITERS_PER_STEP):
            gen = generator_iter(key, gen, _cells(self.shape)[1], u[i])
        curr_step = state.curr_step + 1
        state = state._replace(
            position=position,
            explored=state.explored.at[position[0], position[1]].set(True),
            num_explored=state.num_explored + new_square,
            curr_step=curr_step,
            next_maze=gen,
        )
        truncated = curr_step == self.max_episode_length - 1
        return self.get_obs(state.grid, position, action), state, new_square, truncated


@dataclass(frozen=True)
class LabyrinthEscape(MazeEnv):
    """Find the exit: -1/L per step, +1 and the end of the episode on the GOAL square."""

    marks_goal: ClassVar[bool] = True

    def step(self, key: jax.Array, state: State, action: jax.Array):
        obs, state, _, truncated = self._walk(key, state, action)
        terminated = state.grid[state.position[0], state.position[1]] == GOAL
        reward = jnp.float32(-1.0 / self.max_episode_length) + jnp.where(terminated, 1.0, 0.0)
        return obs, state, reward.astype(jnp.float32), terminated, truncated


@dataclass(frozen=True)
class LabyrinthExplore(MazeEnv):
    """Visit every open square: 1/#FREE for a new square, -1/L otherwise."""

    marks_goal: ClassVar[bool] = False

    def step(self, key: jax.Array, state: State, action: jax.Array):
        obs, state, new_square, truncated = self._walk(key, state, action)
        reward = jnp.where(new_square, 1.0 / state.num_free, -1.0 / self.max_episode_length)
        terminated = state.num_explored == state.num_open  # explored is a subset of the open squares
        return obs, state, reward.astype(jnp.float32), terminated, truncated
