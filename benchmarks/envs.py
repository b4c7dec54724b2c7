"""Functional environments for the runner and the agents: gymnax, our popgym ports or brax
underneath, our wrappers on top.

Wrapper order [algorithm.md P1]: base env -> episode-length limit -> flatten (popgym: one-hot
encoding) -> observation mask -> auto-reset; batching is `jax.vmap` of `reset`/`step`. Every
wrapper is a pure function, and termination and truncation stay distinct unless a task asks
for the reference's behaviour (`truncation_is_termination`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from benchmarks.tasks import Task

PRNGKey = jax.Array


class UnsupportedTask(Exception):
    """A task whose package has no backend yet."""


@dataclass(frozen=True)
class EnvSpec:
    """What agents may know about a task (satisfies `agents.base.EnvSpecLike`)."""

    obs_dim: int
    action_kind: str  # "discrete" | "continuous"
    num_actions: int  # discrete only (0 for continuous)
    action_dim: int  # continuous only (1 for discrete: one integer)
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_length: int


class TimeStep(NamedTuple):
    """What one (auto-resetting) step returns.

    When `done`, `obs` is the first observation of the next episode, and `reward`,
    `terminated`, `truncated`, `episode_return` and `episode_length` describe the step
    (and episode) that just ended; `final_obs` is the observation that step reached (equal
    to `obs` when not done), which a learner needs to bootstrap through a truncation.
    """

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    episode_return: jax.Array  # return of the current episode including this step
    episode_length: jax.Array  # steps of the current episode including this step
    final_obs: jax.Array  # observation reached by this step, before any auto-reset

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


class EnvState(NamedTuple):
    inner: Any  # the base environment's state
    time: jax.Array  # steps taken in the current episode
    episode_return: jax.Array


# ---- pure wrapper functions -------------------------------------------------------------


def flatten_obs(obs: jax.Array) -> jax.Array:
    """Any observation array -> float32 vector (DeepSea's grid -> n*n)."""
    return jnp.reshape(obs, (-1,)).astype(jnp.float32)


def resolve_obs_mask(mask: str | tuple[int, ...] | None, dim: int) -> tuple[int, ...] | None:
    """Kept indices of a length-`dim` observation for a mask preset or list [algorithm.md P2]."""
    if mask is None:
        return None
    if mask == "even":
        return tuple(range(0, dim, 2))
    if mask == "odd":
        return tuple(range(1, dim, 2))
    if mask == "first_half":
        return tuple(range(-(-dim // 2)))
    if isinstance(mask, str):
        raise ValueError(f"unknown observation mask {mask!r}: use 'even', 'odd', 'first_half' or a list of indices")
    idx = tuple(int(i) for i in mask)
    if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= dim:
        raise ValueError(f"observation mask {list(idx)} is not a set of distinct indices in [0, {dim})")
    return idx


def mask_obs(obs: jax.Array, keep: tuple[int, ...] | None) -> jax.Array:
    """Keep only the indices in `keep` (None keeps everything)."""
    return obs if keep is None else obs[jnp.asarray(keep)]


def tree_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def limit_episode(time: jax.Array, terminated: jax.Array, max_episode_length: int) -> jax.Array:
    """Truncated flag: the limit was reached and the episode did not terminate on its own."""
    return jnp.logical_and(time >= max_episode_length, jnp.logical_not(terminated))


# ---- the environment ----------------------------------------------------------------------

RawReset = Callable[[PRNGKey], tuple[Any, Any]]  # key -> (obs, inner state)
RawStep = Callable[[PRNGKey, Any, jax.Array], tuple[Any, Any, jax.Array, jax.Array, jax.Array]]
"""key, state, action -> obs, state, reward, terminated, truncated (the env's own time limit)."""
RawAutoreset = Callable[[PRNGKey, Any, jax.Array], tuple[Any, Any]]
"""key, state after the step, done -> the next episode's (obs, state); only lanes where done matter."""


@dataclass(frozen=True, eq=False)
class Environment:
    """A task as two pure functions with auto-reset (satisfies `agents.base.EnvLike`).

    `raw_reset`/`raw_step` are the base env's non-resetting functions; everything else
    (limit, flatten, mask, auto-reset, episode bookkeeping) is added here once for all
    packages. `raw_autoreset` lets a base env start the next episode from work its state
    prepared (popgym's decks), because a vmapped auto-reset is evaluated at every step;
    without one, auto-reset is `raw_reset`. `flatten` turns a raw observation into a vector.
    Instances are hashable by identity, so jitted closures over them are cached.
    """

    spec: EnvSpec
    raw_reset: RawReset
    raw_step: RawStep
    obs_keep: tuple[int, ...] | None
    truncation_is_termination: bool = False
    raw_autoreset: RawAutoreset | None = None
    flatten: Callable[[Any], jax.Array] = flatten_obs

    def _observe(self, obs: Any) -> jax.Array:
        return mask_obs(self.flatten(obs), self.obs_keep)

    def reset(self, key: PRNGKey) -> tuple[EnvState, TimeStep]:
        obs, inner = self.raw_reset(key)
        zero = jnp.zeros((), jnp.float32)
        false = jnp.zeros((), bool)
        state = EnvState(inner, jnp.zeros((), jnp.int32), zero)
        obs = self._observe(obs)
        return state, TimeStep(obs, zero, false, false, zero, jnp.zeros((), jnp.int32), obs)

    def step(self, key: PRNGKey, state: EnvState, action: jax.Array) -> tuple[EnvState, TimeStep]:
        key_step, key_reset = jax.random.split(key)
        if self.spec.action_kind == "continuous":
            action = jnp.clip(action, jnp.asarray(self.spec.action_low), jnp.asarray(self.spec.action_high))
        obs, inner, reward, terminated, own_truncated = self.raw_step(key_step, state.inner, action)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        time = state.time + 1
        truncated = jnp.logical_or(
            limit_episode(time, terminated, self.spec.max_episode_length),
            jnp.logical_and(own_truncated, jnp.logical_not(terminated)),
        )
        if self.truncation_is_termination:
            terminated, truncated = jnp.logical_or(terminated, truncated), jnp.zeros((), bool)
        done = jnp.logical_or(terminated, truncated)
        episode_return = state.episode_return + reward

        if self.raw_autoreset is None:
            reset_obs, reset_inner = self.raw_reset(key_reset)
        else:
            reset_obs, reset_inner = self.raw_autoreset(key_reset, inner, done)
        next_state = EnvState(
            inner=tree_select(done, reset_inner, inner),
            time=jnp.where(done, 0, time),
            episode_return=jnp.where(done, 0.0, episode_return),
        )
        final_obs = self._observe(obs)
        next_obs = jnp.where(done, self._observe(reset_obs), final_obs)
        return next_state, TimeStep(next_obs, reward, terminated, truncated, episode_return, time, final_obs)


# ---- backends -----------------------------------------------------------------------------


def _gymnax_env(task: Task) -> Environment:
    import gymnax
    from gymnax.environments import spaces

    if task.env_id not in gymnax.registered_envs:
        raise UnsupportedTask(f"gymnax has no environment {task.env_id!r}")
    env, params = gymnax.make(task.env_id, **dict(task.env_kwargs))
    overrides = dict(task.env_params)
    unknown = set(overrides) - set(params.__dataclass_fields__)
    if unknown:
        raise ValueError(f"task {task.id}: {task.env_id} has no env params {sorted(unknown)}")
    length = task.max_episode_length or int(params.max_steps_in_episode)
    # gymnax's own limit is overwritten too [algorithm.md K15]: envs read it for time features.
    overrides["max_steps_in_episode"] = type(params.max_steps_in_episode)(length)
    params = params.replace(**overrides)

    obs_shape = env.observation_space(params).shape
    obs_dim = 1
    for d in obs_shape:
        obs_dim *= int(d)
    keep = resolve_obs_mask(task.obs_mask, obs_dim)

    space = env.action_space(params)
    if isinstance(space, spaces.Discrete):
        kind, n, adim, low, high = "discrete", int(space.n), 1, (0.0,), (float(space.n - 1),)
    elif isinstance(space, spaces.Box):
        adim = int(space.shape[0]) if space.shape else 1
        low = tuple(float(x) for x in jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (adim,)))
        high = tuple(float(x) for x in jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (adim,)))
        kind, n = "continuous", 0
    else:
        raise UnsupportedTask(f"{task.env_id}: action space {type(space).__name__} is not supported")

    spec = EnvSpec(
        obs_dim=len(keep) if keep is not None else obs_dim,
        action_kind=kind,
        num_actions=n,
        action_dim=adim,
        action_low=low,
        action_high=high,
        max_episode_length=length,
    )
    scalar_action = kind == "continuous" and not space.shape

    def raw_reset(key):
        return env.reset_env(key, params)

    def raw_step(key, state, action):
        if scalar_action:
            action = action[0]
        obs, state, reward, terminated, _ = env.step_env(key, state, action, params)
        return obs, state, reward, terminated, jnp.zeros((), bool)

    return Environment(spec, raw_reset, raw_step, keep, task.truncation_is_termination)


def _popgym_env(task: Task) -> Environment:
    """Our JAX port of a PyPI popgym env (`benchmarks.popgym`), seen as agents see popgym through
    its `Flatten` + `DiscreteAction` wrappers: one-hot observations, one flat discrete action."""
    from benchmarks import popgym
    from benchmarks.popgym import core

    try:
        env = popgym.make(task.env_id, **dict(task.env_kwargs))
    except KeyError as e:
        raise UnsupportedTask(e.args[0]) from None
    except TypeError as e:
        raise ValueError(f"task {task.id}: {task.env_id} does not take {dict(task.env_kwargs)} ({e})") from None
    if task.env_params:
        raise ValueError(f"task {task.id}: popgym ports take no env params (pick a difficulty: another task id)")
    length = min(task.max_episode_length or env.max_episode_length, env.max_episode_length)
    space = env.observation_space
    obs_dim = core.flat_dim(space)
    keep = resolve_obs_mask(task.obs_mask, obs_dim)
    act = env.action_space
    if isinstance(act, core.Box):
        adim = len(act.low)
        kind, n, low, high = "continuous", 0, tuple(act.low), tuple(act.high)
        to_env = lambda a: a
    else:
        kind, n, adim = "discrete", core.num_actions(act), 1
        low, high = (0.0,), (float(n - 1),)
        to_env = lambda a: core.unravel_action(act, a)
    spec = EnvSpec(
        obs_dim=len(keep) if keep is not None else obs_dim,
        action_kind=kind,
        num_actions=n,
        action_dim=adim,
        action_low=low,
        action_high=high,
        max_episode_length=length,
    )

    def raw_step(key, state, action):
        return env.step(key, state, to_env(action))

    return Environment(
        spec,
        env.reset,
        raw_step,
        keep,
        task.truncation_is_termination,
        raw_autoreset=env.autoreset,
        flatten=lambda obs: core.encode(space, obs),
    )


BRAX_BACKENDS = ("spring", "positional", "generalized", "mjx")
BRAX_DEFAULT_BACKEND = "spring"
"""The fastest backend on CPU by a wide margin (docs/performance.md, "brax", has the measurements),
and the reference code's preset."""


def _import_brax_envs():
    """brax imports mujoco.mjx, which prints two 'Failed to import warp' lines to stdout when the
    optional GPU package `warp` is missing (always on CPU): keep them out of our output."""
    with contextlib.redirect_stdout(io.StringIO()):
        from brax import envs as brax_envs
    return brax_envs


def load_brax_env(env_id: str, **kwargs: Any):
    """brax's own env (no wrappers), built without brax's once-per-load notice that it is unmaintained."""
    brax_envs = _import_brax_envs()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Brax System, piplines", category=UserWarning)
        return brax_envs.get_environment(env_id, **kwargs)


def _brax_env(task: Task) -> Environment:
    """A PyPI brax env without brax's training wrappers: our episode limit, auto-reset (a fresh
    key per reset, where brax's AutoResetWrapper replays one first state) and bookkeeping apply
    as for every package. Actions live in [-1, 1]; each brax env scales them to its actuators."""
    brax_envs = _import_brax_envs()
    kwargs = dict(task.env_kwargs)
    backend = kwargs.setdefault("backend", BRAX_DEFAULT_BACKEND)
    if backend not in BRAX_BACKENDS:
        raise ValueError(f"task {task.id}: unknown brax backend {backend!r}; valid: {', '.join(BRAX_BACKENDS)}")
    if task.env_params:
        raise ValueError(f"task {task.id}: brax envs take constructor arguments (env_kwargs), not env params")
    if task.env_id not in brax_envs._envs:
        raise UnsupportedTask(
            f"brax has no environment {task.env_id!r} (available: {', '.join(sorted(brax_envs._envs))})"
        )
    try:
        env = load_brax_env(task.env_id, **kwargs)
    except TypeError as e:
        raise ValueError(f"task {task.id}: brax {task.env_id} does not take {kwargs} ({e})") from None
    length = task.max_episode_length or 1000  # brax's own training default (`episode_length`)
    obs_dim, adim = int(env.observation_size), int(env.action_size)
    keep = resolve_obs_mask(task.obs_mask, obs_dim)
    spec = EnvSpec(
        obs_dim=len(keep) if keep is not None else obs_dim,
        action_kind="continuous",
        num_actions=0,
        action_dim=adim,
        action_low=(-1.0,) * adim,
        action_high=(1.0,) * adim,
        max_episode_length=length,
    )

    # Some envs' step returns weakly typed leaves where their reset returns strong ones; the
    # auto-reset's select gives every leaf one type, so a carried state never changes type
    # (tests/test_brax.py: the training program compiles once).
    def raw_reset(key):
        state = env.reset(key)
        return state.obs, state

    def raw_step(key, state, action):  # brax dynamics are deterministic: the key is unused
        state = env.step(state, action)
        return state.obs, state, state.reward, state.done > 0.5, jnp.zeros((), bool)

    return Environment(spec, raw_reset, raw_step, keep, task.truncation_is_termination)


_BACKENDS: dict[str, Callable[[Task], Environment]] = {"gymnax": _gymnax_env, "popgym": _popgym_env, "brax": _brax_env}


def make_env(task: Task) -> Environment:
    """The functional environment of a task; one shared instance per (hashable) task, since
    building some is slow (a brax system loads and compiles its model: seconds)."""
    try:
        hash(task)
    except TypeError:  # an unhashable override value (a list inside env_kwargs): build anew
        return _make_env(task)
    return _make_env_cached(task)


@functools.cache
def _make_env_cached(task: Task) -> Environment:
    return _make_env(task)


def _make_env(task: Task) -> Environment:
    try:
        backend = _BACKENDS[task.package]
    except KeyError:
        raise UnsupportedTask(
            f"task {task.id}: package {task.package!r} has no backend yet (available: {sorted(_BACKENDS)})"
        ) from None
    return backend(task)
