"""Executors: where a plan's units compute. Every executor takes the same units and gives the
same result files; the calling process alone writes `results/` (see `benchmarks.executors.base.Executor`).

- `local` (default): this process or worker processes on this machine (`local.py`).
- `ray`: tasks on a Ray cluster, many machines (`ray_executor.py`; `pip install -e .[ray]`).
"""

from __future__ import annotations

EXECUTORS = ("local", "ray")
