"""Short learning tests on fixed seeds through the real runner and the shared evaluation."""

from benchmarks.runner import make_plan, run_unit


def _best(tmp_path, agent, task, max_steps, interval, seeds=(0,)):
    overrides = {"budget": {"max_env_steps": max_steps, "eval_interval": interval, "patience": 20}}
    plan = make_plan(tmp_path, "gymnax-paper", [task], [agent], list(seeds), overrides)
    return [r for unit in plan.units for r in run_unit(unit, "test")]


def test_rtrrl_solves_memorychain_4(tmp_path):
    (r,) = _best(tmp_path, "rtrrl", "MemoryChain-4", 150_000, 25_000)
    assert r.status in ("completed", "early-stopped")
    assert r.best_score >= 0.95 and r.final_score >= 0.6  # final: 10 episodes of ±1


def test_rtrrl_lru_balances_cartpole_from_velocities(tmp_path):
    (r,) = _best(tmp_path, "rtrrl-lru", "CartPole-vel", 250_000, 50_000)
    assert r.best_score >= 475


def test_linear_td_cannot_remember_16_steps_but_rtrrl_can(tmp_path):
    (lin,) = _best(tmp_path, "linear-td", "MemoryChain-16", 200_000, 50_000)
    (rnn,) = _best(tmp_path / "r", "rtrrl", "MemoryChain-16", 200_000, 50_000)
    assert lin.best_score < 0.5 <= rnn.best_score
