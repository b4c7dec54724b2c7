"""LabyrinthEscape/LabyrinthExplore ports vs PyPI popgym (+ mazelib).

Exact: episodes in popgym's injected maze (random actions, a shortest-path policy for Escape,
a depth-first tour for Explore), the local view and moves from every square of the grid.
Statistical: our HuntAndKill mazes and entrances (from `reset` and from auto-resets whose
maze was generated during the previous episode) against popgym's, which come from mazelib
drawing on Python's `random` and `np.random`.
"""

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from popgym_oracle import assert_same_obs, assert_same_spaces_and_flags, jitted, popgym_env, sampled
from scipy import stats

from benchmarks.popgym import DIFFICULTIES, make
from benchmarks.popgym import labyrinth as lab

FAMILIES = ("LabyrinthEscape", "LabyrinthExplore")
IDS = [f"{f}{d}" for f in FAMILIES for d in DIFFICULTIES]
MOVES = {(0, -1): 0, (0, 1): 1, (-1, 0): 2, (1, 0): 3}  # popgym's Actions


def injected(port, pyenv, key=0):
    """Our episode start in popgym's maze (mazelib's grid: the entrances are walls there)."""
    maze = pyenv.maze.grid.copy()
    maze[pyenv.maze.start] = maze[pyenv.maze.end] = 1
    obs, state = port.initial(
        maze,
        np.asarray(pyenv.maze.start),
        np.asarray(pyenv.maze.end),
        lab.generator_start(jax.random.key(key), port.shape),
    )
    np.testing.assert_array_equal(np.asarray(state.grid), pyenv.maze.grid)
    assert tuple(np.asarray(state.position)) == tuple(pyenv.position)
    return obs, state


def lockstep(port, obs, state, pyenv, obs0, actions):
    """popgym_oracle.lockstep with one comparison at the end (per-step `encode` is slow over
    1023 steps): step both until popgym's episode ends, then compare raw obs (equal raw
    MultiDiscrete obs encode equally), reward, terminated, truncated at every step."""
    assert_same_obs(port.observation_space, obs, obs0, where="at reset")
    _, step, _ = jitted(port)
    key = jax.random.key(0)  # only drives the next episode's maze
    ours, theirs, t = [], [], 0
    while not (theirs and (theirs[-1][2] or theirs[-1][3])):
        action = actions(t, pyenv) if callable(actions) else actions[t]
        obs_p, rew_p, term_p, trunc_p, _ = pyenv.step(action)
        theirs.append((obs_p, rew_p, term_p, trunc_p))
        obs, state, rew, term, trunc = step(key, state, np.int32(action))
        ours.append((obs, rew, term, trunc))
        t += 1
    for i, ((o, r, te, tr), (o_p, r_p, te_p, tr_p)) in enumerate(zip(jax.device_get(ours), theirs)):
        where = f"at step {i + 1}"
        np.testing.assert_array_equal(o, o_p, err_msg=f"observation {where}")
        np.testing.assert_allclose(float(r), float(r_p), atol=1e-6, rtol=0, err_msg=f"reward {where}")
        assert (bool(te), bool(tr)) == (bool(te_p), bool(tr_p)), f"terminated, truncated {where}"
    return t


def bfs(open_, source):
    """Distances (-1 unreachable) over 4-connected True squares of `open_` from `source`."""
    dist = np.full(open_.shape, -1)
    dist[source] = 0
    queue = deque([source])
    while queue:
        y, x = queue.popleft()
        for dy, dx in MOVES:
            n = (y + dy, x + dx)
            if 0 <= n[0] < open_.shape[0] and 0 <= n[1] < open_.shape[1] and open_[n] and dist[n] < 0:
                dist[n] = dist[y, x] + 1
                queue.append(n)
    return dist


@pytest.mark.parametrize("env_id", IDS)
def test_spaces_and_length(env_id):
    port, pyenv = make(env_id), popgym_env(env_id)
    assert_same_spaces_and_flags(port, pyenv)
    assert port.max_episode_length == pyenv.max_episode_length == 1024
    pyenv.reset(seed=0)
    assert port.shape == pyenv.maze.grid.shape


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("seed", sampled(0, 1))
def test_random_actions_match_popgym(env_id, seed):
    """Random actions bump into walls and (at the entrance) the border; up to 1023 steps."""
    port, pyenv = make(env_id), popgym_env(env_id)
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    actions = np.random.default_rng(seed).integers(0, 4, size=port.max_episode_length)
    assert lockstep(port, obs, state, pyenv, obs0, actions) <= port.max_episode_length - 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("seed", sampled(2, 3))
