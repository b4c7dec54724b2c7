"""Our seeded bootstrap statistics against rliable itself (and scipy): identical point estimates,
CIs within Monte-Carlo error, stratification that matters, bit-identical reruns."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
from rliable import library as rly
from rliable import metrics

from reports import stats


def _four(x):
    return np.array(
        [
            metrics.aggregate_median(x),
            metrics.aggregate_iqm(x),
            metrics.aggregate_mean(x),
            metrics.aggregate_optimality_gap(x),
        ]
    )


def _mc_tol(width, reps_a, reps_b, sds=6.0):
    """Allowed gap between two bootstrap runs' 2.5% (or 97.5%) endpoints: `sds` Monte-Carlo standard
    errors of that quantile, sqrt(p (1 - p) / n) / density, taking the bootstrap distribution as
    normal with sd = width / 3.92 (so the density at the quantile is phi(1.96) / sd)."""
    sd = width / (2 * 1.959964)
    se_one = math.sqrt(0.025 * 0.975) / scipy.stats.norm.pdf(1.959964) * sd
    return sds * se_one * math.sqrt(1 / reps_a + 1 / reps_b)


def _scores(seed=0, runs=6, tasks=5, agents=2):
    """Tasks with very different means: stratification changes the CIs a lot here."""
    rng = np.random.default_rng(seed)
    return {
        f"a{i}": rng.normal(0.2 * i + np.linspace(0.0, 1.5, tasks), 0.15, size=(runs, tasks)) for i in range(agents)
    }


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
            tol = _mc_tol(width, 5_000, 50_000)  # ~0.06 x width
            assert abs(iv.low - cis[a][0, i]) < tol, (a, m)
            assert abs(iv.high - cis[a][1, i]) < tol, (a, m)


@pytest.mark.parametrize("ragged", [False, True])
def test_vectorized_metrics_equal_rliable_on_the_same_resamples(ragged):
    """No Monte-Carlo error here: the batched metrics of each drawn resample equal rliable's metrics
    (or `aggregate`'s on the NaN-padded resample, for ragged data) of that one resample."""
    rng = np.random.default_rng(11)
    x = np.round(rng.normal(0.5, 0.4, size=(7, 9)), 1)  # ties
    if ragged:
        x[5:, 2] = x[3:, 4] = x[1:, 8] = np.nan  # run counts 5, 3 and 1 next to 7
    boot = stats._Stratified(x)
    groups = boot.draw_groups(np.random.default_rng(0), 300)
    batched = stats._aggregates_groups(groups, gamma=0.8)
    for r in range(300):
        blocks = [g[r] for g in groups]  # (k, tasks_k) each
        if ragged:
            padded = np.full((max(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)), np.nan)
            j = 0
            for b in blocks:
                padded[: b.shape[0], j : j + b.shape[1]] = b
                j += b.shape[1]
            expected = [stats.aggregate(padded, gamma=0.8)[m] for m in stats.METRICS]
        else:
            (one,) = blocks
            expected = [
                metrics.aggregate_median(one),
                metrics.aggregate_iqm(one),
                metrics.aggregate_mean(one),
                metrics.aggregate_optimality_gap(one, gamma=0.8),
            ]
        np.testing.assert_allclose(batched[r], expected, rtol=0, atol=1e-12)


def test_iqm_rows_long_rows_use_partitions_and_agree():
    rng = np.random.default_rng(12)
    for n in (1, 2, 3, 4, 5, 9, stats.SORT_MAX + 1, 3_001):
        x = np.round(rng.normal(size=(4, n)), 1)
        np.testing.assert_allclose(stats._iqm_rows(x), scipy.stats.trim_mean(x, 0.25, axis=1), rtol=0, atol=1e-12)


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


def test_ragged_intervals_agree_with_a_loop_over_resamples():
    """Run counts 4, 4, 6, 1, 2: our batched, grouped resampling vs the definition written as a
    per-resample loop (each task's own runs, with replacement)."""
    rng = np.random.default_rng(13)
    x = rng.normal(np.linspace(0, 1.2, 5), 0.3, size=(6, 5))
    x[4:, 0] = x[4:, 1] = x[1:, 3] = x[2:, 4] = np.nan
    cols = [c[np.isfinite(c)] for c in x.T]
    ref_rng = np.random.default_rng(99)
    ref = []
    for _ in range(3_000):
        m = np.full_like(x, np.nan)
        for j, c in enumerate(cols):
            m[: len(c), j] = c[ref_rng.integers(0, len(c), len(c))]
        ref.append([stats.aggregate(m)[k] for k in stats.METRICS])
    lo, hi = np.percentile(np.array(ref), [2.5, 97.5], axis=0)
    ours = stats.interval_estimates({"a": x}, reps=30_000, seed=0)["a"]
    for i, m in enumerate(stats.METRICS):
        tol = _mc_tol(ours[m].high - ours[m].low, 3_000, 30_000)
        assert abs(ours[m].low - lo[i]) < tol and abs(ours[m].high - hi[i]) < tol, m


def test_a_task_without_runs_is_ignored():
    x = _scores(seed=14, tasks=4)["a0"]
    padded = np.insert(x, 2, np.nan, axis=1)
    assert stats.aggregate(padded) == stats.aggregate(x)
    assert stats.interval_estimates({"a": padded}, reps=2_000) == stats.interval_estimates({"a": x}, reps=2_000)


def test_same_seed_same_bits_and_agents_do_not_move_each_other():
    scores = _scores(agents=3)
    a = stats.interval_estimates(scores, reps=3_000, seed=7)
    b = stats.interval_estimates(scores, reps=3_000, seed=7)
    c = stats.interval_estimates({k: scores[k] for k in ("a0", "a2")}, reps=3_000, seed=7)
    d = stats.interval_estimates(scores, reps=3_000, seed=8)
    assert a == b
    assert a["a0"] == c["a0"] and a["a2"] == c["a2"]
    assert a["a0"]["iqm"] != d["a0"]["iqm"]


def _flat(out, keys):
    """The numbers of `out[k]` for k in keys: an Interval's 3 or a (point, low, high) tuple's arrays."""
    rows = []
    for k in keys:
        v = out[k]
        rows.append([v.point, v.low, v.high] if isinstance(v, stats.Interval) else np.concatenate(v).tolist())
    return np.array(rows)


def test_every_bootstrap_is_seeded_per_agent_or_pair():
    s = _scores(seed=15, agents=3)
    two = {k: s[k] for k in ("a0", "a1")}
    taus = np.linspace(0, 2, 9)
    curves = {k: np.stack([v + 0.1 * p for p in range(4)]) for k, v in s.items()}
    curves2 = {k: curves[k] for k in two}
    for f, arg, arg2, kw in [
        (stats.poi_matrix, s, two, {}),
        (stats.performance_profile, s, two, {"taus": taus}),
        (stats.sample_efficiency, curves, curves2, {}),
    ]:
        a, b = f(arg, reps=500, seed=3, **kw), f(arg, reps=500, seed=3, **kw)
        c, d = f(arg2, reps=500, seed=3, **kw), f(arg, reps=500, seed=4, **kw)
        keys = list(c)
        assert np.array_equal(_flat(a, a), _flat(b, b))  # same seed, same bits
        assert np.array_equal(_flat(a, keys), _flat(c, keys))  # a third agent moves no one else
        assert not np.array_equal(_flat(a, a), _flat(d, d))  # another seed, other resamples


def test_probability_of_improvement_equals_rliable_and_its_ci_agrees():
    s = _scores(seed=3)
    x, y = s["a1"], s["a0"]
    assert stats.probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-15)
    ties = np.round(x, 1), np.round(y, 1)
    assert stats.probability_of_improvement(*ties) == pytest.approx(
        metrics.probability_of_improvement(*ties), abs=1e-15
    )
    np.random.seed(1)
    _, cis = rly.get_interval_estimates(
        {"p": (x, y)}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=2_000
    )
    ours = stats.poi_matrix({"a1": x, "a0": y}, reps=20_000, seed=0)[("a1", "a0")]
    tol = _mc_tol(ours.high - ours.low, 2_000, 20_000)
    assert abs(ours.low - cis["p"][0, 0]) < tol and abs(ours.high - cis["p"][1, 0]) < tol


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


