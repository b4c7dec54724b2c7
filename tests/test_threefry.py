"""The unrolled CPU lowering of jax's threefry hash (agents.threefry) draws exactly the bits of
jax's own rolled lowering, and removes the loops from compiled programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from agents import threefry

DRAWS = """
import json, sys
import jax, jax.numpy as jnp
import agents
from agents import threefry
assert not threefry.UNROLLED, "importing agents patches nothing"
assert threefry.activate() == (sys.argv[1] == "unrolled"), threefry.UNROLLED

@jax.jit
def draws(seed):
    key = jax.random.PRNGKey(seed)
    a, b, c = jax.random.split(key, 3)
    return {
        "split": jax.random.split(b, 7),
        "bits": jax.random.bits(a, (5, 3)),
        "uniform": jax.random.uniform(c, (11,)),
        "normal": jax.random.normal(jax.random.fold_in(c, 3), (4,)),
        "categorical": jax.random.categorical(a, jnp.log(jnp.arange(1.0, 6.0)), shape=(9,)),
        "vmapped": jax.vmap(lambda k: jax.random.uniform(k, (2,)))(jax.random.split(c, 4)),
    }

out = {s: {k: jax.device_get(v).tolist() for k, v in draws(s).items()} for s in (0, 1, 12345)}
print(json.dumps(out))
"""


def _draws(mode: str) -> dict:
    env = {**os.environ, "RTRRL_BENCH_ROLLED_THREEFRY": "1" if mode == "rolled" else "0"}
    done = subprocess.run(
        [sys.executable, "-c", DRAWS, mode], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout)


def test_unrolled_lowering_draws_the_same_bits_as_jax_rolled_one():
    rolled, unrolled = _draws("rolled"), _draws("unrolled")
    assert rolled == unrolled
    assert len(set(map(str, rolled["0"]["uniform"]))) == 11  # real draws, not a constant


def test_compiled_programs_have_no_threefry_loop_on_cpu():
    if jax.default_backend() != "cpu":
        return

    def f(key):
        return jax.random.uniform(jax.random.split(key, 3)[1], (4,))

    key = jax.random.PRNGKey(0)
    assert threefry.UNROLLED
    assert " while(" not in jax.jit(f).lower(key).compile().as_text()
    try:
        threefry.use_unrolled_on_cpu(False)
        rolled = jax.jit(lambda k: f(k) + 0.0)  # a new function: lowered afresh with jax's rule
        assert " while(" in rolled.lower(key).compile().as_text()
        np.testing.assert_array_equal(rolled(key), jnp.asarray(jax.jit(f)(key)))
    finally:
        threefry.use_unrolled_on_cpu(True)
    assert threefry.UNROLLED


RUNNER = """
import tempfile
from pathlib import Path
from agents import threefry
from benchmarks.plan import make_plan
from benchmarks.program import run_unit
assert not threefry.UNROLLED
unit = make_plan(Path(tempfile.mkdtemp()), "smoke", ["MemoryChain-4"], ["random"], [0]).units[0]
assert [r.status for r in run_unit(unit)] == ["completed"]
assert threefry.UNROLLED, "the runner compiles with the unrolled hash in its own process"
"""


def test_the_runner_activates_the_unrolled_lowering_where_it_compiles():
    env = {**os.environ, "RTRRL_BENCH_ROLLED_THREEFRY": "0", "RTRRL_BENCH_COMPILE_CACHE": "none"}
    subprocess.run([sys.executable, "-c", RUNNER], env=env, check=True, timeout=300, capture_output=True)