def test_escape_shortest_path_reaches_goal(difficulty, seed):
    port, pyenv = make(f"LabyrinthEscape{difficulty}"), popgym_env(f"LabyrinthEscape{difficulty}")
    obs0, _ = pyenv.reset(seed=seed)
    obs, state = injected(port, pyenv)
    to_goal = bfs(pyenv.maze.grid != 1, pyenv.maze.end)

    def downhill(t, env):
        y, x = env.position
        for (dy, dx), a in MOVES.items():
            n = (y + dy, x + dx)
            if 0 <= n[0] < to_goal.shape[0] and 0 <= n[1] < to_goal.shape[1] and to_goal[n] == to_goal[y, x] - 1 >= 0:
                return a
        raise AssertionError("no way down")

    steps = lockstep(port, obs, state, pyenv, obs0, downhill)
    assert steps == to_goal[pyenv.maze.start] < port.max_episode_length - 1  # terminated, with the +1
    assert tuple(pyenv.position) == tuple(pyenv.maze.end)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_explore_depth_first_tour_explores_all(difficulty):
    port, pyenv = make(f"LabyrinthExplore{difficulty}"), popgym_env(f"LabyrinthExplore{difficulty}")
    obs0, _ = pyenv.reset(seed=4)
    obs, state = injected(port, pyenv)
    open_ = pyenv.maze.grid != 1
    tour, seen = [], {tuple(pyenv.position)}

    def visit(p):
        for (dy, dx), a in MOVES.items():
            n = (p[0] + dy, p[1] + dx)
            if 0 <= n[0] < open_.shape[0] and 0 <= n[1] < open_.shape[1] and open_[n] and n not in seen:
                seen.add(n)
                tour.append(a)
                visit(n)
                tour.append(MOVES[(-dy, -dx)])

    visit(tuple(pyenv.position))
    steps = lockstep(port, obs, state, pyenv, obs0, tour)
    assert steps < port.max_episode_length - 1 and np.all(pyenv.explored[open_] == 1)


def popgym_sized(family, maze_dims):
    """A popgym labyrinth of any size (its Easy/Medium/Hard classes fix the size)."""
    import warnings

    from popgym import envs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(envs, family)(maze_dims=maze_dims)


@pytest.mark.parametrize(
    "family, maze_dims",
    [
        ("LabyrinthEscape", (10, 10)),
        pytest.param("LabyrinthExplore", (18, 18), marks=pytest.mark.slow),
        ("LabyrinthEscape", (10, 14)),
        ("LabyrinthExplore", (14, 8)),
    ],
)
def test_local_view_and_move_from_every_square(family, maze_dims):
    """popgym's local view pads bottom/right only (shifted at the top/left edge) and clips
    columns at the number of rows (non-square mazes show it); moves clamp at the border."""
    port, pyenv = getattr(lab, family)(maze_dims=maze_dims), popgym_sized(family, maze_dims)
    pyenv.reset(seed=5)
    grid = jnp.asarray(pyenv.maze.grid, jnp.int8)
    H, W = grid.shape
    squares = np.array([(y, x) for y in range(H) for x in range(W)], np.int32)
    views = jax.vmap(lambda p: port.local_view(grid, p))(squares)
    moved = jax.vmap(lambda p: jax.vmap(lambda a: port.move(grid, p, a))(jnp.arange(4)))(squares)
    for i, (y, x) in enumerate(squares):
        pyenv.position = (int(y), int(x))
        np.testing.assert_array_equal(np.asarray(views[i]), pyenv.local_view(pyenv.maze.grid), err_msg=f"{(y, x)}")
        for a in range(4):
            assert tuple(np.asarray(moved[i, a])) == tuple(pyenv.move(a)), ((y, x), a)


# ---------------------------------------------------------------- statistics of the mazes


