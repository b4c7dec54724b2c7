"""Speed benchmark: agent training steps/s as a ratio to the raw env rate, measured in one process.

    python tools/perf.py [--task TASK] [--steps 200000] [--agent random ...]

Raw env = gymnax's own auto-resetting `step` with uniform random actions in one jitted
`lax.scan`, no wrappers, at the same batch as the agent. Agents run through `Agent.train` with
their default config ("default": batch 1 for the online agents, purejaxrl's 4 envs x 128 steps
for PPO), with more envs sharing parameters (16 online, 64 PPO), and as a 16-seed vmapped block
(÷ default). Each agent runs on its reference task unless --task is given: CartPole-vel for
the online agents (the paper's), CartPole-v1 for PPO (purejaxrl's config). Absolute numbers on a
shared CPU move; the ratios are what to compare.

The popgym section times every port (`benchmarks.popgym`) through our auto-resetting env at
batch 1 and 256 (`lax.scan`, uniform random actions) next to PyPI popgym stepping the same
env in a Python loop (random actions, reset when done), all in this one process.

The brax section times brax's own `env.step` (backend spring, batch 1, 4 and 16), our
auto-resetting wrapper around it, and `rtrrl` and `ppo` training on brax-inverted_pendulum and
brax-reacher, each agent as a ratio to raw brax at its own batch.

The reference section runs `rtrrl` side by side with the authors' RTRRL code at its own
lock-file pins, interleaved in separate processes (`tools/perf_reference.py`).

The bootstrap section times the report's statistics (`reports.stats.interval_estimates`: IQM,
median, mean, optimality gap with stratified-bootstrap CIs) against rliable's
`get_interval_estimates` on the same scores: 5 agents x 20 tasks x 10 runs, 50,000 resamples.
"""

from __future__ import annotations

import os

os.environ.setdefault("NPROC", "1")

import argparse
import dataclasses
import time

import gymnax
import jax
import jax.numpy as jnp

import agents as agent_registry
from agents import threefry
from benchmarks.envs import load_brax_env, make_env
from benchmarks.program import compiler_options
from benchmarks.tasks import TASKS


def _jit(fn):
    """Compile a timed program the way the runner compiles its programs."""
    threefry.activate()
    return jax.jit(fn, compiler_options=compiler_options())


def _best_time(fn, *args, repeats: int = 3) -> float:
    jax.block_until_ready(fn(*args))  # compile + warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def raw_env_rate(task_id: str, batch: int, steps: int) -> float:
    task = TASKS[task_id]
    env, params = gymnax.make(task.env_id, **dict(task.env_kwargs))
    params = params.replace(**dict(task.env_params))
    space = env.action_space(params)
    iters = max(1, steps // batch)

    def run(key):
        keys = jax.random.split(key, batch)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(carry, _):
            state, key = carry
            key, k_a, k_s = jax.random.split(key, 3)
            actions = jax.vmap(space.sample)(jax.random.split(k_a, batch))
            _, state, reward, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_s, batch), state, actions, params
            )
            return (state, key), reward.sum()

        _, r = jax.lax.scan(body, (state, key), None, length=iters)
        return r.sum()

    return iters * batch / _best_time(_jit(run), jax.random.PRNGKey(0))


