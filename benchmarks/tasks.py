"""Task registry: a task id names everything that defines an environment, and nothing about learners.

Names follow the paper's tables [algorithm.md P3]. Table 2 rows ran with episodes capped at 500
steps, Table 3 rows at 1 000 (inferred from the scores, [algorithm.md P3]): the same gymnax env
under the two caps is two tasks, so Table 3's copies carry the suffix `-ep1000`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ObsMask = None | str | tuple[int, ...]


@dataclass(frozen=True)
class Task:
    id: str
    """Name used on the command line and in result paths (paper's row name where there is one)."""
    env_id: str
    """The package's environment id, e.g. gymnax's `CartPole-v1`."""
    package: str = "gymnax"
    """Which backend builds it: `gymnax`, `popgym` (our JAX ports, `benchmarks.popgym`) or `brax`."""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """Constructor arguments (DeepSea's `size`; a popgym port's difficulty settings override; a brax
    env's `backend`)."""
    env_params: tuple[tuple[str, Any], ...] = ()
    """Env-param overrides (MemoryChain's `memory_length`)."""
    obs_mask: ObsMask = None
    """Observation indices *kept* [algorithm.md P2]: None, 'even', 'odd', 'first_half' or a tuple.
    CartPole-vel keeps [1, 3] (the velocities), i.e. removes [0, 2]."""
    max_episode_length: int | None = None
    """Episode cap; overrides gymnax's `max_steps_in_episode` (None: the env's default)."""
    truncation_is_termination: bool = False
    """Report reaching the cap as termination (the reference code's behaviour, [algorithm.md K6])."""
    description: str = ""
    paper_rows: tuple[str, ...] = field(default=(), compare=False)
    """Where the task appears in the paper, e.g. ('table2:CartPole-vel',)."""

    def to_config(self) -> dict[str, Any]:
        """The task's settings as plain JSON data (hashed into every run's config)."""
        d = dataclasses.asdict(self)
        d.pop("paper_rows")
        d.pop("description")
        d["env_kwargs"] = dict(self.env_kwargs)
        d["env_params"] = dict(self.env_params)
        d["obs_mask"] = list(self.obs_mask) if isinstance(self.obs_mask, tuple) else self.obs_mask
        return d


# fields a user may override from the command line or a config file
OVERRIDABLE_TASK_FIELDS = ("obs_mask", "max_episode_length", "truncation_is_termination", "env_params", "env_kwargs")

TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.id in TASKS and TASKS[task.id] != task:
        raise ValueError(f"task {task.id!r} is already registered with other settings")
    TASKS[task.id] = task
    return task


def _t2(id: str, env_id: str, **kw: Any) -> Task:
    return register_task(Task(id, env_id, max_episode_length=500, paper_rows=(f"table2:{kw.pop('row', id)}",), **kw))


def _t3(row: str, env_id: str, **kw: Any) -> Task:
    return register_task(Task(f"{row}-ep1000", env_id, max_episode_length=1000, paper_rows=(f"table3:{row}",), **kw))


# ---- plain tasks (gymnax defaults) ----
register_task(Task("CartPole-v1", "CartPole-v1", description="fully observed CartPole, 500 steps"))
register_task(Task("Acrobot-v1", "Acrobot-v1", description="paper appendix Fig. 10"))
register_task(Task("Pendulum-v1", "Pendulum-v1", description="continuous control, 200 steps"))

# ---- Table 2: gymnax, episodes capped at 500 ----
_t2("CartPole-vel", "CartPole-v1", obs_mask=(1, 3), description="CartPole observing only velocities")
_t2("CartPole-pos", "CartPole-v1", obs_mask=(0, 2), description="CartPole observing only positions")
_t2("MetaMaze", "MetaMaze-misc")
_t2("DiscountingChain", "DiscountingChain-bsuite")
_t2("UmbrellaChain", "UmbrellaChain-bsuite")
_t2("BernoulliBandit", "BernoulliBandit-misc")
_t2("GaussianBandit", "GaussianBandit-misc")
_t2("Reacher", "Reacher-misc")
_t2("Swimmer", "Swimmer-misc")
_t2("MountainCarContinuous", "MountainCarContinuous-v0", row="MountCarCont")
_t2(
    "MountainCarContinuous-vel",
    "MountainCarContinuous-v0",
    obs_mask=(1,),
    row="MountCarCont-vel",
    description="observes only the velocity",
)
_t2(
    "MountainCarContinuous-pos",
    "MountainCarContinuous-v0",
    obs_mask=(0,),
    row="MountCarCont-pos",
    description="observes only the position",
)
for _n in (4, 8, 16, 32, 64):
    _t2(
        f"MemoryChain-{_n}",
        "MemoryChain-bsuite",
        env_params=(("memory_length", _n),),
        description=f"remember one bit for {_n} steps",
    )
for _n in (4, 8, 16):
    _t2(f"DeepSea-{_n}", "DeepSea-bsuite", env_kwargs=(("size", _n),), description=f"{_n}x{_n} exploration grid")

# ---- Table 3 (gymnax rows): episodes capped at 1 000 ----
for _row, _env in [
    ("MetaMaze", "MetaMaze-misc"),
    ("DiscountingChain", "DiscountingChain-bsuite"),
    ("UmbrellaChain", "UmbrellaChain-bsuite"),
    ("Catch", "Catch-bsuite"),
    ("BernoulliBandit", "BernoulliBandit-misc"),
    ("GaussianBandit", "GaussianBandit-misc"),
    ("PointRobot", "PointRobot-misc"),
    ("Reacher", "Reacher-misc"),
    ("Swimmer", "Swimmer-misc"),
]:
    _t3(_row, _env)
# The paper does not say which memory_length / size its Table 3 rows used ([algorithm.md P3],
# unverified): gymnax's defaults are taken and the choice is stated.
_t3(
    "MemoryChain",
    "MemoryChain-bsuite",
    env_params=(("memory_length", 5),),
    description="memory_length=5 (gymnax default; the paper's value is unknown)",
)
_t3(
    "DeepSea",
    "DeepSea-bsuite",
    env_kwargs=(("size", 8),),
    description="size=8 (gymnax default; the paper's value is unknown)",
)


# ---- popgym: every family PyPI popgym registers, at its three difficulties ----
# Ids are popgym's class names; episode lengths, rewards and spaces are popgym's own (returns
# in [-1, 1]). The paper's Table 3 names its rows after popjym's spellings (ALIASES) and ran
# on popjym, which differs from popgym in several games (docs/tasks.md, "popjym"): its six
# popgym rows are attached to `<Id>-popjym` tasks, our popjym-compat variants of the Easy
# tasks, the difficulty the paper's reference config uses [algorithm.md P3].
from benchmarks import popgym as _popgym  # noqa: E402  (stdlib-only registry, no jax)

_TABLE3_POPGYM = {
    "PositionOnlyCartPoleEasy": "StatelessCartPole",
    "NoisyPositionOnlyCartPoleEasy": "NoisyStatelessCartPole",
    "MineSweeperEasy": "Minesweeper",
    "MultiarmedBanditEasy": "MultiArmedBandit",
    "RepeatFirstEasy": "RepeatFirst",
    "RepeatPreviousEasy": "RepeatPrevious",
}
for _name, _fam in _popgym.FAMILIES.items():
    for _d in _popgym.DIFFICULTIES:
        _id = f"{_name}{_d}"
        register_task(Task(_id, _id, package="popgym", description=f"popgym {_fam.kind}: {_name} ({_d.lower()})"))
for _id, _row in _TABLE3_POPGYM.items():
    _popjym_id = _id + _popgym.POPJYM_SUFFIX
    register_task(
        Task(
            _popjym_id,
            _popjym_id,
            package="popgym",
            paper_rows=(f"table3:{_row}",),
            description=f"popjym-compat {_id}; differs from popgym: {_popgym.POPJYM[_popgym.split_id(_id)[0]].differs}",
        )
    )
POPJYM_TASKS = tuple(_id + _popgym.POPJYM_SUFFIX for _id in _TABLE3_POPGYM)
"""The popjym-compat variants of the paper's six popgym rows (`-popjym`), in Table 3's order."""

# ---- brax: PyPI brax envs, backend `spring` (fastest on CPU; the reference's preset) ----
# The backend is a constructor argument, so it is part of every run's config and result. brax's
# swimmer needs the `generalized` backend and crashes on jax 0.10: the paper's Swimmer rows are
# gymnax's `Swimmer-misc` (above).
BRAX_TASKS = {
    "inverted_pendulum": "brax: balance a pole on a cart (4-d obs, 1-d action)",
    "inverted_double_pendulum": "brax: balance two stacked poles (8-d obs, 1-d action)",
    "reacher": "brax: move a 2-link arm's tip to a target (11-d obs, 2-d action)",
    "hopper": "brax: one-legged hopping (11-d obs, 3-d action)",
    "halfcheetah": "brax: planar cheetah running (17-d obs, 6-d action); the reference code's preset",
    "ant": "brax: quadruped walking (27-d obs, 8-d action)",
}
for _name, _text in BRAX_TASKS.items():
    register_task(
        Task(
            f"brax-{_name}",
            _name,
            package="brax",
            env_kwargs=(("backend", "spring"),),
            max_episode_length=1000,
            description=_text,
        )
    )

TASK_ALIASES: dict[str, str] = {
    **{f"{alias}{d}": f"{name}{d}" for alias, name in _popgym.ALIASES.items() for d in _popgym.DIFFICULTIES},
    **{_popgym.popgym_gym_id(i): i for i in _popgym.ENV_IDS},
    **{row: task + _popgym.POPJYM_SUFFIX for task, row in _TABLE3_POPGYM.items()},
    **{
        f"{alias}Easy{_popgym.POPJYM_SUFFIX}": f"{name}Easy{_popgym.POPJYM_SUFFIX}"
        for alias, name in _popgym.ALIASES.items()
        if f"{name}Easy{_popgym.POPJYM_SUFFIX}" in TASKS
    },
}
"""Other spellings of task ids: popjym's and the paper's spellings of popgym ids (`MinesweeperEasy`, still
the popgym port; `MinesweeperEasy-popjym`, the compat variant), popgym's gymnasium ids, and the paper's
Table 3 row names, which name the task the row is compared with (`Minesweeper` -> `MineSweeperEasy-popjym`)."""


def resolve_task_id(name: str) -> str:
    """A task id, or the task an alias names (`StatelessCartPoleEasy` -> `PositionOnlyCartPoleEasy`)."""
    return name if name in TASKS else TASK_ALIASES.get(name, name)
