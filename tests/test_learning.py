"""Short learning tests on fixed seeds through the real runner and the shared evaluation.

All of them run in `nox -s slow` (which CI runs too), keeping `nox -s tests` under 10 minutes.
"""

import numpy as np
import pytest

from benchmarks.plan import make_plan
from benchmarks.program import run_unit

pytestmark = pytest.mark.slow


def _best(tmp_path, agent, task, max_steps, interval, seeds=(0,), suite="gymnax-paper", **agent_overrides):
    overrides = {"budget": {"max_env_steps": max_steps, "eval_interval": interval, "patience": 20}}
    if agent_overrides:
        overrides[agent.partition("@")[0]] = agent_overrides
    plan = make_plan(tmp_path, suite, [task], [agent], list(seeds), overrides)
    return [r for unit in plan.units for r in run_unit(unit, "test")]


def test_rtrrl_solves_memorychain_4(tmp_path):
    (r,) = _best(tmp_path, "rtrrl", "MemoryChain-4", 150_000, 25_000)
    assert r.status in ("completed", "early-stopped")
    assert r.best_score >= 0.95 and r.final_score >= 0.6  # final: 10 episodes of ±1


def test_rtrrl_balances_cartpole_from_velocities(tmp_path):
    """The paper's CartPole-vel row (RFLO CTRNN: 500). The default reaches a median best of 476 within
    5M steps in the screen (docs/rtrrl_default.md); at 500k steps seeds 0-2 reach 345-400. The
    paper's Table 1 configuration (Adam 1e-3 everywhere, clip 1.0) and the old default sat at ~286."""
    runs = _best(tmp_path, "rtrrl", "CartPole-vel", 500_000, 20_000, seeds=(0, 1, 2))
    assert np.median([r.best_score for r in runs]) >= 300


def test_rtrrl_balances_cartpole_from_positions(tmp_path):
    """CartPole-pos (paper: 500 +- 163): observation normalisation lifts the tiny angle; seeds 0-2
    reach 294-454 within 300k steps (the old default without normalisation: 48-159)."""
    runs = _best(tmp_path, "rtrrl", "CartPole-pos", 300_000, 20_000, seeds=(0, 1, 2))
    assert np.median([r.best_score for r in runs]) >= 250


def test_rtrrl_keeps_exploring_where_td_errors_are_tiny(tmp_path):
    """The collapse the default was chosen against: with Adam at 1e-3 for every group (the paper's
    Table 1) the policy entropy on ConcentrationEasy (52 actions; at most log 52 = 3.95 nats) falls
    to ~0.1 within 20k steps and the score ends below the random agent. The learning diagnostics
    show it; the default's entropy must stay above 90% of its maximum over 50k steps."""
    runs = _best(tmp_path, "rtrrl", "ConcentrationEasy", 50_000, 10_000, seeds=(0, 1, 2), suite="popgym")
    for r in runs:
        assert min(r.curve.diagnostics["entropy"]) >= 0.9 * np.log(52), r.curve.diagnostics["entropy"]
    (table1,) = _best(tmp_path / "t1", "rtrrl@paper-table1", "ConcentrationEasy", 50_000, 10_000, suite="popgym")
    assert min(table1.curve.diagnostics["entropy"]) < 0.5 * np.log(52), "the test can tell a collapse"


def test_rtrrl_lru_balances_cartpole_from_velocities(tmp_path):
    runs = _best(tmp_path, "rtrrl-lru", "CartPole-vel", 400_000, 50_000, seeds=(0, 1))
    assert max(r.best_score for r in runs) >= 475


def test_linear_td_cannot_remember_16_steps_but_rtrrl_can(tmp_path):
    (lin,) = _best(tmp_path, "linear-td", "MemoryChain-16", 200_000, 50_000)
    (rnn,) = _best(tmp_path / "r", "rtrrl", "MemoryChain-16", 200_000, 50_000)
    assert lin.best_score < 0.5 <= rnn.best_score


def test_ppo_solves_cartpole_within_500k_steps(tmp_path):
    (r,) = _best(tmp_path, "ppo", "CartPole-v1", 500_000, 25_000)
    assert r.best_score >= 475


def test_continuous_ppo_beats_random_on_pendulum(tmp_path):
    """Gaussian PPO (learned log-std, actions clipped to the bounds). Pendulum wants shorter
    horizons and more epochs than purejaxrl's CartPole config: gamma 0.95, lr 1e-3, 10 epochs."""
    (rand,) = _best(tmp_path / "random", "random", "Pendulum-v1", 50_000, 25_000)
    (ppo,) = _best(tmp_path, "ppo", "Pendulum-v1", 250_000, 25_000, lr=1e-3, update_epochs=10, gamma=0.95)
    assert rand.best_score < -1000
    assert ppo.best_score > rand.best_score + 500


def test_ppo_gru_learns_cartpole_from_velocities(tmp_path):
    (r,) = _best(tmp_path, "ppo-gru", "CartPole-vel", 250_000, 25_000)
    assert r.best_score >= 150  # random: ~22


def test_ppo_gru_learns_popgym_repeat_previous(tmp_path):
    """Our RepeatPreviousEasy port through the popgym suite (PPO with the Meta-RL input): the
    policy must recall the suit dealt 4 cards ago; random play scores about -0.47."""
    (rand,) = _best(tmp_path / "random", "random", "RepeatPreviousEasy", 50_000, 25_000, suite="popgym")
    (r,) = _best(tmp_path, "ppo-gru", "RepeatPreviousEasy", 200_000, 50_000, suite="popgym")
    assert rand.best_score < -0.3
    assert r.best_score >= 0.5


def test_ppo_clearly_beats_random_on_brax_inverted_pendulum(tmp_path):
    """brax (spring) through the same runner, wrappers and evaluation: PPO's default config on two
    fixed seeds; random balances about 24 steps."""
    rand = _best(tmp_path / "random", "random", "brax-inverted_pendulum", 100_000, 50_000, seeds=(0, 1), suite="brax")
    ppo = _best(tmp_path, "ppo", "brax-inverted_pendulum", 300_000, 50_000, seeds=(0, 1), suite="brax")
    assert max(r.best_score for r in rand) < 40
    assert min(r.best_score for r in ppo) > 4 * max(r.best_score for r in rand)
