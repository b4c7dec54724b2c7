"""Rewrite result files made before RTRRL's reference-compat switches moved into `compat`.

    python tools/migrate_results.py results/            # every result file below the directory
    python tools/migrate_results.py results/ --check    # only say how many files would change

The grouping renamed fields without changing behaviour (the same command gives byte-identical
scores before and after), so a finished run stays finished: this moves the old flat fields of
its recorded config into `compat` under their new names and recomputes `config_hash`, so that
`rtrrl-bench run` skips it instead of redoing it as stale. Each file is rewritten atomically;
files without the old fields are left as they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.config import config_hash
from benchmarks.storage import read_result, write_result

RENAMED = {
    "wiring_reference_traces": "wiring_traces",
    "average_logprob_over_dims": "average_logprob_over_dims",
    "rtrl_reference_compat": "rtrl_wrong_axis",
    "lru_reference_b_trace": "lru_b_trace",
    "normalize_eval_only": "normalize_eval_only",
    "var_scaling_live_gradient": "var_scaling_live_gradient",
    "reference_prev_action_at_reset": "prev_action_at_reset",
    "reference_shared_action_key": "shared_action_key",
    "reference_unclipped_eval": "unclipped_eval",
    "reference_lambda_rnn_zero": "lambda_rnn_zero",
    "reference_continuous_actor_gradient": "continuous_actor_gradient",
}
"""Old flat field -> its name in `compat`; `eval_reset_on_done` became `compat.eval_keeps_state`, negated."""


def migrate_hyperparameters(hp: dict) -> dict | None:
    """The hyperparameters with the compat group, or None if they have no old field."""
    if not any(k in hp for k in (*RENAMED, "eval_reset_on_done")):
        return None
    out = {k: v for k, v in hp.items() if k not in RENAMED and k != "eval_reset_on_done"}
    compat = {new: hp[old] for old, new in RENAMED.items()}
    compat["eval_keeps_state"] = not hp["eval_reset_on_done"]
    return {**out, "compat": compat}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--check", action="store_true", help="count the files that would change; write nothing")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"migrate_results: no directory {args.results}", file=sys.stderr)
        return 2
    changed = 0
    for path in sorted(args.results.rglob("seed_*.json")):
        try:
            run = read_result(path)
        except ValueError as e:
            print(f"migrate_results: skipping {path}: {e}", file=sys.stderr)
            continue
        new = migrate_hyperparameters(run.config["agent"]["hyperparameters"])
        if new is None:
            continue
        changed += 1
        if not args.check:
            config = {**run.config, "agent": {**run.config["agent"], "hyperparameters": new}}
            write_result(path, run.model_copy(update={"config": config, "config_hash": config_hash(config)}))
    print(f"{changed} result files {'would change' if args.check else 'rewritten'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
