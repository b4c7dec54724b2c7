"""The `normalization` command's policy without the CLI: what its options ask for, what they are
refused with (before anything is measured), and where each kind of request takes its floors from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks import floors
from benchmarks import normalization as norm
from benchmarks.config import ConfigError
from benchmarks.tasks import TASKS

DOC = norm.load()


@pytest.fixture
def user_task(monkeypatch):
    """A user's task that no family rule gives a ceiling, registered for this test only."""
    monkeypatch.setattr(norm, "USER_CEILINGS", {})
    task = dataclasses.replace(TASKS["CartPole-v1"], id="Mine-v0", env_id="Mine-env")
    monkeypatch.setitem(TASKS, task.id, task)
    return task.id


@pytest.mark.parametrize(
    "write_to, measure, expected",
    [
        (None, False, None),
        (None, True, norm.PATH),
        ("", False, norm.PATH),
        ("", True, norm.PATH),
        ("c.json", True, Path("c.json")),
    ],
)
def test_the_constants_go_to_write_or_with_measure_to_the_package_table(write_to, measure, expected):
    assert floors.write_target(write_to, measure) == expected


def test_what_each_kind_of_request_asks_for(tmp_path):
    assert floors.constants_request() == floors.ConstantsRequest("stored")
    assert floors.constants_request(
        tasks=["StatelessCartPoleEasy", "DeepSea-4", "DeepSea-4"]
    ) == floors.ConstantsRequest("stored", ("DeepSea-4", "PositionOnlyCartPoleEasy")), (
        "aliases resolved, sorted, once each"
    )
    out = tmp_path / "c.json"
    assert floors.constants_request(measure=True, tasks=["DeepSea-4"], write_to=str(out)) == floors.ConstantsRequest(
        "measure", ("DeepSea-4",), out
    )
    assert floors.constants_request(measure=True) == floors.ConstantsRequest("measure", (), norm.PATH)
    assert floors.constants_request(measure=True, write_to=str(out), results_dir=str(tmp_path)).results_dir == tmp_path
    assert floors.constants_request(from_dir=str(tmp_path)) == floors.ConstantsRequest("results", (), None, tmp_path)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"measure": True, "from_dir": "."}, "--measure and --from exclude each other"),
        ({"results_dir": "."}, "--results needs --measure"),
        ({"tasks": ["DeepSea-4", "NoSuchTask"]}, "unknown task 'NoSuchTask'; see `rtrrl-bench list tasks`"),
        ({"measure": True, "tasks": ["DeepSea-4"]}, "must hold every task measured by one command"),
        ({"write_to": "", "tasks": ["DeepSea-4"]}, "must hold every task measured by one command"),
        ({"write_to": "/nonexistent/c.json"}, "cannot write /nonexistent/c.json: no directory /nonexistent"),
        ({"from_dir": "/nonexistent"}, "no results directory /nonexistent"),
        # the first refusal wins: the option clash before the unknown task before the target
        ({"measure": True, "from_dir": ".", "tasks": ["NoSuchTask"]}, "exclude each other"),
        ({"tasks": ["NoSuchTask"], "write_to": "/nonexistent/c.json"}, "unknown task"),
    ],
)
def test_refusals_are_one_line_before_any_work(options, message):
    with pytest.raises(ConfigError) as e:
        floors.constants_request(**options)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_every_ceiling_is_known_before_a_measurement_but_not_to_show(user_task, tmp_path):
    assert floors.constants_request(tasks=[user_task]).task_ids == (user_task,), "showing needs no ceiling"
    with pytest.raises(
        ConfigError, match=f"^no ceiling for task '{user_task}': give one with --ceiling {user_task}=VALUE"
    ):
        floors.constants_request(measure=True, tasks=[user_task], write_to=str(tmp_path / "c.json"))
    floors.register_ceilings([f"{user_task}=2.5"])
    request = floors.constants_request(measure=True, tasks=[user_task], write_to=str(tmp_path / "c.json"))
    assert request.task_ids == (user_task,)
    assert norm.ceiling(TASKS[user_task]) == norm.Ceiling(2.5, floors.CEILING_OPTION_SOURCE)