def test_fraction_above_is_strict_and_handles_unsorted_taus():
    rng = np.random.default_rng(16)
    x = rng.integers(0, 5, size=(50, 12)) / 4.0  # entries equal to taus: strictly above only
    taus = np.array([0.5, -1.0, 0.25, 2.0, 0.5, 1.0])
    np.testing.assert_array_equal(stats._fraction_above(x, taus), (x[:, :, None] > taus).mean(axis=1))


def test_sample_efficiency_points_are_per_checkpoint_iqms():
    rng = np.random.default_rng(5)
    curves = {"a": np.cumsum(rng.random((6, 4, 3)), axis=0)}
    curves["a"][:2, 3, 1] = np.nan  # a run without evaluations at the first checkpoints
    p, lo, hi = stats.sample_efficiency(curves, reps=2_000, seed=0)["a"]
    for i in range(6):
        assert p[i] == stats.aggregate(curves["a"][i])["iqm"]
    assert (lo <= p + 1e-12).all() and (p <= hi + 1e-12).all() and (np.diff(p) > 0).all()


def test_sample_efficiency_intervals_agree_with_rliable():
    """rliable's recipe: IQM per point of a (runs, tasks, points) array. (arch draws the run index
    independently per point there; each point's CI depends only on its own margin, so it must agree.)"""
    rng = np.random.default_rng(17)
    curves = np.cumsum(rng.normal(np.linspace(0, 0.4, 4), 0.2, size=(5, 6, 4)), axis=0)  # (points, runs, tasks)
    np.random.seed(3)
    points, cis = rly.get_interval_estimates(
        {"a": np.moveaxis(curves, 0, -1)},
        lambda s: np.array([metrics.aggregate_iqm(s[..., f]) for f in range(s.shape[-1])]),
        reps=2_000,
    )
    p, lo, hi = stats.sample_efficiency({"a": curves}, reps=20_000, seed=0)["a"]
    np.testing.assert_allclose(p, points["a"], rtol=0, atol=1e-12)
    for i in range(len(p)):
        tol = _mc_tol(hi[i] - lo[i], 2_000, 20_000)
        assert abs(lo[i] - cis["a"][0, i]) < tol and abs(hi[i] - cis["a"][1, i]) < tol, i


