"""Every gymnax row of the paper's Tables 2 and 3 is registered with its settings [algorithm.md P3]."""

import json
import re

import jax
import pytest

import rtrrl_data
from benchmarks.envs import make_env
from benchmarks.suites import SUITES
from benchmarks.tasks import TASKS, resolve_task_id

TABLES = json.loads(rtrrl_data.PAPER_TABLES.read_text())["tables"]
GYMNAX_T3 = [r for r in TABLES["table3"]["rows"] if r["env"].startswith("gymnax ")]


def _expected_settings(settings):
    """Parse a settings cell of paper_tables.json ('mask [1,3]', '`memory_length=4`', 'constructor `size=4`')."""
    out = {}
    if not settings:
        return out
    m = re.search(r"mask \[([\d, ]+)\]", settings)
    if m:
        out["obs_mask"] = tuple(int(x) for x in m.group(1).split(","))
    for name in ("memory_length", "size"):
        m = re.search(rf"{name}=(\d+)", settings)
        if m:
            out[name] = int(m.group(1))
    return out


@pytest.mark.parametrize("row", TABLES["table2"]["rows"], ids=lambda r: r["paper_row"])
def test_table2_rows(row):
    task = TASKS[row["task"]]
    assert task.env_id == row["env"]
    assert task.package == "gymnax"
    assert task.max_episode_length == 500
    want = _expected_settings(row["settings"])
    assert task.obs_mask == want.get("obs_mask")
    assert dict(task.env_params).get("memory_length") == want.get("memory_length")
    assert dict(task.env_kwargs).get("size") == want.get("size")
    assert f"table2:{row['paper_row']}" in task.paper_rows
    assert task.id in SUITES["gymnax-paper"].tasks


@pytest.mark.parametrize("row", GYMNAX_T3, ids=lambda r: r["paper_row"])
def test_table3_gymnax_rows(row):
    task = TASKS[f"{row['task']}-ep1000"]
    assert task.env_id == row["env"].split()[1]
    assert task.max_episode_length == 1000
    assert task.obs_mask is None
    assert task.id in SUITES["lru-paper"].tasks


def test_suites_are_exactly_the_tables():
    assert len(SUITES["gymnax-paper"].tasks) == len(TABLES["table2"]["rows"]) == 20
    assert len(SUITES["lru-paper"].tasks) == len(TABLES["table3"]["rows"]) == 17
    assert sum(TASKS[t].package == "popgym" for t in SUITES["lru-paper"].tasks) == 17 - len(GYMNAX_T3) == 6
    for name in ("gymnax-paper", "lru-paper"):
        b = SUITES[name].budget
        assert (b.max_env_steps, b.patience, b.eval.eval_steps, SUITES[name].seeds) == (50_000_000, 20, 10_000, 5)


def _builds_and_steps_params():
    """popgym: test_popgym_backend. brax builds in seconds each: one here, the others in `slow`."""
    for t in sorted(t for t in TASKS if TASKS[t].package != "popgym"):
        slow = TASKS[t].package == "brax" and t != "brax-inverted_pendulum"
        yield pytest.param(t, marks=pytest.mark.slow) if slow else t


@pytest.mark.parametrize("task_id", _builds_and_steps_params())
def test_every_task_builds_and_steps(task_id):
    env = make_env(TASKS[task_id])
    spec = env.spec
    state, ts = env.reset(jax.random.PRNGKey(0))
    assert ts.obs.shape == (spec.obs_dim,)
    action = jax.numpy.zeros((spec.action_dim,)) if spec.action_kind == "continuous" else jax.numpy.asarray(0)
    state, ts = jax.jit(env.step)(jax.random.PRNGKey(1), state, action)
    assert ts.obs.shape == (spec.obs_dim,) and ts.obs.dtype == jax.numpy.float32
    assert spec.max_episode_length == (TASKS[task_id].max_episode_length or spec.max_episode_length)


def test_plain_tasks_keep_gymnax_defaults():
    assert make_env(TASKS["CartPole-v1"]).spec.max_episode_length == 500
    assert make_env(TASKS["Pendulum-v1"]).spec.max_episode_length == 200
    assert make_env(TASKS["Acrobot-v1"]).spec.num_actions == 3


@pytest.mark.parametrize(
    "row", [r for r in TABLES["table3"]["rows"] if r not in GYMNAX_T3], ids=lambda r: r["paper_row"]
)
def test_table3_popgym_rows(row):
    """The paper's popgym rows resolve (through the alias table) to the popjym-compat variants of
    our Easy ports, in lru-paper and popjym-paper; popjym's spelling of the env names the popgym port."""
    task = TASKS[resolve_task_id(row["task"])]
    assert task.package == "popgym" and task.id.endswith("Easy-popjym") and task.id == row["task_id"]
    assert resolve_task_id(row["env"].split()[-1]) + "-popjym" == task.id  # popjym's spelling, e.g. MinesweeperEasy
    assert resolve_task_id(row["env"].split()[-1] + "-popjym") == task.id
    assert f"table3:{row['paper_row']}" in task.paper_rows
    assert not TASKS[task.id.removesuffix("-popjym")].paper_rows  # the popgym port is not the paper's
    assert task.id in SUITES["lru-paper"].tasks and task.id in SUITES["popjym-paper"].tasks


def test_paper_rows_name_their_registry_task():
    """reports/ reads `task_id` from the JSON (it never imports the registry): keep it in sync."""
    for name, table in TABLES.items():
        for row in table["rows"]:
            assert f"{name}:{row['paper_row']}" in TASKS[row["task_id"]].paper_rows
    rows = {f"{n}:{r['paper_row']}" for n, t in TABLES.items() for r in t["rows"]}
    assert rows == {r for t in TASKS.values() for r in t.paper_rows}
