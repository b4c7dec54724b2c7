"""The progress display as the executors' listener (`benchmarks.executors.base.RunListener`)."""

from pathlib import Path

from benchmarks.executors.base import failure_results
from benchmarks.plan import Plan, make_plan
from benchmarks.progress import GridProgress


def test_progress_restarts_put_lost_work_back_in_the_total():
    """GridProgress as the executors' listener: a unit started again (lost worker) gets its
    planned steps back, and the bar's total counts the lost attempt's steps once more."""
    plan = make_plan(
        Path("/nonexistent"),
        "smoke",
        ["CartPole-v1"],
        ["random"],
        [0],
        {"budget": {"max_env_steps": 8000, "eval_interval": 2000}},
    )
    (unit,) = plan.units
    p = GridProgress(Plan(plan.units, [], []), enabled=True)
    p.print_plan(False)
    with p:
        total0 = p._progress.tasks[0].total
        p.on_start(unit)
        p.on_epoch(unit, 2000, 1)
        p.on_epoch(unit, 2000, 1)
        p.on_start(unit)  # lost: starts over
        assert p.restarts == 1 and p._progress.tasks[0].total == total0 + 4000
        assert "1 running" in p._units_text() and "1 restarted" in p._units_text()
        for _ in range(4):
            p.on_epoch(unit, 2000, 1)
        task = p._progress.tasks[0]
        assert task.completed == task.total == total0 + 4000


def test_early_stops_leave_the_total_and_failed_units_are_counted():
    plan = make_plan(
        Path("/nonexistent"),
        "smoke",
        ["CartPole-v1"],
        ["random"],
        [0, 1],
        {"budget": {"max_env_steps": 8000, "eval_interval": 2000}},
    )
    (unit,) = plan.units  # one block of two seeds: 4 epochs x 2000 steps x 2 seeds
    p = GridProgress(Plan(plan.units, [], []), enabled=True)
    p.print_plan(False)
    with p:
        assert p._progress.tasks[0].total == 16_000
        p.on_start(unit)
        p.on_epoch(unit, 4000, 1)  # one seed stopped after the first evaluation
        task = p._progress.tasks[0]
        assert task.completed == 4000 and task.total == 4000 + 1 * 2000 * 3
        p.on_result(unit, failure_results(unit, "boom", "test", "now"))
        task = p._progress.tasks[0]
        assert task.total == task.completed == 4000, "a finished unit's unspent budget leaves the total"
        assert p.units_failed == 1 and "units 1/1 · 0 running · 1 failed" == p._units_text()


def test_runs_left_to_other_runners_leave_the_total_and_are_summed_up(capsys):
    import dataclasses

    from benchmarks.claims import Claim, Holder

    plan = make_plan(
        Path("/nonexistent"),
        "smoke",
        ["CartPole-v1", "MemoryChain-4"],
        ["random"],
        [0, 1],
        {"budget": {"max_env_steps": 8000, "eval_interval": 2000}},
    )
    first, second = plan.units  # two blocks of two seeds: 16,000 steps each
    other = Holder("node7", 4211, "2026-12-04T10:00:00+00:00")
    p = GridProgress(Plan(plan.units, [], []), enabled=True)
    p.print_plan(False)
    with p:
        mine = dataclasses.replace(first, seeds=(1,))
        p.on_claim(first, Claim(mine, held={0: other}))  # cut down to seed 1
        p.on_claim(second, Claim(None, done=[0, 1]))  # another runner wrote both meanwhile
        assert p._progress.tasks[0].total == 8000 and p.units_total == 1
        p.on_start(mine)
        for _ in range(4):
            p.on_epoch(mine, 2000, 1)
        task = p._progress.tasks[0]
        assert task.completed == task.total == 8000
    p.summary()
    err = capsys.readouterr().err
    assert "CartPole-v1 random seeds 0: left to the runner that holds them (pid 4211 on node7" in err
    assert "MemoryChain-4 random seeds 0-1: already written by another runner" in err
    assert "2 written by other runners meanwhile" in err and "1 runs were left to another runner (pid 4211" in err
