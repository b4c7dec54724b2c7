"""Suites: named task lists with the agents, seeds and budgets a command gets when it names none.

What a budget means (steps, evaluations, the stop rule) is `benchmarks.protocol`'s; a suite
only chooses the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.protocol import PAPER_BUDGET, PAPER_PATIENCE, PROFILES, Budget, EvalProtocol
from benchmarks.tasks import POPJYM_TASKS, TASKS


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[str, ...]
    agents: tuple[str, ...]
    """Agents run when the command names none."""
    seeds: int
    """Seeds run when the command names none (0 .. seeds-1)."""
    budget: Budget
    description: str
    difficulties: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Other task lists selectable with `--difficulty` (popgym's easy/medium/hard/all); `tasks` is the default."""
    agent_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """Agent settings the suite fixes (before the user's overrides), e.g. the same Meta-RL input for all."""
    task_budgets: tuple[tuple[str, Budget], ...] = ()
    """Budgets of particular tasks (the rest get `budget`), under the `default` profile."""

    def budget_for(self, task_id: str, profile: str = "default") -> Budget:
        """The task's budget under a profile: `default` (the suite's) or `paper` (the paper's 50M cap)."""
        if profile == "paper":
            return PAPER_BUDGET
        if profile != "default":
            raise ValueError(f"unknown budget profile {profile!r}; valid: {', '.join(PROFILES)}")
        return dict(self.task_budgets).get(task_id, self.budget)

    def tasks_for(self, difficulty: str | None) -> tuple[str, ...]:
        if difficulty is None:
            return self.tasks
        choices = dict(self.difficulties)
        if difficulty not in choices:
            valid = f"one of {', '.join(choices)}" if choices else "none: it has one task list"
            raise ValueError(f"suite {self.name!r} has no difficulty {difficulty!r} ({valid})")
        return choices[difficulty]

    def overrides(self) -> dict[str, dict[str, Any]]:
        return {agent: dict(fields) for agent, fields in self.agent_settings}


SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    missing = [t for t in {*suite.tasks, *(t for _, ts in suite.difficulties for t in ts)} if t not in TASKS]
    if missing:
        raise ValueError(f"suite {suite.name!r} names unknown tasks {missing}")
    SUITES[suite.name] = suite
    return suite


register_suite(
    Suite(
        name="smoke",
        tasks=("CartPole-v1", "MemoryChain-4"),
        agents=("random",),
        seeds=2,
        budget=Budget(
            max_env_steps=8_000,
            eval_interval=2_000,
            patience=PAPER_PATIENCE,
            eval=EvalProtocol(eval_steps=1_000, final_episodes=4),
        ),
        description="seconds: wiring checks for tests and CI",
    )
)
register_suite(
    Suite(
        name="quick",
        tasks=("CartPole-vel", "CartPole-pos", "MemoryChain-4", "DeepSea-8", "Pendulum-v1"),
        agents=("random", "linear-td", "rtrrl", "ppo"),
        seeds=3,
        budget=Budget(
            max_env_steps=500_000,
            eval_interval=20_000,
            patience=PAPER_PATIENCE,
            eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
        ),
        description="the default: a few POMDP and control tasks, minutes on 2 cores",
    )
)


def _paper_suite(name: str, table: str, agents: tuple[str, ...], description: str) -> Suite:
    """All registered tasks of one paper table, 5 seeds, the paper's budget."""
    tasks = tuple(t.id for t in TASKS.values() if any(r.startswith(f"{table}:") for r in t.paper_rows))
    return register_suite(Suite(name, tasks, agents=agents, seeds=5, budget=PAPER_BUDGET, description=description))


_paper_suite(
    "gymnax-paper",
    "table2",
    ("random", "linear-td", "rtrrl-rtrl", "rtrrl", "ppo-ctrnn"),
    "every row of the paper's Table 2 (gymnax, episodes capped at 500)",
)
_paper_suite(
    "lru-paper",
    "table3",
    ("random", "linear-td", "rtrrl-lru", "rtrrl", "ppo-ctrnn"),
    "every row of the paper's Table 3: gymnax (episodes capped at 1 000) and popgym (Easy, popjym-compat)",
)


def _popgym_tasks(difficulty: str) -> tuple[str, ...]:
    from benchmarks.popgym import DIFFICULTIES, FAMILIES

    levels = DIFFICULTIES if difficulty == "all" else (difficulty.capitalize(),)
    return tuple(f"{name}{d}" for d in levels for name in FAMILIES)


POPGYM_BUDGET = Budget(
    max_env_steps=2_000_000,
    eval_interval=50_000,
    patience=PAPER_PATIENCE,
    eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
)
"""Hours, not days, on 2 CPU cores; popgym's own paper trains 15M steps (`--max-steps 15000000`)."""

_META_RL_FOR_PPO = tuple((a, (("meta_rl", True),)) for a in ("ppo", "ppo-gru", "ppo-lstm", "ppo-ctrnn"))
"""popgym's games need the previous action in the input (`obs_requires_prev_action`); RTRRL always
has it (the Meta-RL input), so the PPO agents get the same previous-action-and-reward input."""

