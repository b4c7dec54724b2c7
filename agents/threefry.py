"""Lower jax's threefry PRNG hash unrolled on CPU too: the same bits, a fraction of the ops.

jax lowers `threefry2x32` on CPU as a 5-iteration `while` loop (smaller programs, faster
compiles) and unrolled everywhere else. On XLA's CPU thunk runtime every loop iteration pays a
fixed dispatch cost per op, and an online agent calls the hash several times per env step (key
splits, env resets, action sampling): the rolled loops cost more than the env step and the
network update together. The unrolled lowering is jax's own (the one GPU and TPU use); it
computes the same 32-bit words, so every random draw, and every result, is unchanged.

Importing this module changes nothing: `activate()` registers the lowering, called where
programs are built (the runner's `run_unit`, in every worker process, the perf tools, the test
session), so that importing `agents` never patches jax for a whole process that did not ask.
`RTRRL_BENCH_ROLLED_THREEFRY=1` keeps jax's choice. It reaches through a private jax module;
where that module has moved, it does nothing and `UNROLLED` stays False.
"""

from __future__ import annotations

import os

UNROLLED = False
"""Whether CPU programs lowered from now on use the unrolled hash."""


def use_unrolled_on_cpu(unrolled: bool = True) -> bool:
    """Register the unrolled (True) or jax's rolled (False) CPU lowering for programs lowered from
    now on; returns whether the requested lowering is in place."""
    global UNROLLED
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as t

        rule = t._threefry2x32_lowering_rule if unrolled else t._threefry2x32_cpu_lowering_rule
        mlir.register_lowering(t.threefry2x32_p, rule, platform="cpu")
    except (ImportError, AttributeError):
        return False
    UNROLLED = unrolled
    return True


def activate() -> bool:
    """The lowering this project compiles with: unrolled, unless `RTRRL_BENCH_ROLLED_THREEFRY=1`
    asks for jax's own. Idempotent; returns whether the unrolled lowering is in place."""
    rolled = os.environ.get("RTRRL_BENCH_ROLLED_THREEFRY", "") in ("1", "true")
    use_unrolled_on_cpu(not rolled)
    return UNROLLED
