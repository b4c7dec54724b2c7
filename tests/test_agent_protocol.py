"""Every registered agent honours the protocol: vmapped seed blocks (guarded against the jax 0.10
thread-pool hang by a timeout), valid actions, exact env-step counting."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
from agents.base import Agent
from benchmarks.envs import make_env
from benchmarks.tasks import TASKS

USER_AGENTS = [n for n in agents.AGENTS if not n.startswith("test-")]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in ("ppo-gru", "ppo-lstm") else n for n in USER_AGENTS]
)
def test_vmapped_seed_block_finishes(name):  # (GRU/LSTM PPO, the slowest to compile, in `slow`; ppo-ctrnn stays)
    """Runs in a child process so a deadlock fails the test instead of hanging the suite."""
    code = textwrap.dedent(f"""
        import jax, agents
        from benchmarks.envs import make_env
        from benchmarks.tasks import TASKS
        agent = agents.make_agent({name!r})
        for task in ("CartPole-vel", "Pendulum-v1"):
            env = make_env(TASKS[task])
            def run(key):
                s = agent.init(key, env)
                s, m = agent.train(s, env, 64)
                return m.episodes
            out = jax.jit(jax.vmap(run))(jax.random.split(jax.random.PRNGKey(0), 4))
            jax.block_until_ready(out)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


@pytest.mark.parametrize("name", USER_AGENTS)
@pytest.mark.parametrize("task_id", ["CartPole-pos", "Pendulum-v1", "Reacher"])
def test_policy_actions_are_valid(name, task_id):
    agent = agents.make_agent(name)
    assert isinstance(agent, Agent)
    env = make_env(TASKS[task_id])
    params = agent.policy_params(agent.init(jax.random.PRNGKey(0), env))
    _, ts = env.reset(jax.random.PRNGKey(1))
    carry = agent.initial_carry(params)
    policy = jax.jit(agent.policy)
    actions = []
    for i in range(50):
        carry, a = policy(params, carry, ts, jax.random.PRNGKey(i))
        actions.append(np.asarray(a))
    actions = np.stack(actions)
    spec = env.spec
    if spec.action_kind == "discrete":
        assert actions.shape == (50,) and set(np.unique(actions)) <= set(range(spec.num_actions))
    else:
        assert actions.shape == (50, spec.action_dim)
        assert (actions >= np.array(spec.action_low)).all() and (actions <= np.array(spec.action_high)).all()


@pytest.mark.parametrize("name", USER_AGENTS)
def test_env_steps_are_counted_exactly(name):
    """MemoryChain-4 episodes last exactly 5 steps: finished episodes = steps // 5 per env."""
    agent = agents.make_agent(name)
    env = make_env(TASKS["MemoryChain-4"])
    spi = agent.steps_per_iteration(env.spec)
    state = agent.init(jax.random.PRNGKey(0), env)
    _, metrics = jax.jit(agent.train, static_argnums=(1, 2))(state, env, 10)
    num_envs = getattr(agent.config, "num_envs", 1)
    assert int(metrics.episodes) == (10 * spi // num_envs) // 5 * num_envs
    assert jnp.isfinite(metrics.episode_return_sum)