def test_sample_efficiency_resamples_whole_runs():
    """Every run's curve is its first score + p: when a rep keeps the same runs at every point, each
    resampled IQM moves by exactly p, and so do the CI endpoints (independent draws would not)."""
    rng = np.random.default_rng(18)
    base = rng.normal(size=(5, 4))
    base[3:, 1] = np.nan  # ragged too
    curves = np.stack([base + p for p in range(3)])
    _, lo, hi = stats.sample_efficiency({"a": curves}, reps=3_000, seed=0)["a"]
    np.testing.assert_allclose(lo - lo[0], [0, 1, 2], atol=1e-12)
    np.testing.assert_allclose(hi - hi[0], [0, 1, 2], atol=1e-12)


def test_nan_iqm_rows_equal_scipy_row_by_row():
    rng = np.random.default_rng(19)
    x = np.round(rng.normal(size=(40, 11)), 1)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[0] = np.nan
    got = stats._nan_iqm_rows(x)
    assert np.isnan(got[0])
    for i in range(1, len(x)):
        row = x[i][np.isfinite(x[i])]
        expected = scipy.stats.trim_mean(row, 0.25) if row.size else np.nan
        np.testing.assert_allclose(got[i], expected, rtol=0, atol=1e-12)


def test_permutation_test_exact_by_hand():
    """Every way to split the 7 pooled values into groups of 4 and 3, enumerated here."""
    x, y = np.array([2.0, 3.5, 4.0, 5.0]), np.array([1.0, 1.5, 2.0, np.nan])  # the NaN is dropped
    pooled = np.array([2.0, 3.5, 4.0, 5.0, 1.0, 1.5, 2.0])
    obs = x.mean() - 1.5
    d = []
    for idx in itertools.combinations(range(7), 4):
        rest = [i for i in range(7) if i not in idx]
        d.append(pooled[list(idx)].mean() - pooled[rest].mean())
    d = np.array(d)
    expected = min(1.0, 2 * min(np.mean(d >= obs - 1e-12), np.mean(d <= obs + 1e-12)))
    assert expected == pytest.approx(4 / 35)  # the observed split and its twin (the two 2.0s swapped), x2
    assert stats.permutation_test(x, y) == pytest.approx(expected, abs=1e-15)
    assert stats.permutation_test(y, x) == pytest.approx(expected, abs=1e-15)


def test_permutation_test_exact_and_monte_carlo_agree_with_scipy():
    rng = np.random.default_rng(6)
    x, y = rng.normal(0.8, 1, 5), rng.normal(0, 1, 4)
    exact = scipy.stats.permutation_test(
        (x, y), lambda a, b: np.mean(a) - np.mean(b), permutation_type="independent", n_resamples=np.inf
    ).pvalue
    assert stats.permutation_test(x, y) == pytest.approx(exact)  # 126 splits: enumerated
    x, y = rng.normal(0.5, 1, 8), rng.normal(0, 1, 8)  # 12,870 splits > 10,000: Monte Carlo
    exact = scipy.stats.permutation_test(
        (x, y), lambda a, b: np.mean(a) - np.mean(b), permutation_type="independent", n_resamples=np.inf
    ).pvalue
    assert stats.permutation_test(x, y, seed=0) == pytest.approx(exact, abs=0.015)
    assert stats.permutation_test(x, y, seed=0) == stats.permutation_test(x, y, seed=0)
    assert stats.permutation_test(x, []) == 1.0


def test_holm_by_hand():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []
