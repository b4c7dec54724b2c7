"""The runner's XLA compile options (`benchmarks.program.compiler_options`): they must remove the
per-iteration copies they exist for, and change no number any agent computes."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest

import agents as registry
from benchmarks.envs import make_env
from benchmarks.program import compiler_options
from benchmarks.tasks import TASKS


def _program(name: str, iterations: int):
    agent = registry.make_agent(name, registry.default_config(name))
    task = "CartPole-v1" if name.startswith("ppo") or name == "random" else "CartPole-vel"
    env = make_env(TASKS[task])
    state = jax.jit(lambda k: agent.init(k, env))(jax.random.PRNGKey(7))
    return (lambda s: agent.train(s, env, iterations)), state


def _loop_copies(hlo: str) -> int:
    """Copy instructions in the largest while-loop body of a compiled module."""
    computations = re.split(r"\n(?=\S.*\{\n)", hlo)
    bodies = [c for c in computations if re.match(r"\S*(body|region)", c)]
    body = max(bodies, key=lambda c: c.count("\n"))
    return len(re.findall(r"= \S+ copy\(", body))


def test_the_options_remove_the_loop_carry_copies_of_an_online_step():
    train, state = _program("rtrrl", 10)
    plain = jax.jit(train).lower(state).compile().as_text()
    tuned = jax.jit(train, compiler_options=compiler_options()).lower(state).compile().as_text()
    assert _loop_copies(plain) > 10, "XLA's default copy insertion copies most loop-carried buffers"
    assert _loop_copies(tuned) <= 2


AGENTS = [
    "rtrrl",
    "ppo",
    pytest.param("linear-td", marks=pytest.mark.slow),
    pytest.param("rtrrl-lru", marks=pytest.mark.slow),
    pytest.param("rtrrl-rtrl", marks=pytest.mark.slow),
    pytest.param("ppo-gru", marks=pytest.mark.slow),
    pytest.param("ppo-ctrnn", marks=pytest.mark.slow),
    pytest.param("random", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name", AGENTS)
def test_the_options_change_no_number(name):
    train, state = _program(name, 2 if name.startswith("ppo") else 500)
    plain = jax.jit(train)(state)
    tuned = jax.jit(train, compiler_options=compiler_options())(state)
    for a, b in zip(jax.tree_util.tree_leaves(plain), jax.tree_util.tree_leaves(tuned), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
