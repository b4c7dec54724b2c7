"""The persistent XLA compilation cache: a unit compiled once (by any process) is loaded, not
recompiled, by later runs and workers. Results are unchanged; `compile_s` drops on hits.

Off unless `enable` is called (the CLI's `--compile-cache`); the hit counter is registered
with `jax.monitoring` then, not when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_hits = [0]
_listening = [False]


def _count_hit(event: str, **_: Any) -> None:
    if event == _HIT_EVENT:
        _hits[0] += 1


def enable(directory: str | None) -> None:
    """Use `directory` as this process's cache (created if missing); None or '' leaves it off."""
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    if not _listening[0]:
        jax.monitoring.register_event_listener(_count_hit)
        _listening[0] = True


def directory() -> str | None:
    """The cache directory in use, None when off."""
    return jax.config.jax_compilation_cache_dir or None


def hits() -> int:
    """Programs this process has loaded from the cache so far."""
    return _hits[0]