def maze_stats(grids, starts, ends=None):
    """Per maze (mazelib's grid, 1 = wall): checks it is perfect and returns its statistics
    (those of the exit only where `ends` are known)."""
    out = {k: [] for k in ("dead_ends", "junctions", "straight", "side", "start_at", "path", "end_at")}
    for i, (grid, start) in enumerate(zip(grids, starts)):
        free = grid == 0
        H, W = grid.shape
        cells = (H // 2) * (W // 2)
        assert free.sum() == 2 * cells - 1  # every cell carved, cells - 1 walls knocked down
        assert np.all(free[1::2, 1::2]) and not np.any(free[::2, ::2])
        assert not (free[0].any() or free[-1].any() or free[:, 0].any() or free[:, -1].any())
        p = np.pad(free, 1)
        nbrs = p[:-2, 1:-1].astype(int) + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
        edges = (free[1:] & free[:-1]).sum() + (free[:, 1:] & free[:, :-1]).sum()
        src = tuple(np.argwhere(free)[0])
        assert np.all(bfs(free, src)[free] >= 0) and edges == free.sum() - 1  # connected, no cycle
        out["dead_ends"].append(int((free & (nbrs == 1)).sum()))
        out["junctions"].append(int((free & (nbrs >= 3)).sum()))
        straight = free & (nbrs == 2) & ((p[:-2, 1:-1] & p[2:, 1:-1]) | (p[1:-1, :-2] & p[1:-1, 2:]))
        out["straight"].append(int(straight.sum()))
        start = tuple(int(v) for v in start)
        on = [start[0] == 0, start[0] == H - 1, start[1] == 0, start[1] == W - 1]
        assert sum(on) == 1 and (start[0] % 2) + (start[1] % 2) == 1
        side = on.index(True)
        out["side"].append(side)
        out["start_at"].append(start[1] if side < 2 else start[0])
        if ends is None:
            continue
        end = tuple(int(v) for v in ends[i])
        assert [end[0] == H - 1, end[0] == 0, end[1] == W - 1, end[1] == 0][side]  # the opposite side
        assert (end[0] % 2) + (end[1] % 2) == 1
        out["end_at"].append(end[1] if side < 2 else end[0])
        walk = free.copy()
        walk[start] = walk[end] = True
        out["path"].append(int(bfs(walk, start)[end]))
    return {k: np.asarray(v) for k, v in out.items() if v}


def popgym_mazes(difficulty, n, seed):
    """n mazes from popgym's own reset (mazelib on the global `random`/`np.random`)."""
    pyenv = popgym_env(f"LabyrinthEscape{difficulty}")
    grids, starts, ends = [], [], []
    for i in range(n):
        pyenv.reset(seed=seed if i == 0 else None)
        g = pyenv.maze.grid.copy()
        g[pyenv.maze.start] = g[pyenv.maze.end] = 1
        grids.append(g), starts.append(pyenv.maze.start), ends.append(pyenv.maze.end)
    return grids, starts, ends


def our_mazes(grid, position):
    """Our episode starts (START/GOAL marked) -> mazelib's grids, starts, ends."""
    grid, position = np.asarray(grid), np.asarray(position)
    ends = [tuple(np.argwhere(g == lab.GOAL)[0]) for g in grid]
    return np.where(grid >= lab.START, 1, grid), position, ends


def assert_same_distribution(ours, theirs, threshold=1e-3):
    for k in ours:
        if k != "side":
            p = stats.ks_2samp(ours[k], theirs[k]).pvalue
            assert p > threshold, (k, p, ours[k].mean(), theirs[k].mean())
    table = np.stack([np.bincount(ours["side"], minlength=4), np.bincount(theirs["side"], minlength=4)])
    assert stats.chi2_contingency(table).pvalue > threshold, table


def test_statistics_tell_hunt_orders_apart():
    """The test above can fail: mazelib's serpentine hunt (not popgym's) is told apart."""
    import random

    from mazelib import Maze
    from mazelib.generate.HuntAndKill import HuntAndKill

    random.seed(0), np.random.seed(0)
    grids, starts, ends = [], [], []
    for _ in range(300):
        m = Maze()
        m.generator = HuntAndKill(7, 7, "serpentine")
        m.generate(), m.generate_entrances(start_outer=True)
        grids.append(m.grid), starts.append(m.start), ends.append(m.end)
    serpentine = maze_stats(grids, starts, ends)
    theirs = maze_stats(*popgym_mazes("Medium", 300, seed=13))
    with pytest.raises(AssertionError):
        assert_same_distribution(serpentine, theirs)


def episode_starts(port, n, done_every, seed):
    """n lanes: the reset, then 3 episodes of `done_every` steps each ended by an auto-reset
    (the scan's select on done, like an auto-resetting env). Returns the reset's and the
    last auto-reset's (first obs right?, grid, position), and whether every auto-reset changed
    the maze."""

    def run(key):
        def body(carry, t):
            obs, state = carry
            k = jax.random.fold_in(key, t)
            obs, state, *_ = port.step(k, state, t % 4)
            done = (t + 1) % done_every == 0
            new_obs, new = port.autoreset(jax.random.fold_in(k, 1), state, done)
            changed = jnp.any(new.grid != state.grid)
            pick = lambda a, b: jnp.where(done, a, b)
            return jax.tree_util.tree_map(pick, (new_obs, new), (obs, state)), changed

        def start(obs, state):  # the obs is the first one of an episode there
            return jnp.all(obs == port.get_obs(state.grid, state.position, lab.NONE)), state.grid, state.position

        obs0, state0 = port.reset(jax.random.fold_in(key, 1_000_000))
        (obs, state), changed = jax.lax.scan(body, (obs0, state0), jnp.arange(3 * done_every))
        return start(obs0, state0), start(obs, state), jnp.all(changed[done_every - 1 :: done_every])

    return jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(seed), n))


