"""`--dry-run`'s hours: the speed log the runner keeps beside its results, and the projection made
from it, checked against the result files and against hours worked out by hand."""

import json
from dataclasses import replace

import pytest
from test_cli import FAST

from benchmarks import calibration
from benchmarks.calibration import Measurement
from benchmarks.plan import make_plan

DEVICE = "cpu x1 (x86_64, 2 cpus)"


def _results(out):
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/*/*/seed_*.json"))]


def test_every_finished_unit_logs_its_speed_as_its_result_files_state_it(cli, tmp_path):
    out = tmp_path / "res"
    code, _, err = cli("run", "--suite", "smoke", "--seeds", "3", "--out", str(out), "--jobs", "1", *FAST)
    assert code == 0, err
    logged = json.loads((out / "speeds.json").read_text())["blocks"]
    by_unit: dict[tuple[str, str], list[dict]] = {}
    for r in _results(out):
        by_unit.setdefault((r["task"], r["agent"]), []).append(r)
    assert len(logged) == len(by_unit) == 2
    for (task, agent), runs in by_unit.items():
        [entry] = [e for e in logged.values() if (e["task"], e["agent"]) == (task, agent)]
        longest = max(r["env_steps"] for r in runs)
        assert entry["seed_steps"] == longest
        assert entry["run_s"] == runs[0]["timing"]["run_s"]
        assert entry["block_size"] == 3 and entry["device"] == runs[0]["provenance"]["device"]
        assert entry["budget_used"] == pytest.approx(longest / runs[0]["config"]["budget"]["max_env_steps"])
    # the log agrees with a fresh scan of the result files, so a directory without one loses nothing
    assert {k: Measurement(**v) for k, v in logged.items()} == calibration.scan(out)


def test_an_unreadable_speed_log_is_rebuilt_from_the_results(cli, tmp_path):
    out = tmp_path / "res"
    base = ["run", "--suite", "smoke", "--seeds", "1", "--out", str(out), "--jobs", "1", *FAST]
    assert cli(*base, "--task", "CartPole-v1")[0] == 0
    (out / "speeds.json").write_text("{not json")
    assert cli(*base, "--task", "MemoryChain-4")[0] == 0
    logged = json.loads((out / "speeds.json").read_text())["blocks"]
    assert sorted(e["task"] for e in logged.values()) == ["CartPole-v1", "MemoryChain-4"]


def _units(tmp_path, seeds=(0, 1, 2, 3)):
    plan = make_plan(tmp_path, "smoke", seeds=list(seeds), overrides={"budget": {"max_env_steps": 10_000}})
    return plan.units  # CartPole-v1/random, MemoryChain-4/random


def _m(task, *, steps=1000, run_s=2.0, block=4, used=0.5, agent="random", device=DEVICE):
    return Measurement(task, agent, device, block, steps, run_s, used)


def test_projection_matches_hours_worked_out_by_hand(tmp_path):
    cartpole, memory = _units(tmp_path)
    budget = cartpole.steps_per_epoch * cartpole.num_epochs  # per seed
    measured = [
        _m("CartPole-v1", steps=1000, run_s=2.0, used=0.5),
        _m("CartPole-v1", steps=1000, run_s=4.0, used=1.0),  # median of 2 and 4 ms/step: 3 ms
        _m("CartPole-v1", steps=1000, run_s=0.001, device="gpu"),  # another device: never used
    ]
    p = calibration.project([cartpole], measured, DEVICE, jobs=1)
    [u] = p.units
    assert u.source == "measured"
    assert u.at_most_s == pytest.approx(budget * 0.003)
    assert u.expected_s == pytest.approx(budget * 0.003 * 0.75)
    assert p.measurements == 2
    # MemoryChain-4 was never measured: it borrows the agent's median over its measured tasks
    p = calibration.project([cartpole, memory], measured, DEVICE, jobs=2)
    assert [u.source for u in p.units] == ["measured", "borrowed"]
    assert p.units[1].at_most_s == pytest.approx(memory.steps_per_epoch * memory.num_epochs * 0.003)


def test_other_block_sizes_scale_linearly_and_unmeasured_agents_stay_unknown(tmp_path):
    [one_seed, _] = _units(tmp_path, seeds=(0,))
    budget = one_seed.steps_per_epoch * one_seed.num_epochs
    p = calibration.project([one_seed], [_m("CartPole-v1", steps=1000, run_s=4.0, block=4)], DEVICE, jobs=1)
    assert p.units[0].at_most_s == pytest.approx(budget * 0.001)
    p = calibration.project([one_seed], [_m("CartPole-v1", agent="rtrrl")], DEVICE, jobs=1)
    assert p.units[0].source == "unknown" and p.units[0].at_most_s is None
    assert p.core_hours() == 0.0


def test_wall_hours_hand_units_out_in_plan_order_to_the_first_free_worker(tmp_path):
    [unit, _] = _units(tmp_path)
    per_step = 3600 / (unit.steps_per_epoch * unit.num_epochs)  # one hour per unit
    long = replace(unit, num_epochs=unit.num_epochs * 3)  # three hours
    m = _m("CartPole-v1", steps=1, run_s=per_step, used=1.0)
    p = calibration.project([long, unit, unit, unit], [m], DEVICE, jobs=2)
    assert p.core_hours() == pytest.approx(6.0)
    assert p.wall_hours() == pytest.approx(3.0)  # 3 h on one worker, 1+1+1 on the other
    p = calibration.project([unit, unit, unit, long], [m], DEVICE, jobs=2)
    assert p.wall_hours() == pytest.approx(4.0)  # the long unit starts last, when a worker frees at 1 h
    assert calibration.project([long, unit], [m], DEVICE, jobs=1).wall_hours() == pytest.approx(4.0)


def test_dry_run_prints_the_projection_from_measured_speeds(cli, tmp_path):
    out = tmp_path / "res"
    assert cli("run", "--suite", "smoke", "--seeds", "2", "--out", str(out), "--jobs", "1", *FAST)[0] == 0
    more = ["--seeds", "2-5", "--jobs", "1", "--dry-run"]
    code, _, err = cli("run", "--suite", "smoke", "--out", str(out), *more, *FAST)
    assert code == 0, err
    assert "from 2 measured blocks" in err and "at most" in err and "expected" in err, err
    # another directory, with the first one's speeds passed in
    other = tmp_path / "other"
    code, _, err = cli(
        "run", "--suite", "smoke", "--out", str(other), "--dry-run", "--speeds", str(out / "speeds.json"), *FAST
    )
    assert code == 0 and "from 2 measured blocks" in err, err
    assert not other.exists(), "a dry run writes nothing"
    # result files copied in without their log's entries still count
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "smoke").symlink_to(out / "smoke")
    calibration.write(copied / "speeds.json", {})
    code, _, err = cli("run", "--suite", "smoke", "--seeds", "2-5", "--out", str(copied), "--dry-run", *FAST)
    assert code == 0 and "from 2 measured blocks" in err, err
    code, _, err = cli("run", "--suite", "smoke", "--out", str(other), "--dry-run", *FAST)
    assert code == 0 and "none of these agents has a measured speed" in err, err


@pytest.mark.parametrize("content, message", [(None, "no such file"), ("[1, 2]", "is not a speeds file")])
def test_a_bad_speeds_file_is_a_one_line_user_error(cli, tmp_path, content, message):
    speeds = tmp_path / "speeds.json"
    if content is not None:
        speeds.write_text(content)
    code, _, err = cli("run", "--suite", "smoke", "--out", str(tmp_path / "o"), "--dry-run", "--speeds", str(speeds))
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
