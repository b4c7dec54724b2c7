"""brax tasks behind our wrappers: episode limit, terminated vs truncated, a fresh key per reset,
actions clipped to [-1, 1], stable state types (one compilation), and the runner end to end."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.envs import make_env
from benchmarks.tasks import TASKS


def _task(task_id: str, **changes):
    return dataclasses.replace(TASKS[task_id], **changes)


def _rollout(env, steps: int, key, action_fn=None):
    """`steps` auto-resetting steps of one env; returns the stacked TimeSteps (jitted, one scan)."""
    dim = env.spec.action_dim

    def run(key):
        state, ts0 = env.reset(key)

        def body(state, k):
            k_a, k_s = jax.random.split(k)
            a = jax.random.uniform(k_a, (dim,), minval=-1.0, maxval=1.0) if action_fn is None else action_fn(k_a)
            state, ts = env.step(k_s, state, a)
            return state, ts

        _, ts = jax.lax.scan(body, state, jax.random.split(key, steps))
        return ts0, ts

    return jax.jit(run)(key)


def test_specs_are_brax_sizes_with_unit_action_bounds_and_the_backend_recorded():
    from brax import envs as brax_envs

    for task_id in ("brax-inverted_pendulum", "brax-hopper"):  # (each raw brax env loads for seconds)
        task = TASKS[task_id]
        raw = brax_envs.get_environment(task.env_id, backend="spring")
        spec = make_env(task).spec
        assert (spec.obs_dim, spec.action_dim) == (raw.observation_size, raw.action_size), task_id
        assert spec.action_kind == "continuous" and spec.action_low == (-1.0,) * spec.action_dim
        assert spec.action_high == (1.0,) * spec.action_dim and spec.max_episode_length == 1000
        assert task.to_config()["env_kwargs"] == {"backend": "spring"}, "the backend is in every run's config"


def test_the_episode_limit_truncates_and_terminations_stay_apart():
    """reacher never terminates: every episode ends by truncation at the cap. inverted_pendulum under
    random actions falls over: its episodes end by termination, long before the cap."""
    env = make_env(_task("brax-reacher", max_episode_length=50))
    _, ts = _rollout(env, 160, jax.random.PRNGKey(0))
    done = np.flatnonzero(np.asarray(ts.done))
    assert list(done) == [49, 99, 149]
    assert np.asarray(ts.truncated)[done].all() and not np.asarray(ts.terminated).any()
    assert list(np.asarray(ts.episode_length)[done]) == [50, 50, 50]
    np.testing.assert_allclose(np.asarray(ts.episode_return)[49], np.asarray(ts.reward)[:50].sum(), rtol=1e-5)

    env = make_env(TASKS["brax-inverted_pendulum"])
    _, ts = _rollout(env, 400, jax.random.PRNGKey(1))
    ends = np.flatnonzero(np.asarray(ts.done))
    assert len(ends) >= 3 and np.asarray(ts.terminated)[ends].all() and not np.asarray(ts.truncated).any()
    assert list(np.asarray(ts.episode_length)[ends]) == list(np.diff(ends, prepend=-1)), "lengths count from each reset"


def test_every_reset_draws_a_fresh_key():
    """brax's AutoResetWrapper replays one first state; ours starts each episode from its own key."""
    env = make_env(_task("brax-reacher", max_episode_length=20))
    ts0, ts = _rollout(env, 100, jax.random.PRNGKey(2))
    starts = np.concatenate([np.asarray(ts0.obs)[None], np.asarray(ts.obs)[np.asarray(ts.done)]])
    assert len(starts) == 6
    assert len({row.tobytes() for row in starts}) == len(starts), "no two episodes start alike"
    final = np.asarray(ts.final_obs)[np.asarray(ts.done)]
    assert not np.allclose(final, np.asarray(ts.obs)[np.asarray(ts.done)]), "obs is the next episode's first"


def test_actions_are_clipped_to_the_bounds():
    env = make_env(TASKS["brax-hopper"])
    state, _ = env.reset(jax.random.PRNGKey(3))
    key = jax.random.PRNGKey(4)
    step = jax.jit(env.step)
    wild = jnp.array([5.0, -7.0, 0.3])
    clipped = jnp.array([1.0, -1.0, 0.3])
    a, b = step(key, state, wild), step(key, state, clipped)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
    c = step(key, state, jnp.array([0.9, -0.9, 0.3]))
    assert not np.array_equal(np.asarray(a[1].obs), np.asarray(c[1].obs)), "in-bounds actions still matter"