register_suite(
    Suite(
        name="popgym",
        tasks=_popgym_tasks("easy"),
        agents=("random", "rtrrl", "ppo-gru"),
        seeds=3,
        budget=POPGYM_BUDGET,
        description="RTRRL vs recurrent PPO on every popgym family (our JAX ports); --difficulty easy|medium|hard|all",
        difficulties=tuple((d, _popgym_tasks(d)) for d in ("easy", "medium", "hard", "all")),
        agent_settings=_META_RL_FOR_PPO,
    )
)

register_suite(
    Suite(
        name="popjym-paper",
        tasks=POPJYM_TASKS,
        agents=("random", "rtrrl", "ppo-gru"),
        seeds=3,
        budget=POPGYM_BUDGET,
        description="the paper's six popgym rows as popjym runs them (-popjym variants, Easy); agents and budget "
        "of `popgym`",
        agent_settings=_META_RL_FOR_PPO,
    )
)


BRAX_AGENTS = ("random", "linear-td", "rtrrl", "ppo", "ppo-gru", "ppo-ctrnn")


def _brax_budget(max_env_steps: int) -> Budget:
    return Budget(
        max_env_steps=max_env_steps,
        eval_interval=50_000,
        patience=PAPER_PATIENCE,
        eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
    )


BRAX_BUDGET = _brax_budget(1_000_000)
"""Default of the brax suites: 20 evaluations of 10,000 steps (10 episodes of the 1,000-step cap)."""
BRAX_TASK_BUDGETS = (
    ("brax-inverted_pendulum", _brax_budget(500_000)),  # PPO-GRU balances 600+ steps within 200k
    ("brax-hopper", _brax_budget(2_000_000)),  # the slowest (docs/performance.md, "brax") and hardest
)
"""Per-task budgets of the `brax` suite, sized from measured speeds so that the whole suite (6 agents
x 3 seeds) stays a short job on a 2-core CPU (docs/performance.md, "brax": the steps/s and projected
hours as measured). `--profile paper` gives every task the paper's 50M steps with patience 20 instead."""

register_suite(
    Suite(
        name="brax",
        tasks=tuple(f"brax-{n}" for n in ("inverted_pendulum", "inverted_double_pendulum", "reacher", "hopper")),
        agents=BRAX_AGENTS,
        seeds=3,
        budget=BRAX_BUDGET,
        description="RTRRL vs PPO on CPU-feasible brax continuous control (backend spring)",
        task_budgets=BRAX_TASK_BUDGETS,
    )
)
register_suite(
    Suite(
        name="brax-heavy",
        tasks=("brax-halfcheetah", "brax-ant"),
        agents=BRAX_AGENTS,
        seeds=3,
        budget=BRAX_BUDGET,
        description="opt-in: brax halfcheetah and ant (the reference's preset: spring, RTRRL with 64 envs); "
        "slow on CPU",
        agent_settings=(("rtrrl", (("num_envs", 64),)), ("linear-td", (("num_envs", 64),))),
    )
)


SCREEN_BUDGET = Budget(
    max_env_steps=500_000,
    eval_interval=25_000,
    patience=PAPER_PATIENCE,
    eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
)
"""1% of the paper's cap: 20 evaluations per run (so patience never ends one early)."""
SCREEN_CARTPOLE_BUDGET = Budget(
    max_env_steps=5_000_000,
    eval_interval=50_000,
    patience=PAPER_PATIENCE,
    eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
)
"""CartPole-vel gets 5M steps: the default must reach a median best of 475 within them."""

register_suite(
    Suite(
        name="rtrrl-screen",
        tasks=(
            *(t.id for t in TASKS.values() if any(r.startswith("table2:") for r in t.paper_rows)),
            *_popgym_tasks("easy"),
        ),
        agents=("random", "rtrrl", "rtrrl@paper-table1", "rtrrl@paper-code"),
        seeds=5,
        budget=SCREEN_BUDGET,
        description="the screen behind rtrrl's default: every Table 2 row and popgym Easy family, the default vs "
        "the paper's two configurations (docs/rtrrl_default.md)",
        task_budgets=(("CartPole-vel", SCREEN_CARTPOLE_BUDGET),),
    )
)


FLOOR_SEEDS = (0, 1, 2, 3, 4)
FLOOR_BUDGET = Budget(
    max_env_steps=50_000,
    eval_interval=10_000,
    patience=PAPER_PATIENCE,
    eval=EvalProtocol(eval_steps=10_000, final_episodes=10),
)
"""5 evaluations of 10,000 steps (the paper's evaluation) per seed: 25 per task."""

register_suite(
    Suite(
        name="normalization",
        tasks=tuple(TASKS),
        agents=("random",),
        seeds=len(FLOOR_SEEDS),
        budget=FLOOR_BUDGET,
        description="measures the random floor of every task (benchmarks/normalization.py)",
    )
)
