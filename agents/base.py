"""The one `Agent` protocol every learner implements, and the few pieces all agents share.

Agents know nothing of runs, files, budgets or evaluation: they get a random key and an
environment (anything shaped like `EnvLike`) and return pure functions that the runner
jits and vmaps over a leading seed axis. Evaluation lives in `benchmarks.protocol`, so
every agent is scored by the same code through `initial_carry` and `policy`.

The environment contract (structural; `benchmarks.envs.Environment` satisfies it):

* `env.spec` describes observations and actions (`EnvSpecLike`).
* `env.reset(key) -> (env_state, timestep)` and `env.step(key, env_state, action) ->
  (env_state, timestep)` are pure and auto-reset: when `timestep.done`, `timestep.obs`
  is already the first observation of the next episode while `reward`, `terminated`,
  `truncated` and `episode_return` belong to the step that ended the episode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar, runtime_checkable

import jax
import jax.numpy as jnp

PRNGKey = jax.Array
Params = Any
Carry = Any
TrainState = Any
Config = Any


class EnvSpecLike(Protocol):
    """What an agent may know about a task: shapes and action bounds, nothing else."""

    obs_dim: int
    action_kind: str  # "discrete" | "continuous"
    num_actions: int  # discrete: number of actions; continuous: 0
    action_dim: int  # continuous: action vector length; discrete: 1
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_length: int


class TimeStepLike(Protocol):
    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    final_obs: jax.Array  # observation reached by this step, before auto-reset

    @property
    def done(self) -> jax.Array: ...


class EnvLike(Protocol):
    spec: EnvSpecLike

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStepLike]: ...

    def step(self, key: PRNGKey, state: Any, action: jax.Array) -> tuple[Any, TimeStepLike]: ...


class TrainMetrics(NamedTuple):
    """Per-iteration training statistics every agent reports.

    Only finished episodes count, so a learning curve never mixes partial returns in.
    `diagnostics` are the agent's own learning-health numbers (policy entropy, TD error,
    saturation of its RNN, ...): a run that fails to learn then says why in its result file.
    Their names are static for a given config; `scan_iterations` sums the episode counts and
    averages the diagnostics over the iterations of one `train` call, and an agent may add
    end-of-call snapshots (parameter norms) after the scan.
    """

    episode_return_sum: jax.Array  # sum of the returns of episodes that ended
    episodes: jax.Array  # number of episodes that ended
    diagnostics: dict[str, jax.Array] = {}  # never mutated in place (shared default)


def episode_metrics(timestep: TimeStepLike) -> TrainMetrics:
    """Metrics of one (possibly batched) environment step."""
    done = timestep.done.astype(jnp.float32)
    return TrainMetrics(
        episode_return_sum=jnp.sum(done * timestep.episode_return),
        episodes=jnp.sum(done),
    )


@runtime_checkable
class Agent(Protocol):
    """One learner. Implementations are frozen dataclasses holding their `config`.

    Every method is pure and traceable: the runner calls them under `jax.jit` and
    `jax.vmap` over seeds, so no method may branch in Python on traced values, print,
    call back to the host, or keep mutable state.
    """

    name: ClassVar[str]
    config: Config

    def steps_per_iteration(self, spec: EnvSpecLike) -> int:
        """Environment steps consumed by one `train` iteration (e.g. num_envs, or a PPO rollout)."""
        ...

    def init(self, key: PRNGKey, env: EnvLike) -> TrainState:
        """Parameters, optimiser state, environment state: everything a training run carries."""
        ...

    def train(self, state: TrainState, env: EnvLike, num_iterations: int) -> tuple[TrainState, TrainMetrics]:
        """Advance `num_iterations * steps_per_iteration` env steps inside one `lax.scan`."""
        ...

    def policy_params(self, state: TrainState) -> Params:
        """The part of the train state that `policy` needs."""
        ...

    def initial_carry(self, params: Params) -> Carry:
        """Recurrent state (plus anything the policy remembers, e.g. the previous action) at an episode start."""
        ...

    def policy(self, params: Params, carry: Carry, timestep: TimeStepLike, key: PRNGKey) -> tuple[Carry, jax.Array]:
        """Sample an action for one unbatched environment; `timestep` carries obs, reward and done.

        The evaluator starts every evaluation and every final-score episode from `initial_carry`
        (`benchmarks.protocol`); within those steps the policy treats `timestep.done` as training
        does, resetting its own carry at an episode boundary.
        Whatever the policy needs to know about the task must be readable from `params`.
        """
        ...


S = TypeVar("S")


def scan_iterations(
    iteration: Callable[[S], tuple[S, TrainMetrics]], state: S, num_iterations: int, unroll: int = 1
) -> tuple[S, TrainMetrics]:
    """Run `iteration` `num_iterations` times in one `lax.scan`; return the episode counts summed
    and the diagnostics averaged over the iterations.

    Shared by every agent so chunking, unrolling and metric reduction live in one place. The sums
    ride in the loop's carry, in iteration order, rather than as stacked per-iteration outputs
    reduced afterwards: on CPU every stacked output costs a write per iteration.
    """
    _, shapes = jax.eval_shape(iteration, state)
    zeros = jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

    def body(carry, _):
        s, total = carry
        s, m = iteration(s)
        return (s, jax.tree_util.tree_map(jnp.add, total, m)), None

    (state, total), _ = jax.lax.scan(body, (state, zeros), None, length=num_iterations, unroll=unroll)
    return state, total._replace(diagnostics={k: v / num_iterations for k, v in total.diagnostics.items()})


class DiscreteUniform(NamedTuple):
    """Uniform distribution over `logits.shape[-1]` actions (logits are all zero)."""

    logits: jax.Array

    def sample(self, key: PRNGKey) -> jax.Array:
        return jax.random.categorical(key, self.logits)


class BoxUniform(NamedTuple):
    """Uniform distribution over the box [low, high]."""

    low: jax.Array
    high: jax.Array

    def sample(self, key: PRNGKey) -> jax.Array:
        return jax.random.uniform(key, self.low.shape, minval=self.low, maxval=self.high)


def uniform_action_distribution(spec: EnvSpecLike) -> DiscreteUniform | BoxUniform:
    """The uniform distribution over a task's valid actions (its type tells the action kind)."""
    if spec.action_kind == "discrete":
        return DiscreteUniform(jnp.zeros((spec.num_actions,), jnp.float32))
    return BoxUniform(jnp.asarray(spec.action_low, jnp.float32), jnp.asarray(spec.action_high, jnp.float32))
