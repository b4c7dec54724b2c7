"""Our seeded bootstrap statistics against rliable itself (and scipy): identical point estimates,
CIs within Monte-Carlo error, stratification that matters, bit-identical reruns."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from rliable import library as rly
from rliable import metrics

from reports import stats


def _four(x):
    return np.array([metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                     metrics.aggregate_optimality_gap(x)])


def _scores(seed=0, runs=6, tasks=5, agents=2):
    """Tasks with very different means: stratification changes the CIs a lot here."""
    rng = np.random.default_rng(seed)
    return {f"a{i}": rng.normal(0.2 * i + np.linspace(0.0, 1.5, tasks), 0.15, size=(runs, tasks)) for i in range(agents)}


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (5, 7), (10, 20), (4, 1)])
def test_point_estimates_equal_rliable(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(-3, 6, size=shape) / 4.0  # many ties
    ours = stats.aggregate(x)
    np.testing.assert_array_equal([ours[m] for m in stats.METRICS], _four(x))


def test_intervals_agree_with_rliable_within_monte_carlo_error():
    scores = _scores()
    np.random.seed(0)  # what arch's resampler falls back to: rliable's `random_state` does not reach it
    points, cis = rly.get_interval_estimates(scores, _four, reps=5_000)
    ours = stats.interval_estimates(scores, reps=50_000, seed=0)
    for a in scores:
        for i, m in enumerate(stats.METRICS):
            iv = ours[a][m]
            assert iv.point == points[a][i]
            width = iv.high - iv.low
            assert width > 0
            # 5,000 resamples put a 2.5% quantile within ~0.04 sd of the truth; the width is ~3.9 sd
            assert abs(iv.low - cis[a][0, i]) < 0.06 * width, (a, m)
            assert abs(iv.high - cis[a][1, i]) < 0.06 * width, (a, m)


def test_stratification_is_what_makes_the_intervals_narrow():
    """Resampling the pooled runs instead of each task's own would widen the CI ~4x here."""
    x = _scores()["a0"]
    ours = stats.interval_estimates({"a": x}, reps=20_000, seed=1)["a"]["mean"]
    rng = np.random.default_rng(0)
    flat = x.ravel()
    pooled = flat[rng.integers(0, flat.size, size=(20_000, flat.size))].mean(axis=1)
    lo, hi = np.percentile(pooled, [2.5, 97.5])
    assert (ours.high - ours.low) < 0.5 * (hi - lo)


def test_ragged_tasks_resample_only_their_own_runs():
    """Task 1 has one run (5.0), task 2 two runs {0, 1}: task 2's resampled mean is 0, 1/2 or 1, so
    the mean over tasks is 2.5, 2.75 or 3 and the pooled IQM's runs always include the 5."""
    x = np.array([[5.0, 0.0], [np.nan, 1.0]])
    boot = stats._Stratified(x).draw(np.random.default_rng(0), 4_000)
    assert (np.sort(boot, axis=1)[:, -1] == 5.0).all() and set(np.unique(boot)) == {0.0, 1.0, 5.0}
    iv = stats.interval_estimates({"a": x}, reps=4_000, seed=0)["a"]["mean"]
    assert iv.point == pytest.approx(2.75) and iv.low == pytest.approx(2.5) and iv.high == pytest.approx(3.0)


def test_same_seed_same_bits_and_agents_do_not_move_each_other():
    scores = _scores(agents=3)
    a = stats.interval_estimates(scores, reps=3_000, seed=7)
    b = stats.interval_estimates(scores, reps=3_000, seed=7)
    c = stats.interval_estimates({k: scores[k] for k in ("a0", "a2")}, reps=3_000, seed=7)
    d = stats.interval_estimates(scores, reps=3_000, seed=8)
    assert a == b
    assert a["a0"] == c["a0"] and a["a2"] == c["a2"]
    assert a["a0"]["iqm"] != d["a0"]["iqm"]


def test_probability_of_improvement_equals_rliable_and_its_ci_agrees():
    s = _scores(seed=3)
    x, y = s["a1"], s["a0"]
    assert stats.probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-15)
    ties = np.round(x, 1), np.round(y, 1)
    assert stats.probability_of_improvement(*ties) == pytest.approx(metrics.probability_of_improvement(*ties), abs=1e-15)
    np.random.seed(1)
    _, cis = rly.get_interval_estimates({"p": (x, y)}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
                                        reps=2_000)
    ours = stats.poi_matrix({"a1": x, "a0": y}, reps=20_000, seed=0)[("a1", "a0")]
    width = ours.high - ours.low
    assert abs(ours.low - cis["p"][0, 0]) < 0.1 * width and abs(ours.high - cis["p"][1, 0]) < 0.1 * width


def test_performance_profiles_equal_rliable():
    s = _scores(seed=4)
    taus = np.linspace(-0.5, 2.5, 31)
    np.random.seed(2)
    points, cis = rly.create_performance_profile(s, taus, reps=2_000)
    ours = stats.performance_profile(s, taus, reps=20_000, seed=0)
    for a in s:
        np.testing.assert_allclose(ours[a][0], points[a], atol=1e-15)
        # each band endpoint is a fraction of 30 runs; Monte-Carlo error moves it by at most a step or two
        assert np.abs(ours[a][1] - cis[a][0]).max() <= 2 / 30 + 1e-9
        assert np.abs(ours[a][2] - cis[a][1]).max() <= 2 / 30 + 1e-9


def test_sample_efficiency_points_are_per_checkpoint_iqms():
    rng = np.random.default_rng(5)
    curves = {"a": np.cumsum(rng.random((6, 4, 3)), axis=0)}
    curves["a"][:2, 3, 1] = np.nan  # a run without evaluations at the first checkpoints
    p, lo, hi = stats.sample_efficiency(curves, reps=2_000, seed=0)["a"]
    for i in range(6):
        assert p[i] == stats.aggregate(curves["a"][i])["iqm"]
    assert (lo <= p + 1e-12).all() and (p <= hi + 1e-12).all() and (np.diff(p) > 0).all()


def test_permutation_test_exact_and_monte_carlo_agree_with_scipy():
    rng = np.random.default_rng(6)
    x, y = rng.normal(0.8, 1, 5), rng.normal(0, 1, 4)
    exact = scipy.stats.permutation_test((x, y), lambda a, b: np.mean(a) - np.mean(b), permutation_type="independent",
                                         n_resamples=np.inf).pvalue
    assert stats.permutation_test(x, y) == pytest.approx(exact)  # 126 splits: enumerated
    x, y = rng.normal(0.5, 1, 8), rng.normal(0, 1, 8)  # 12,870 splits > 10,000: Monte Carlo
    exact = scipy.stats.permutation_test((x, y), lambda a, b: np.mean(a) - np.mean(b), permutation_type="independent",
                                         n_resamples=np.inf).pvalue
    assert stats.permutation_test(x, y, seed=0) == pytest.approx(exact, abs=0.015)
    assert stats.permutation_test(x, y, seed=0) == stats.permutation_test(x, y, seed=0)
    assert stats.permutation_test(x, []) == 1.0


def test_holm_by_hand():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []
