"""JAX ports of every environment PyPI popgym registers, at its three difficulties.

`make("RepeatPreviousEasy")` builds a port; the names are popgym's class names (its gymnasium
ids are `popgym-<name>-v0`). The paper (and popjym) spell some of them differently; `ALIASES`
maps those spellings to ours. Each family lives in its own module and is imported on first use.

The paper ran popjym (github.com/EdanToledo/popjym), a JAX port whose games differ from popgym's
in places. `POPJYM` lists compat variants of the paper's six families, subclasses of our ports
that reproduce popjym where it differs: `make("RepeatPreviousEasy-popjym")`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

DIFFICULTIES = ("Easy", "Medium", "Hard")


@dataclass(frozen=True)
class Family:
    module: str
    cls: str
    difficulties: tuple[tuple[str, dict[str, Any]], ...]
    """(difficulty, constructor arguments), the values popgym's Easy/Medium/Hard subclasses pass."""
    popgym_id: str = ""
    """popgym's gymnasium id stem where it differs from the class name (`VelocityOnlyCartpole`)."""
    kind: str = "memory"
    """popgym's grouping: diagnostic, control, noisy, game or navigation."""


def _f(module: str, cls: str, easy: dict, medium: dict, hard: dict, **kw: Any) -> Family:
    return Family(module, cls, (("Easy", easy), ("Medium", medium), ("Hard", hard)), **kw)


FAMILIES: dict[str, Family] = {
    "RepeatPrevious": _f(
        "repeat_previous",
        "RepeatPrevious",
        dict(num_decks=1, k=4),
        dict(num_decks=2, k=32),
        dict(num_decks=3, k=64),
        kind="diagnostic",
    ),
    "RepeatFirst": _f(
        "repeat_first", "RepeatFirst", dict(num_decks=1), dict(num_decks=8), dict(num_decks=16), kind="diagnostic"
    ),
    "CountRecall": _f(
        "count_recall",
        "CountRecall",
        dict(num_decks=1, deck_type="colors"),
        dict(num_decks=2, deck_type="suits"),
        dict(num_decks=4, deck_type="ranks"),
        kind="diagnostic",
    ),
    "Autoencode": _f(
        "autoencode", "Autoencode", dict(num_decks=1), dict(num_decks=2), dict(num_decks=3), kind="diagnostic"
    ),
    "HigherLower": _f(
        "higher_lower", "HigherLower", dict(num_decks=1), dict(num_decks=2), dict(num_decks=3), kind="game"
    ),
    "Concentration": _f(
        "concentration",
        "Concentration",
        dict(num_decks=1, deck_type="colors"),
        dict(num_decks=2, deck_type="colors"),
        dict(num_decks=1, deck_type="ranks"),
        kind="game",
    ),
    "Battleship": _f(
        "battleship", "Battleship", dict(board_size=8), dict(board_size=10), dict(board_size=12), kind="game"
    ),
    "MineSweeper": _f(
        "minesweeper",
        "MineSweeper",
        dict(dims=(4, 4), num_mines=2),
        dict(dims=(6, 6), num_mines=6),
        dict(dims=(8, 8), num_mines=10),
        kind="game",
    ),
    "MultiarmedBandit": _f(
        "multiarmed_bandit",
        "MultiarmedBandit",
        dict(num_bandits=10, episode_length=200),
        dict(num_bandits=20, episode_length=400),
        dict(num_bandits=30, episode_length=600),
        kind="game",
    ),
    "PositionOnlyCartPole": _f(
        "cartpole",
        "PositionOnlyCartPole",
        dict(max_episode_length=200),
        dict(max_episode_length=400),
        dict(max_episode_length=600),
        kind="control",
    ),
    "VelocityOnlyCartPole": _f(
        "cartpole",
        "VelocityOnlyCartPole",
        dict(max_episode_length=200),
        dict(max_episode_length=400),
        dict(max_episode_length=600),
        popgym_id="VelocityOnlyCartpole",
        kind="control",
    ),
    "NoisyPositionOnlyCartPole": _f(
        "cartpole",
        "NoisyPositionOnlyCartPole",
        dict(noise_sigma=0.1),
        dict(noise_sigma=0.2),
        dict(noise_sigma=0.3),
        kind="noisy",
    ),
    "PositionOnlyPendulum": _f(
        "pendulum",
        "PositionOnlyPendulum",
        dict(max_episode_length=200),
        dict(max_episode_length=150),
        dict(max_episode_length=100),
        kind="control",
    ),
    "NoisyPositionOnlyPendulum": _f(
        "pendulum",
        "NoisyPositionOnlyPendulum",
        dict(noise_sigma=0.1),
        dict(noise_sigma=0.2),
        dict(noise_sigma=0.3),
        kind="noisy",
    ),
    "LabyrinthEscape": _f(
        "labyrinth",
        "LabyrinthEscape",
        dict(maze_dims=(10, 10)),
        dict(maze_dims=(14, 14)),
        dict(maze_dims=(18, 18)),
        kind="navigation",
    ),
    "LabyrinthExplore": _f(
        "labyrinth",
        "LabyrinthExplore",
        dict(maze_dims=(10, 10)),
        dict(maze_dims=(14, 14)),
        dict(maze_dims=(18, 18)),
        kind="navigation",
    ),
}