def check_starts(family, obs_ok, grid, position, theirs):
    """Episode starts are popgym's (START under the agent, the first obs) and their mazes
    are distributed like popgym's."""
    n = grid.shape[0]
    assert bool(jnp.all(obs_ok))
    grid, position = np.asarray(grid), np.asarray(position)
    assert np.all(grid[np.arange(n), position[:, 0], position[:, 1]] == lab.START)
    if family == "LabyrinthExplore":  # the exit stays a wall
        assert not np.any(grid == lab.GOAL)
        ours = maze_stats(np.where(grid >= lab.START, 1, grid), position)
        theirs = {k: v for k, v in theirs.items() if k in ours}
    else:
        ours = maze_stats(*our_mazes(grid, position))
    assert_same_distribution(ours, theirs)


def _starts_match_mazelib(family, difficulty, done_every):
    port = make(f"{family}{difficulty}")
    n = 300
    reset, autoreset, changed = episode_starts(port, n, done_every, seed=21)
    assert bool(jnp.all(changed))
    theirs = maze_stats(*popgym_mazes(difficulty, n, seed=22))
    check_starts(family, *reset, theirs)
    check_starts(family, *autoreset, theirs)


@pytest.mark.parametrize("family, difficulty, done_every", [("LabyrinthEscape", "Hard", 7)])
def test_reset_and_autoreset_mazes_match_mazelib(family, difficulty, done_every):
    """Perfect mazes with every cell carved, and the same distribution of dead ends,
    junctions, straight corridor squares, start->exit path length and entrances as popgym's,
    from reset and from auto-resets whose maze was generated during the episode (and
    finished by the while_loop in short episodes); every auto-reset brings a new maze.
    Explore, other difficulties and episode lengths: the slow variant."""
    _starts_match_mazelib(family, difficulty, done_every)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("done_every", [1, 7, 60])
def test_reset_and_autoreset_mazes_match_mazelib_everywhere(family, difficulty, done_every):
    _starts_match_mazelib(family, difficulty, done_every)


def test_next_maze_is_ready_within_an_episode():
    """Generation advances during the episode: after (cells - 1) / iters steps it is done,
    so the auto-reset's while_loop has nothing left to do."""
    port, pyenv = make("LabyrinthExploreHard"), popgym_env("LabyrinthExploreHard")
    H, W = port.shape
    steps = -(-((H // 2) * (W // 2) - 1) // lab.GENERATOR_ITERS_PER_STEP)
    _, step, _ = jitted(port)
    pyenv.reset(seed=3)
    _, state = injected(port, pyenv, key=3)
    for t in range(steps):
        assert not bool(state.next_maze.finished)
        _, state, *_ = step(jax.random.key(100 + t), state, jnp.asarray(t % 4))
    assert bool(state.next_maze.finished) and int(state.next_maze.count) == (H // 2) * (W // 2)
    finished = lab.generator_finish(jax.random.key(0), state.next_maze, W // 2, True)
    np.testing.assert_array_equal(
        np.asarray(lab.maze_grid(finished, W // 2)), np.asarray(lab.maze_grid(state.next_maze, W // 2))
    )


def test_hunt_budget_can_run_out():
    """mazelib stops after H * W hunts even with cells left: a generator whose budget is
    spent stops at its next hunt, leaving the rest walls."""
    gen = lab.generator_start(jax.random.key(0), (11, 11))
    gen = gen._replace(trials=jnp.asarray(11 * 11, jnp.int32))
    out = lab.generator_finish(jax.random.key(1), gen, 5)
    assert bool(out.finished) and 1 < int(out.count) < 25
    assert int((np.asarray(lab.maze_grid(out, 5)) == 0).sum()) == 2 * int(out.count) - 1
