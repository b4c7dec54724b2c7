"""Time the authors' RTRRL training loop; runs inside the reference virtual environment (their
lock-file pins), so it imports nothing from this project.

    python reference_rtrrl_child.py SOURCE_DIR BATCH EPISODES

Runs their `train_rtrrl` with their default hyperparameters on gymnax CartPole-v1 with the
velocities masked (`obs_mask="even"`: CartPole-vel), evaluation and early stopping off, and
records the wall time of every episode of their loop (one `lax.scan` over `steps` env steps per
episode, plus their per-episode host work). Prints one JSON line: env steps per episode and the
median seconds per episode after the first two (compilation and warm-up).
"""

from __future__ import annotations

import json
import statistics
import sys
import time


class _TimedRange:
    """Stands in for their progress bar (`tqdm.trange`): yields episode numbers and stamps each."""

    stamps: list[float] = []

    def __init__(self, n: int, **_: object) -> None:
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            self.stamps.append(time.perf_counter())
            yield i
        self.stamps.append(time.perf_counter())

    def set_description(self, _text: str, refresh: bool = True) -> None:
        pass

    def write(self, text: str) -> None:
        print(text, file=sys.stderr)


def main() -> None:
    source, batch, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.path.insert(0, source)
    import jax
    import rtrrl
    from envs.environments import EnvironmentParams

    rtrrl.trange = _TimedRange
    env = EnvironmentParams(env_name="CartPole-v1", obs_mask="even", max_ep_length=1000, batch_size=batch, render=False)
    args = rtrrl.RTRRLParams(seed=1, episodes=episodes, eval_every=0, patience=0, env_params=env)
    stdout, sys.stdout = sys.stdout, sys.stderr  # their prints (config, env info) stay off the result line
    try:
        rtrrl.train_rtrrl(args)
    finally:
        sys.stdout = stdout
    stamps = _TimedRange.stamps
    durations = [b - a for a, b in zip(stamps, stamps[1:])][2:]
    result = {
        "jax": jax.__version__,
        "steps_per_episode": args.steps * batch,
        "median_s": statistics.median(durations),
        "episodes_timed": len(durations),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
