"""Runner: per-seed early stopping in a vmapped block, determinism, resume, failures."""

import pytest

from benchmarks.plan import make_plan
from benchmarks.program import run_unit

SMALL = {
    "budget": {"max_env_steps": 40_000, "eval_interval": 2_000, "patience": 2},
    "eval": {"eval_steps": 300, "final_episodes": 2},
}


def _run(tmp_path, seeds, block_size=None, task="CartPole-v1", agent="random", overrides=SMALL):
    plan = make_plan(tmp_path, "smoke", [task], [agent], seeds, overrides, block_size)
    results = []
    for unit in plan.units:
        results += run_unit(unit, "test")
    return {r.seed: r for r in results}


def _expected_stop(scores, patience):
    """Independent re-implementation of early stopping [algorithm.md P6]: index of the evaluation that stops the run."""
    best, bad = float("-inf"), 0
    for i, s in enumerate(scores):
        if s > best:
            best, bad = s, 0
        else:
            bad += 1
        if bad >= patience:
            return i
    return None


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("block"), [0, 1, 2, 3])


def test_per_seed_early_stopping_inside_a_vmapped_block(block):
    lengths = set()
    for r in block.values():
        scores = r.curve.eval_score
        stop = _expected_stop(scores, patience=2)
        lengths.add(len(scores))
        if stop is None:
            assert r.status == "completed" and len(scores) == 20
        else:
            assert r.status == "early-stopped" and r.stop_reason == "patience"
            assert stop == len(scores) - 1, "the seed stopped exactly when its own rule said so"
        assert r.curve.env_steps == [2_000 * (i + 1) for i in range(len(scores))]
        assert r.env_steps == r.curve.env_steps[-1]
        assert r.best_score == max(scores)
        assert r.best_step == r.curve.env_steps[scores.index(max(scores))]
        assert r.timing.block_size == 4
    assert len(lengths) > 1, "seeds of one block stopped at different evaluations"


def test_same_seed_same_numbers_alone_or_in_a_block(block, tmp_path):
    alone = _run(tmp_path, [2], block_size=1)
    again = _run(tmp_path, [2], block_size=1)
    for r in (alone[2], again[2]):
        assert r.curve.eval_score == block[2].curve.eval_score
        assert r.curve.train_return == block[2].curve.train_return
        assert r.final_score == block[2].final_score
        assert r.config_hash == block[2].config_hash


def test_different_seeds_differ(block):
    assert block[0].curve.eval_score != block[1].curve.eval_score


def test_divergence_is_per_seed_and_recorded(tmp_path):
    res = _run(
        tmp_path,
        [0, 1, 2, 3, 4, 5],
        agent="test-nan",
        overrides={**SMALL, "budget": {**SMALL["budget"], "patience": 50}},
    )
    evals = set()
    for r in res.values():
        assert r.status == "diverged" and r.stop_reason == "divergence"
        # the NaN appears in the train call of the last evaluation; earlier scores are finite
        assert all(s is not None for s in r.curve.eval_score)
        assert r.env_steps == 2_000 * r.num_evals
        evals.add(r.num_evals)
    assert len(evals) > 1


def test_an_exception_becomes_a_failure_record(tmp_path):
    res = _run(tmp_path, [0, 1], agent="test-boom")
    for r in res.values():
        assert r.status == "failed" and "boom" in r.message
        assert r.curve.eval_score == [] and r.timing is None


def test_budget_rounds_to_whole_epochs(tmp_path):
    res = _run(
        tmp_path,
        [0],
        overrides={
            "budget": {"max_env_steps": 5_000, "eval_interval": 2_000, "patience": 20},
            "eval": {"eval_steps": 100, "final_episodes": 1},
        },
    )
    assert res[0].curve.env_steps == [2_000, 4_000] and res[0].status == "completed"