def env_rate(task_id: str, batch: int, steps: int) -> float:
    """Our auto-resetting env (any backend) with uniform random actions, vmapped, in one scan."""
    env = make_env(TASKS[task_id])
    spec = env.spec
    iters = max(1, steps // batch)

    def actions(key):
        if spec.action_kind == "discrete":
            return jax.random.randint(key, (batch,), 0, spec.num_actions)
        return jax.random.uniform(
            key, (batch, spec.action_dim), minval=jnp.asarray(spec.action_low), maxval=jnp.asarray(spec.action_high)
        )

    def run(key):
        state, _ = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(carry, _):
            state, key = carry
            key, k_a, k_s = jax.random.split(key, 3)
            state, ts = jax.vmap(env.step)(jax.random.split(k_s, batch), state, actions(k_a))
            return (state, key), ts.reward.sum() + ts.obs.sum()

        _, r = jax.lax.scan(body, (state, key), None, length=iters)
        return r.sum()

    return iters * batch / _best_time(_jit(run), jax.random.PRNGKey(0))


def pypi_popgym_rate(env_id: str, seconds: float = 1.0) -> float:
    """PyPI popgym's steps/s: its own env, random actions, reset when done, a Python loop."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import popgym.envs

        from benchmarks.popgym import canonical_id

        env = getattr(popgym.envs, canonical_id(env_id))()
        env.reset(seed=0)
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(1000)]
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for a in actions:
                _, _, term, trunc, _ = env.step(np.asarray(a) if not np.isscalar(a) else a)
                if term or trunc:
                    env.reset()
            n += len(actions)
        return n / (time.perf_counter() - t0)


def popgym_table(steps: int, env_ids: list[str]) -> None:
    print(f"\n{'popgym port':<32}{'batch 1':>12}{'batch 256':>12}{'PyPI popgym':>13}{'÷PyPI b1':>10}{'÷PyPI b256':>11}")
    for env_id in env_ids:
        one = env_rate(env_id, 1, steps)
        wide = env_rate(env_id, 256, steps * 16)
        ref = pypi_popgym_rate(env_id)
        print(f"{env_id:<32}{one:>12,.0f}{wide:>12,.0f}{ref:>13,.0f}{one / ref:>10.1f}{wide / ref:>11.1f}", flush=True)


def raw_brax_rate(task_id: str, batch: int, steps: int) -> float:
    """brax's own `env.step` (no wrappers, no resets), vmapped, uniform random actions, one scan."""
    task = TASKS[task_id]
    env = load_brax_env(task.env_id, **dict(task.env_kwargs))
    iters = max(1, steps // batch)

    def run(key):
        state = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(carry, _):
            state, key = carry
            key, k_a = jax.random.split(key)
            a = jax.random.uniform(k_a, (batch, env.action_size), minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, a)
            return (
                state,
                key,
            ), state.reward.sum() + state.obs.sum()  # (a constant reward alone lets XLA drop the physics)

        _, r = jax.lax.scan(body, (state, key), None, length=iters)
        return r.sum()

    return iters * batch / _best_time(_jit(run), jax.random.PRNGKey(0))


BRAX_PERF_TASKS = ("brax-inverted_pendulum", "brax-reacher")


def brax_table(steps: int, agents: tuple[str, ...] = ("rtrrl", "ppo")) -> None:
    """brax env steps/s (spring) at batch 1 and 16, our wrapper's, and the agents' training steps/s,
    each agent as a ratio to raw brax at its own batch (rtrrl 1 env, ppo 4 envs)."""
    print(f"\n{'brax task':<26}{'raw b1':>9}{'raw b4':>9}{'raw b16':>9}{'ours b1':>9}{'÷raw':>6}", end="")
    for a in agents:
        print(f"{a:>10}{'÷raw':>6}", end="")
    print()
    for task_id in BRAX_PERF_TASKS:
        raw = {b: raw_brax_rate(task_id, b, steps if b == 1 else 4 * steps) for b in (1, 4, 16)}
        ours = env_rate(task_id, 1, steps)
        print(f"{task_id:<26}{raw[1]:>9,.0f}{raw[4]:>9,.0f}{raw[16]:>9,.0f}{ours:>9,.0f}{ours / raw[1]:>6.2f}", end="")
        for a in agents:
            rate = agent_rate(a, task_id, steps)
            batch = getattr(agent_registry.default_config(a), "num_envs", 1)
            print(f"{rate:>10,.0f}{rate / raw[batch]:>6.2f}", end="", flush=True)
        print(flush=True)


def _checksum(tree) -> jax.Array:
    leaves = [
        jnp.sum(x.real if jnp.iscomplexobj(x) else x)
        for x in jax.tree_util.tree_leaves(tree)
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.sum(jnp.stack(leaves)) if leaves else jnp.zeros(())


def agent_rate(agent_name: str, task_id: str, steps: int, num_envs: int = 0, seeds: int = 0) -> float:
    """Training env steps/s; `seeds > 0` vmaps that many independent seeds (aggregate rate).
    Seeds are initialised one by one (`lax.map`), as the runner does."""
    cfg = agent_registry.default_config(agent_name)
    if num_envs:
        if not hasattr(cfg, "num_envs"):
            return float("nan")
        cfg = dataclasses.replace(cfg, num_envs=num_envs)
    agent = agent_registry.make_agent(agent_name, cfg)
    env = make_env(TASKS[task_id])
    spi = agent.steps_per_iteration(env.spec)
    iters = max(1, steps // spi)

    def train(state):
        new_state, metrics = agent.train(state, env, iters)
        return metrics.episodes, _checksum(new_state)  # everything computed stays live (no dead-code shortcut)

    if seeds:
        keys = jax.random.split(jax.random.PRNGKey(0), seeds)
        states = jax.jit(lambda ks: jax.lax.map(lambda k: agent.init(k, env), ks))(keys)
        return seeds * iters * spi / _best_time(_jit(jax.vmap(train)), states)
    state = jax.jit(lambda k: agent.init(k, env))(jax.random.PRNGKey(0))
    return iters * spi / _best_time(_jit(train), state)


def _reference(agent_name: str) -> tuple[str, int, int]:
    """(task, wide batch, steps scale) an agent is timed on by default."""
    if agent_name.startswith("ppo"):
        return "CartPole-v1", 64, (4 if agent_name != "ppo" else 1)
    return "CartPole-vel", 16, 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default=None, help="time every agent on this task (default: its reference task)")
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per timed program (recurrent PPO: 1/4)")
    parser.add_argument("--agent", action="append", help="agents to time (default: all registered)")
    parser.add_argument(
        "--section",
        choices=["all", "agents", "popgym", "brax", "bootstrap", "reference"],
        default="all",
        help="what to time (default: agents, every popgym port, brax, the report's bootstrap, then rtrrl side by "
        "side with the authors' code)",
    )
    parser.add_argument(
        "--reference-src",
        metavar="PATH",
        help="the authors' code (a checkout, or a git directory holding the pinned commit) where GitHub "
        "cannot be reached (reference section)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (reference section)")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap resamples (bootstrap section)")
    parser.add_argument(
        "--rliable-reps",
        type=int,
        default=None,
        help="time rliable at this many resamples and scale its time linearly to --reps "
        "(default: --reps; rliable takes ~30 s for 50,000 on one core)",
    )
    parser.add_argument(
        "--popgym", action="append", metavar="ENV_ID", help="popgym ports to time (default: all, e.g. RepeatFirstHard)"
    )
    args = parser.parse_args()
    if args.task is not None and args.task not in TASKS:
        parser.error(f"unknown task {args.task!r}")
    names = args.agent or [n for n in agent_registry.AGENTS if not n.startswith("test-")]
    for n in names:
        if n not in agent_registry.AGENTS:
            parser.error(f"unknown agent {n!r}; valid: {', '.join(agent_registry.AGENTS)}")

    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}; XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}; "
        f"NPROC={os.environ.get('NPROC')!r}; {args.steps:,} env steps per timed program"
    )
    if args.section in ("all", "agents"):
        agents_table(args, names)
    if args.section in ("all", "popgym"):
        from benchmarks.popgym import ENV_IDS, canonical_id

        try:
            ids = [canonical_id(i) for i in args.popgym] if args.popgym else list(ENV_IDS)
        except KeyError as e:
            parser.error(e.args[0])
        popgym_table(min(args.steps, 20_000), ids)
    if args.section in ("all", "brax"):
        brax_table(min(args.steps, 50_000))
    if args.section in ("all", "bootstrap"):
        bootstrap_table(args.reps, args.rliable_reps or args.reps)
    if args.section in ("all", "reference"):
        from perf_reference import reference_table

        reference_table(args.reference_src, rounds=args.rounds)


