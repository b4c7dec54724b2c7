"""Result files: schema round trip, rejection of malformed files, atomic writes, resume decisions."""

import json
import os
import subprocess
import sys
import time

import pytest

from benchmarks.executors.base import write_unit_results
from benchmarks.plan import make_plan
from benchmarks.program import run_unit
from benchmarks.schema import RunResult, json_schema_text
from benchmarks.storage import atomic_write_text, read_result, resume_state
from reports.load import SCHEMA_PATH, load_results, validate

SMALL = {"budget": {"max_env_steps": 4_000, "eval_interval": 2_000}, "eval": {"eval_steps": 200, "final_episodes": 2}}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("res")
    plan = make_plan(out, "smoke", ["MemoryChain-4"], ["random"], [0, 1], SMALL)
    for unit in plan.units:
        write_unit_results(out, unit, run_unit(unit, "test"))
    return out


def _file(out):
    return out / "smoke" / "MemoryChain-4" / "random" / "seed_0.json"


def test_round_trip(written):
    path = _file(written)
    result = read_result(path)
    assert RunResult.model_validate_json(result.model_dump_json()) == result
    data = json.loads(path.read_text())
    assert data["schema_version"] == 3 and data["config"]["seed"] == 0
    assert data["config"]["schema_version"] == 2, "the config's own format version, part of its hash"
    assert data["curve"]["diagnostics"] == {}, "the random agent has no learning diagnostics"
    assert data["config"]["task"]["env_params"] == {"memory_length": 4}
    assert data["provenance"]["packages"]["jax"]
    assert validate(data) is None, "the exported JSON Schema accepts what the runner writes"


def test_exported_schema_is_in_sync():
    assert SCHEMA_PATH.read_text() == json_schema_text(), (
        "run `rtrrl-bench schema --write reports/run_result.schema.json`"
    )


@pytest.mark.parametrize(
    "mutate, why",
    [
        (lambda d: d.pop("config_hash"), "config_hash"),
        (lambda d: d.update(status="finished"), "status"),
        (lambda d: d.update(schema_version=4), "schema_version"),
        (lambda d: d["config_source"].update(kind="guessed"), "kind"),
        (lambda d: d["config_source"].pop("overrides"), "overrides"),
        (lambda d: d["curve"].update(diagnostics={"entropy": "high"}), "diagnostics"),
        (lambda d: d.update(unexpected=1), "unexpected"),
        (lambda d: d["curve"].update(env_steps="many"), "env_steps"),
        (lambda d: d.update(seed=1.5), "seed"),
    ],
)
def test_malformed_files_are_rejected_by_both_validators(written, tmp_path, mutate, why):
    data = json.loads(_file(written).read_text())
    mutate(data)
    bad = tmp_path / "seed_0.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=why):
        read_result(bad)
    assert validate(data) is not None
    loaded = load_results(tmp_path)
    assert loaded.runs == [] and len(loaded.rejected) == 1


def test_version_1_files_still_load(written, tmp_path):
    """v1 files (before `curve.diagnostics`) stay readable by the runner's resume and the report."""
    data = json.loads(_file(written).read_text())
    data["schema_version"] = 1
    del data["curve"]["diagnostics"], data["config_source"]
    old = tmp_path / "seed_0.json"
    old.write_text(json.dumps(data))
    assert read_result(old).curve.diagnostics == {}
    assert validate(data) is None
    assert len(load_results(tmp_path).runs) == 1


def test_truncated_file_is_rejected(written, tmp_path):
    text = _file(written).read_text()
    (tmp_path / "seed_0.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="unreadable"):
        read_result(tmp_path / "seed_0.json")


def test_crash_during_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "seed_0.json"
    path.write_text('{"old": true}')

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        atomic_write_text(path, "x" * 10_000)
    assert path.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["seed_0.json"], "temp file removed"


def test_kill_during_write_leaves_old_or_new_never_partial(tmp_path):
    path = tmp_path / "seed_0.json"
    path.write_text("old")
    code = (
        "import os, time, sys\n"
        "from pathlib import Path\n"
        "from benchmarks import storage\n"
        "os.fsync = lambda fd: time.sleep(30)\n"  # stall between write and rename
        f"storage.atomic_write_text(Path({str(path)!r}), 'new' * 100000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    saw_tmp = False
    for _ in range(400):
        if any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
            saw_tmp = True
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert saw_tmp, "the writer was killed mid-write"
    assert path.read_text() == "old"
    # the leftover temp file is never mistaken for a result
    assert [p for p, _ in load_results(tmp_path).rejected] == [path]


def test_resume_states(written, tmp_path):
    plan = make_plan(written, "smoke", ["MemoryChain-4"], ["random"], [0, 1], SMALL)
    assert plan.units == [] and len(plan.skipped) == 2, "a re-run does no work"
    from benchmarks.config import config_hash

    result = read_result(_file(written))
    assert resume_state(_file(written), result.config_hash)[0] == "done"
    assert resume_state(_file(written), config_hash({"other": 1}))[0] == "stale"
    assert resume_state(tmp_path / "none.json", "x")[0] == "missing"
    (tmp_path / "c.json").write_text("{")
    assert resume_state(tmp_path / "c.json", "x")[0] == "corrupt"
    failed = json.loads(_file(written).read_text())
    failed["status"] = "failed"
    (tmp_path / "f.json").write_text(json.dumps(failed))
    assert resume_state(tmp_path / "f.json", result.config_hash)[0] == "failed"