@pytest.mark.parametrize(
    "option, message",
    [
        ("Mine-v0", "--ceiling 'Mine-v0': expected ID=VALUE with a number"),
        ("Mine-v0=high", "--ceiling 'Mine-v0=high': expected ID=VALUE with a number"),
        ("Mine-v0=nan", "ceiling of 'Mine-v0' must be a finite number"),
        ("CartPole-vel=3", "task 'CartPole-vel' is the package's"),
    ],
)
def test_ceiling_options_are_refused_by_name(user_task, option, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        floors.register_ceilings([option])
    assert norm.USER_CEILINGS == {}


def test_showing_filters_the_stored_table_and_writing_rerenders_it(monkeypatch, tmp_path):
    """Shown: the stored numbers as they are; written: the stored floors with this version's ceilings."""
    monkeypatch.setitem(norm.CEILINGS_BY_TASK, "DeepSea-4", norm.Ceiling(5.0, "a corrected ceiling"))
    shown = floors.build_constants(floors.constants_request(tasks=["DeepSea-4"]), command="test")
    assert shown == {**DOC, "tasks": {"DeepSea-4": DOC["tasks"]["DeepSea-4"]}}
    request = floors.constants_request(write_to=str(tmp_path / "c.json"))
    written = floors.build_constants(request, command="test")
    assert written["tasks"]["DeepSea-4"] == {
        **DOC["tasks"]["DeepSea-4"],
        "ceiling": 5.0,
        "ceiling_source": "a corrected ceiling",
    }
    assert {**written, "tasks": {**written["tasks"], "DeepSea-4": DOC["tasks"]["DeepSea-4"]}} == DOC


def test_no_stored_table_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setattr(norm, "PATH", tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="no constants file .*missing.json; measure with"):
        floors.build_constants(floors.ConstantsRequest("stored"), command="test")


def test_a_measurement_takes_its_floors_from_the_runner_with_the_requests_settings(monkeypatch, tmp_path):
    calls = []

    def measure(task_ids, **kwargs):
        calls.append((task_ids, kwargs))
        return {t: DOC["tasks"][t] for t in task_ids}

    monkeypatch.setattr(floors, "measure_floors", measure)
    request = floors.ConstantsRequest("measure", ("DeepSea-4",), tmp_path / "c.json", tmp_path / "runs")
    doc = floors.build_constants(request, command="cmd", jobs=3, plugins=("mine",))
    assert calls == [
        (
            ["DeepSea-4"],
            {"results_dir": tmp_path / "runs", "jobs": 3, "command": "cmd", "verbose": True, "plugins": ("mine",)},
        )
    ]
    assert doc["tasks"] == {"DeepSea-4": DOC["tasks"]["DeepSea-4"]} and doc["version"] == norm.NORMALIZATION_VERSION
    assert set(doc["floor_protocol"]) == set(DOC["floor_protocol"]) and doc["floor_protocol"] != DOC["floor_protocol"]


def test_floors_from_results_read_the_requests_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(
        floors, "floors_from_results", lambda d, ids: {t: DOC["tasks"][t] for t in ids if d == tmp_path}
    )
    doc = floors.build_constants(
        floors.constants_request(from_dir=str(tmp_path), tasks=["MemoryChain-4"]), command="test"
    )
    assert doc["tasks"] == {"MemoryChain-4": DOC["tasks"]["MemoryChain-4"]}
    with pytest.raises(floors.FloorError, match="no result file"):  # the real reader, on an empty directory
        monkeypatch.undo()
        floors.build_constants(
            floors.constants_request(from_dir=str(tmp_path), tasks=["MemoryChain-4"]), command="test"
        )