def bootstrap_table(reps: int, rliable_reps: int, agents: int = 5, tasks: int = 20, runs: int = 10) -> None:
    """Our seeded, vectorized stratified bootstrap vs rliable's, same scores, same 4 metrics.
    rliable resamples in a Python loop; `rliable_reps < reps` times it on fewer and scales linearly."""
    import numpy as np
    from rliable import library as rly
    from rliable import metrics

    from reports import stats

    rng = np.random.default_rng(0)
    scores = {f"agent{i}": rng.normal(0.2 * i, 0.3, size=(runs, tasks)) for i in range(agents)}

    def four(x):
        return np.array(
            [
                metrics.aggregate_median(x),
                metrics.aggregate_iqm(x),
                metrics.aggregate_mean(x),
                metrics.aggregate_optimality_gap(x),
            ]
        )

    t0 = time.perf_counter()
    ours = stats.interval_estimates(scores, reps=reps, seed=0)
    t_ours = time.perf_counter() - t0
    np.random.seed(0)  # arch's resampler draws from numpy's global RNG: rliable's `random_state` does not reach it
    t0 = time.perf_counter()
    _, theirs = rly.get_interval_estimates(scores, four, reps=rliable_reps)
    t_rly = (time.perf_counter() - t0) * reps / rliable_reps
    worst = max(
        abs(getattr(ours[a][m], side) - theirs[a][k, i])
        for a in scores
        for i, m in enumerate(stats.METRICS)
        for k, side in enumerate(("low", "high"))
    )
    print(f"bootstrap: {agents} agents x {tasks} tasks x {runs} runs, {reps:,} resamples, 4 metrics")
    if rliable_reps != reps:
        print(f"  rliable timed at {rliable_reps:,} resamples, its time scaled linearly to {reps:,}")
    print(
        f"  reports.stats {t_ours:8.2f} s   rliable {t_rly:8.2f} s   rliable / ours = {t_rly / t_ours:.1f}x"
        f"   (largest CI endpoint difference {worst:.4f}, Monte-Carlo error)",
        flush=True,
    )


