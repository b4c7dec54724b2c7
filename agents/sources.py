"""Where a configuration came from: the record a fair comparison needs next to every result.

A benchmark that pits a configuration chosen by a screen against ones taken as published says
little unless each row says which is which, and how much choosing went into it. Every agent's
default config and every preset carries a `ConfigSource`; the runner copies it, with the run's
own overrides, into each result file (`config_source`, never part of the config hash).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS: tuple[str, ...] = ("paper", "library", "screen", "tuned", "none", "unrecorded")
"""`paper`: the paper's published settings or its authors' code; `library`: a library's published
defaults, not tuned here; `screen`: chosen by a screen in this project; `tuned`: reserved for a
later `rtrrl-bench tune`; `none`: nothing to choose; `unrecorded`: registered without a source
(a plugin agent)."""

CHOSEN_HERE = ("screen", "tuned")
"""Kinds whose choice this project made, and so must say on what it was measured."""


@dataclass(frozen=True)
class ConfigSource:
    kind: str
    """One of `KINDS`."""
    summary: str
    """One short sentence for tables and `rtrrl-bench list`."""
    tasks: tuple[str, ...] = ()
    """Screen/tuned: the task ids the choice was measured on; empty otherwise."""
    seeds: tuple[int, ...] = ()
    """Screen/tuned: the seeds every compared configuration ran; empty otherwise."""
    configurations: int | None = None
    """Screen/tuned: how many configurations were compared (the more, the more selection bias)."""
    env_steps: int | None = None
    """Screen/tuned: the budget of one run; None otherwise."""
    reference: str | None = None
    """The document that records the choice (a path in this repository)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"config source kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if not self.summary:
            raise ValueError("a config source needs a summary")
        measured = (self.tasks, self.seeds, self.configurations, self.env_steps)
        if self.kind in CHOSEN_HERE and not all(measured):
            raise ValueError(f"a {self.kind!r} source must name its tasks, seeds, configurations and env_steps")


UNRECORDED = ConfigSource("unrecorded", "not recorded: registered without a source")
"""What an agent or preset registered without a source gets, so a plugin runs and says so."""


# ---- the shipped agents and presets (docs/agents.md: Where each default comes from) -----------

RANDOM = ConfigSource("none", "no hyperparameters to choose: uniform random actions", reference="docs/agents.md")

SCREEN_PROBE_TASKS = (
    "CartPole-vel",
    "CartPole-pos",
    "MemoryChain-16",
    "UmbrellaChain",
    "MountainCarContinuous",
    "ConcentrationEasy",
    "BattleshipEasy",
    "RepeatPreviousEasy",
)
"""Screen 1's eight probe tasks (docs/rtrrl_default.md); all of them are in screen 2 as well."""

RTRRL_SCREEN = ConfigSource(
    "screen",
    "chosen by two screens in this project: 17 candidates on 8 probe tasks, then the pick against the paper's "
    "two presets and entropy rates up to 3e-2 on 36 tasks (seeds 0-4, 500k env steps; CartPole-vel 5M)",
    tasks=tuple(
        # screen 2, the `rtrrl-screen` suite: every Table 2 row, then every popgym family at Easy
        """CartPole-vel CartPole-pos MetaMaze DiscountingChain UmbrellaChain BernoulliBandit GaussianBandit
        Reacher Swimmer MountainCarContinuous MountainCarContinuous-vel MountainCarContinuous-pos
        MemoryChain-4 MemoryChain-8 MemoryChain-16 MemoryChain-32 MemoryChain-64 DeepSea-4 DeepSea-8
        DeepSea-16 RepeatPreviousEasy RepeatFirstEasy CountRecallEasy AutoencodeEasy HigherLowerEasy
        ConcentrationEasy BattleshipEasy MineSweeperEasy MultiarmedBanditEasy PositionOnlyCartPoleEasy
        VelocityOnlyCartPoleEasy NoisyPositionOnlyCartPoleEasy PositionOnlyPendulumEasy
        NoisyPositionOnlyPendulumEasy LabyrinthEscapeEasy LabyrinthExploreEasy""".split()
    ),
    seeds=(0, 1, 2, 3, 4),
    configurations=22,
    env_steps=500_000,
    reference="docs/rtrrl_default.md",
)
"""`rtrrl`'s default, candidate c11 of docs/rtrrl_default.md. Screen 1: 17 candidates, `--seeds 5`
(seeds 0-4), 500k env steps (CartPole-vel also 5M for four of them). Screen 2 (`rtrrl-screen`):
the pick, `paper-table1` and `paper-code` on 36 tasks, seeds 0-4, 500k env steps (CartPole-vel
5M), plus entropy rates 1.5e-2, 2e-2 and 3e-2 against which 1e-2 was kept: 17 + 2 + 3 = 22
configurations. The tasks are the union of both screens (screen 1's are all in screen 2)."""

TABLE1 = ConfigSource(
    "paper",
    "the paper's Table 1 (Adam 1e-3 everywhere, entropy 1e-5, no normalisation) without its gradient clip; "
    "not tuned here",
    reference="docs/agents.md",
)
"""`UnclippedTable1Config`: the family members the screen did not measure keep Table 1's values; its clip
is off, as in the authors' code (docs/agents.md: Defaults, and where they depart from the paper)."""

PUREJAXRL_PPO = ConfigSource(
    "library", "purejaxrl's defaults (ppo.py, CartPole-v1), not tuned here", reference="docs/agents.md"
)
PUREJAXRL_PPO_RNN = ConfigSource(
    "library", "purejaxrl's defaults (ppo_rnn.py, CartPole-v1), not tuned here", reference="docs/agents.md"
)
PPO_CTRNN = ConfigSource(
    "paper",
    "the paper's PPO-CTRNN baseline as the authors' code set it (lr 1e-5, 4 envs x 32 steps, GAE lambda 0.9, "
    "entropy 1e-3), not tuned",
    reference="docs/algorithm.md",
)
"""[algorithm.md B1]: the authors' purejaxrl-derived baseline closest in time to the paper."""

PAPER_TABLE1 = ConfigSource(
    "paper", "the paper's Table 1 and Algorithms 1-2 as published; not tuned here", reference="docs/algorithm.md"
)
PAPER_CODE = ConfigSource(
    "paper", "the authors' code published with the paper, every quirk on; not tuned here", reference="docs/compat.md"
)