ALIASES: dict[str, str] = {
    # the paper's Table 3 and popjym's `make` ids -> popgym's names
    "StatelessCartPole": "PositionOnlyCartPole",
    "NoisyStatelessCartPole": "NoisyPositionOnlyCartPole",
    "Minesweeper": "MineSweeper",
    "MultiArmedBandit": "MultiarmedBandit",
    "VelocityOnlyCartpole": "VelocityOnlyCartPole",
}

ENV_IDS: tuple[str, ...] = tuple(f"{name}{d}" for name in FAMILIES for d in DIFFICULTIES)

POPJYM_SUFFIX = "-popjym"


@dataclass(frozen=True)
class Compat:
    cls: str
    """The compat class, in the family's own module."""
    differs: str
    """What popjym does differently from popgym (task descriptions and docs)."""


POPJYM: dict[str, Compat] = {
    "RepeatPrevious": Compat(
        "RepeatPreviousPopjym", "rewards naming the card k back, not k-1; 52 steps, not 51 (first k unrewarded)"
    ),
    "RepeatFirst": Compat("RepeatFirstPopjym", "52 steps, not 51, at +-1/51: returns in [-52/51, 52/51]"),
    "MineSweeper": Compat(
        "MineSweeperPopjym",
        "cannot be won: runs until a mine or a 15th step (best return 23/24); observes the mine count "
        "one-hot over 2 floats, not 3 (a count of 2 shows as zeros)",
    ),
    "MultiarmedBandit": Compat(
        "MultiarmedBanditPopjym", "the 200th step terminates (not truncates); observes one float, not a one-hot pair"
    ),
    "PositionOnlyCartPole": Compat("PositionOnlyCartPolePopjym", "the 200th step terminates (not truncates)"),
    "NoisyPositionOnlyCartPole": Compat("NoisyPositionOnlyCartPolePopjym", "the 200th step terminates (not truncates)"),
}
"""popjym's versions of the paper's six Table 3 families (popgym name -> compat class). popjym's
Easy/Medium/Hard arguments for these six are popgym's, so `make` takes them from `FAMILIES`;
the descriptions give Easy's numbers."""


def split_id(env_id: str) -> tuple[str, str]:
    """`RepeatPreviousEasy` -> (`RepeatPrevious`, `Easy`), resolving aliases."""
    for d in DIFFICULTIES:
        if env_id.endswith(d):
            name = env_id[: -len(d)]
            name = ALIASES.get(name, name)
            if name in FAMILIES:
                return name, d
    raise KeyError(
        f"popgym has no environment {env_id!r} (families: {', '.join(FAMILIES)}; "
        f"difficulties: {', '.join(DIFFICULTIES)})"
    )


def canonical_id(env_id: str) -> str:
    """The popgym class name of an id or alias (`StatelessCartPoleEasy` -> `PositionOnlyCartPoleEasy`)."""
    return "".join(split_id(env_id))


def make(env_id: str, **overrides: Any) -> Any:
    """The port of a popgym environment, e.g. `make("MineSweeperHard")`, or a popjym compat
    variant, e.g. `make("MineSweeperEasy-popjym")`."""
    popjym = env_id.endswith(POPJYM_SUFFIX)
    name, difficulty = split_id(env_id.removesuffix(POPJYM_SUFFIX))
    if popjym and name not in POPJYM:
        raise KeyError(f"no popjym compat variant of {name!r} (variants: {', '.join(POPJYM)})")
    fam = FAMILIES[name]
    kwargs = {**dict(fam.difficulties)[difficulty], **overrides}
    cls = getattr(importlib.import_module(f"benchmarks.popgym.{fam.module}"), POPJYM[name].cls if popjym else fam.cls)
    return cls(**kwargs)


def popgym_gym_id(env_id: str) -> str:
    """The gymnasium id PyPI popgym registers for one of our ids."""
    name, difficulty = split_id(env_id)
    return f"popgym-{FAMILIES[name].popgym_id or name}{difficulty}-v0"