def agents_table(args: argparse.Namespace, names: list[str]) -> None:
    raw: dict[tuple[str, int], float] = {}

    def raw_rate(task: str, batch: int) -> float:
        if (task, batch) not in raw:
            raw[(task, batch)] = raw_env_rate(task, batch, args.steps)
        return raw[(task, batch)]

    print(
        f"{'agent':<12}{'task':<14}{'default':>12}{'÷raw':>7}{'wide':>6}{'steps/s':>12}{'÷raw':>7}"
        f"{'16 seeds':>12}{'÷default':>9}"
    )
    for n in names:
        task, wide, scale = _reference(n)
        task = args.task or task
        steps = max(args.steps // scale, 1)
        cfg = agent_registry.default_config(n)
        batch = getattr(cfg, "num_envs", 1)
        one = agent_rate(n, task, steps)
        many = agent_rate(n, task, steps, num_envs=wide)
        seeds16 = agent_rate(n, task, max(steps // 16, 1), seeds=16)
        print(
            f"{n:<12}{task:<14}{one:>12,.0f}{one / raw_rate(task, batch):>7.2f}{wide:>6}{many:>12,.0f}"
            f"{many / raw_rate(task, wide):>7.2f}{seeds16:>12,.0f}{seeds16 / one:>9.2f}",
            flush=True,
        )
    print(
        "raw env steps/s (gymnax step, random actions, lax.scan): "
        + "; ".join(f"{t} batch {b}: {r:,.0f}" for (t, b), r in sorted(raw.items()))
    )


if __name__ == "__main__":
    main()
