"""Speed benchmark: agent training steps/s as a ratio to the raw env rate, measured in one process.

    python -m benchmarks.perf [--task CartPole-vel] [--steps 200000] [--agent random ...]

Raw env = gymnax's own auto-resetting `step` with uniform random actions in one jitted
`lax.scan`, no wrappers. Agents run through `Agent.train` at batch 1, with 16 envs sharing
parameters (`num_envs=16` where the agent has it), and as a 16-seed vmapped block.
Absolute numbers on a shared CPU move; the ratios are what to compare.
"""

from __future__ import annotations

import os

os.environ.setdefault("NPROC", "1")

import argparse
import dataclasses
import time

import gymnax
import jax

import agents as agent_registry
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


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
                jax.random.split(k_s, batch), state, actions, params)
            return (state, key), reward.sum()

        _, r = jax.lax.scan(body, (state, key), None, length=iters)
        return r.sum()

    return iters * batch / _best_time(jax.jit(run), jax.random.PRNGKey(0))


def agent_rate(agent_name: str, task_id: str, steps: int, num_envs: int = 1, seeds: int = 0) -> float:
    """Training env steps/s; `seeds > 0` vmaps that many independent seeds (aggregate rate)."""
    cfg = agent_registry.default_config(agent_name)
    if num_envs > 1:
        if not hasattr(cfg, "num_envs"):
            return float("nan")
        cfg = dataclasses.replace(cfg, num_envs=num_envs)
    agent = agent_registry.make_agent(agent_name, cfg)
    env = make_env(TASKS[task_id])
    spi = agent.steps_per_iteration(env.spec)
    iters = max(1, steps // spi)

    def train(key):
        state = agent.init(key, env)
        state, metrics = agent.train(state, env, iters)
        return metrics.episodes

    if seeds:
        fn = jax.jit(jax.vmap(train))
        keys = jax.random.split(jax.random.PRNGKey(0), seeds)
        return seeds * iters * spi / _best_time(fn, keys)
    return iters * spi / _best_time(jax.jit(train), jax.random.PRNGKey(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="CartPole-vel")
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per timed program")
    parser.add_argument("--agent", action="append", help="agents to time (default: all registered)")
    args = parser.parse_args()
    if args.task not in TASKS:
        parser.error(f"unknown task {args.task!r}")
    names = args.agent or [n for n in agent_registry.AGENTS if not n.startswith("test-")]
    for n in names:
        if n not in agent_registry.AGENTS:
            parser.error(f"unknown agent {n!r}; valid: {', '.join(agent_registry.AGENTS)}")

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}; "
          f"NPROC={os.environ.get('NPROC')!r}; task {args.task}; {args.steps:,} steps per program")
    raw1 = raw_env_rate(args.task, 1, args.steps)
    raw16 = raw_env_rate(args.task, 16, args.steps)
    print(f"raw env (gymnax step, random actions, lax.scan): batch 1 {raw1:>12,.0f} steps/s | batch 16 {raw16:>12,.0f} steps/s")
    print(f"{'agent':<14}{'batch 1':>14}{'÷raw1':>8}{'16 envs':>14}{'÷raw16':>8}{'16 seeds':>14}{'÷1 seed':>9}")
    for n in names:
        one = agent_rate(n, args.task, args.steps)
        envs16 = agent_rate(n, args.task, args.steps, num_envs=16)
        seeds16 = agent_rate(n, args.task, max(args.steps // 16, 1), seeds=16)
        print(f"{n:<14}{one:>14,.0f}{one / raw1:>8.2f}{envs16:>14,.0f}{envs16 / raw16:>8.2f}"
              f"{seeds16:>14,.0f}{seeds16 / one:>9.2f}")


if __name__ == "__main__":
    main()