@pytest.mark.parametrize("task_id", ["brax-inverted_pendulum", pytest.param("brax-hopper", marks=pytest.mark.slow)])
def test_state_types_are_stable_so_the_training_program_compiles_once(task_id):
    """Their brax step returns weakly typed leaves where reset returns strong ones: if the wrapper
    let a carried state change type, a training program fed its own output would compile a
    second time (and the runner's ahead-of-time compiled epoch would refuse it)."""
    from agents.random_agent import RandomAgent

    env = make_env(TASKS[task_id])
    agent = RandomAgent()
    state = jax.jit(lambda k: agent.init(k, env))(jax.random.PRNGKey(5))
    train = jax.jit(lambda s: agent.train(s, env, 8)[0])
    after = train(state)
    train(after)
    assert train._cache_size() == 1
    types = lambda t: [(x.dtype, x.weak_type) for x in jax.tree_util.tree_leaves(jax.eval_shape(lambda: t))]
    assert types(state) == types(after)


def test_unknown_backend_and_env_are_clear_errors(cli, tmp_path):
    out = tmp_path / "res"
    code, _, err = cli(
        "run",
        "--suite",
        "brax",
        "--task",
        "brax-reacher",
        "--agent",
        "random",
        "--out",
        str(out),
        "--set",
        'task.env_kwargs={"backend": "warp-drive"}',
    )
    assert code == 2 and "unknown brax backend 'warp-drive'" in err and not out.exists()


def test_building_a_brax_env_prints_nothing():
    """A fresh process (brax's import prints to stdout only once): no 'Failed to import warp'
    lines from mujoco.mjx on stdout, no unmaintained-brax notice on stderr."""
    code = "from benchmarks.envs import make_env; from benchmarks.tasks import TASKS; make_env(TASKS['brax-reacher'])"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "not actively being maintained" not in proc.stderr, (proc.stdout, proc.stderr)


@pytest.mark.slow  # ~25 s of brax compilation
def test_a_brax_run_through_the_runner_records_the_backend(cli, tmp_path):
    """Two evaluations (the compiled epoch runs on its own output) and the final score; the
    result file carries the backend and scores inside the task's bounds."""
    out = tmp_path / "res"
    code, _, err = cli(
        "run",
        "--suite",
        "brax",
        "--task",
        "brax-inverted_pendulum",
        "--agent",
        "random",
        "--seeds",
        "2",
        "--max-steps",
        "4000",
        "--eval-interval",
        "2000",
        "--set",
        "eval.eval_steps=1000",
        "--set",
        "eval.final_episodes=2",
        "--out",
        str(out),
        "--jobs",
        "1",
    )
    assert code == 0, err
    for seed in (0, 1):
        data = json.loads((out / f"brax/brax-inverted_pendulum/random/seed_{seed}.json").read_text())
        assert data["status"] == "completed" and data["num_evals"] == 2
        assert data["config"]["task"]["env_kwargs"] == {"backend": "spring"}
        assert 1 <= data["best_score"] <= 1000 and 1 <= data["final_score"] <= 1000


@pytest.mark.slow  # five brax compilations (~4 min)
def test_every_suite_agent_trains_and_is_scored_on_brax_through_the_runner(cli, tmp_path):
    out = tmp_path / "res"
    agents = ("linear-td", "rtrrl", "ppo", "ppo-gru", "ppo-ctrnn")
    args = [
        "run",
        "--suite",
        "brax",
        "--task",
        "brax-reacher",
        "--seeds",
        "1",
        "--max-steps",
        "8192",
        "--eval-interval",
        "4096",
        "--set",
        "eval.eval_steps=1000",
        "--set",
        "eval.final_episodes=1",
        "--set",
        "rtrrl.normalize_obs=true",
        "--out",
        str(out),
        "--jobs",
        "2",
    ]
    code, _, err = cli(*args, *[x for a in agents for x in ("--agent", a)])
    assert code == 0, err
    for a in agents:
        data = json.loads((out / f"brax/brax-reacher/{a}/seed_0.json").read_text())
        assert data["status"] == "completed" and data["num_evals"] >= 1, a
        assert data["best_score"] is not None and data["best_score"] <= 0 and data["final_score"] <= 0, a
