"""The tables `rtrrl-bench list` and `rtrrl-bench normalization` print, read without a terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

import agents
from benchmarks import listing
from benchmarks import normalization as norm
from benchmarks.suites import SUITES
from benchmarks.tasks import TASKS


def _text(table: Table) -> str:
    console = Console(width=400, file=io.StringIO())
    console.print(table)
    return console.file.getvalue()


def _column(table: Table, header: str) -> list[str]:
    column = next(c for c in table.columns if c.header == header)
    return list(column.cells)


def test_all_lists_every_table_in_order_and_one_kind_only_its_own(monkeypatch):
    monkeypatch.setattr(listing, "tasks_table", lambda: Table(title="tasks"))  # builds every env: see below
    titles = [t.title for t in listing.tables("all")]
    agent_titles = [f"agent {name}" for name in agents.AGENTS]
    assert titles == ["suites", "tasks", *agent_titles, "presets (--agent NAME@PRESET or --preset PRESET)"]
    assert [t.title for t in listing.tables("agents")] == agent_titles
    assert [t.title for t in listing.tables("suites")] == ["suites"]


def test_a_suite_with_budgets_per_task_shows_their_range():
    table = listing.suites_table()
    steps = dict(zip(_column(table, "suite"), _column(table, "max steps"), strict=True))
    caps = [SUITES["brax"].budget_for(t).max_env_steps for t in SUITES["brax"].tasks]
    assert min(caps) < max(caps) and steps["brax"] == f"{min(caps):,}-{max(caps):,}"
    assert steps["smoke"] == f"{SUITES['smoke'].budget.max_env_steps:,}"


def test_a_task_whose_env_cannot_be_built_is_still_listed(monkeypatch):
    import benchmarks.envs

    def unavailable(task):
        raise ImportError("no backend here")

    monkeypatch.setattr(benchmarks.envs, "make_env", unavailable)
    task = TASKS["CartPole-v1"]
    row = listing._task_row(task)
    assert row[:3] == ("CartPole-v1", task.package, task.env_id)
    assert row[5:8] == ("?", "unavailable (ImportError)", str(task.max_episode_length))


def test_a_built_task_shows_its_spaces():
    row = listing._task_row(TASKS["CartPole-vel"])
    assert row[5:7] == ("2", "2 discrete"), "velocities only: 2 of CartPole's 4 observations"


def test_presets_list_only_the_fields_they_change():
    rows = {row[1]: row for row in listing.preset_rows("rtrrl")}
    assert set(rows) == set(agents.PRESETS["rtrrl"])
    defaults = dict((k, v) for k, v, _ in agents.flat_fields(agents.default_config("rtrrl")))
    for preset, row in rows.items():
        changed = [k for k, v, _ in agents.flat_fields(agents.preset_config("rtrrl", preset)) if defaults[k] != v]
        assert changed and [item.split("=")[0] for item in row[4].split(", ")] == changed, preset


def test_the_constants_table_shows_the_protocol_and_prints_markup_literally():
    doc = norm.load()
    deep = {**doc["tasks"]["DeepSea-4"], "ceiling_source": "analytic [bold]not markup[/bold]"}
    text = _text(listing.constants_table({**doc, "tasks": {"DeepSea-4": deep}}))
    protocol = doc["floor_protocol"]
    assert f"normalization constants v{doc['version']}" in text and protocol["measured_utc"] in text
    assert "analytic [bold]not markup[/bold]" in text
    assert f"{deep['floor']:.4g}" in text and f"{deep['ceiling']:.4g}" in text
