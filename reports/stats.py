"""rliable-style statistics, vectorized over resamples and seeded (numpy only).

rliable (Agarwal et al., 2021) computes the right things, but its `random_state` does not reach
arch's resampler, so its CIs change from run to run, and it resamples in a Python loop. Here each
agent's resampler is `default_rng([seed, crc32(agent)])`: the same inputs give bit-identical
intervals, and adding an agent never moves another's.

Scores are (runs, tasks) matrices padded with NaN: tasks may have different numbers of runs.
The stratified bootstrap resamples each task's own runs with replacement. Aggregates follow
rliable's definitions: median and mean over tasks of each task's mean score (every task weighs
the same, however many runs it has), IQM and optimality gap over all runs pooled. CIs are percentile
intervals with numpy's linear interpolation, as arch's `conf_int(method="percentile")`.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

METRICS = ("median", "iqm", "mean", "optimality_gap")
CHUNK = 4_096
"""Most resamples per vectorized batch. Batches consume the generator in order, so the batch size
is part of the result: it is fixed (or derived only from the data's shape, see `_chunk`)."""
ELEMENTS = 1 << 22
"""Most resampled scores held per batch (32 MiB of float64): bounds memory for large matrices."""
SORT_MAX = 1_024
"""Rows up to this length are trimmed by a full sort (numpy's SIMD sort beats a two-point partition);
longer rows by two one-point partitions."""


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float


def _rng(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _columns(scores: np.ndarray) -> list[np.ndarray]:
    """Each task's runs (NaNs dropped); tasks without runs are dropped."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    cols = [c[np.isfinite(c)] for c in scores.T]
    return [c for c in cols if len(c)]


class _Stratified:
    """Draws stratified resamples of one score matrix as (reps, N) pooled rows, N = all runs.

    Tasks with the same run count share one index draw of shape (reps, runs, tasks).
    """

    def __init__(self, scores: np.ndarray):
        groups: dict[int, list[np.ndarray]] = {}
        for c in _columns(scores):
            groups.setdefault(len(c), []).append(c)
        self.groups = [(k, np.stack(cs, axis=1)) for k, cs in sorted(groups.items())]  # (k, tasks_k)
        self.n = sum(k * v.shape[1] for k, v in self.groups)

    def draw_groups(self, rng: np.random.Generator, reps: int) -> list[np.ndarray]:
        """One (reps, k, tasks_k) resample per group of tasks with k runs."""
        out = []
        for k, values in self.groups:
            tasks = values.shape[1]
            idx = rng.integers(0, k, size=(reps, k, tasks))
            idx *= tasks  # flat index into the (k, tasks) block: cheaper than take_along_axis
            idx += np.arange(tasks)
            out.append(np.take(values.ravel(), idx))
        return out

    def draw(self, rng: np.random.Generator, reps: int) -> np.ndarray:
        """Pooled resampled runs, (reps, N)."""
        return np.concatenate([g.reshape(reps, -1) for g in self.draw_groups(rng, reps)], axis=1)


def _trim(n: int) -> int:
    return int(0.25 * n)  # scipy.stats.trim_mean's cut: int(proportion * n) from each end


def _iqm_rows(x: np.ndarray) -> np.ndarray:
    """Interquartile mean of every row of (reps, N): the middle N - 2*int(N/4) order statistics."""
    n = x.shape[1]
    lo = _trim(n)
    if n <= SORT_MAX:
        return np.sort(x, axis=1)[:, lo : n - lo].mean(axis=1)
    upper = np.partition(x, lo, axis=1)[:, lo:]  # the n - lo largest
    return np.partition(upper, n - 2 * lo - 1, axis=1)[:, : n - 2 * lo].mean(axis=1)


def _aggregates_groups(groups: list[np.ndarray], gamma: float) -> np.ndarray:
    """The 4 metrics of every resample at once, (reps, 4), with rliable's definitions: median and
    mean over tasks of per-task mean scores; IQM and optimality gap over all runs pooled."""
    reps = groups[0].shape[0]
    task_means = np.concatenate([g.mean(axis=1) for g in groups], axis=1)  # (reps, tasks)
    pooled = np.concatenate([g.reshape(reps, -1) for g in groups], axis=1)  # (reps, runs)
    median = np.median(task_means, axis=1)
    mean = task_means.mean(axis=1)
    gap = gamma - np.minimum(pooled, gamma).mean(axis=1)
    return np.stack([median, _iqm_rows(pooled), mean, gap], axis=1)


def aggregate(scores: np.ndarray, gamma: float = 1.0) -> dict[str, float]:
    """Point estimates, computed as rliable computes them (bit for bit on rectangular data)."""
    x = np.asarray(scores, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if np.isfinite(x).all() and x.size:
        task_means, flat = np.mean(x, axis=0), x
    else:
        cols = _columns(x)
        if not cols:
            return dict.fromkeys(METRICS, math.nan)
        task_means, flat = np.array([c.mean() for c in cols]), np.concatenate(cols)
    return {
        "median": float(np.median(task_means)),
        "iqm": float(scipy.stats.trim_mean(flat, 0.25, axis=None)),
        "mean": float(np.mean(task_means)),
        "optimality_gap": float(gamma - np.mean(np.minimum(flat, gamma))),
    }


def _percentiles(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI endpoints per column, computed as arch's `conf_int(method="percentile")` does
    (the same float arithmetic for the levels, numpy's default linear interpolation)."""
    alpha = (1.0 - confidence) / 2
    lo, hi = np.percentile(values, [100 * alpha, 100 * (1.0 - alpha)], axis=0)
    return lo, hi


def _chunk(elements_per_rep: int) -> int:
    """Resamples per batch: CHUNK, fewer when one resample is large (depends on shapes only)."""
    return max(1, min(CHUNK, ELEMENTS // max(1, elements_per_rep)))


def _bootstrap(reps: int, stat: Callable[[int], np.ndarray], chunk: int = CHUNK) -> np.ndarray:
    """Concatenate `stat(size)` over fixed-size chunks of resamples."""
    return np.concatenate([stat(min(chunk, reps - i)) for i in range(0, reps, chunk)], axis=0)


def _metric_intervals(
    boot: _Stratified, rng: np.random.Generator, reps: int, gamma: float, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """CI endpoints of the 4 metrics (in METRICS order) of one agent's stratified resamples."""

    def stat(r: int) -> np.ndarray:
        return _aggregates_groups(boot.draw_groups(rng, r), gamma)

    return _percentiles(_bootstrap(reps, stat, _chunk(boot.n)), confidence)


def interval_estimates(
    score_dict: dict[str, np.ndarray], reps: int = 50_000, seed: int = 0, confidence: float = 0.95, gamma: float = 1.0
) -> dict[str, dict[str, Interval]]:
    """Median, IQM, mean and optimality gap of each agent with stratified-bootstrap CIs."""
    out: dict[str, dict[str, Interval]] = {}
    for name in sorted(score_dict):
        point = aggregate(score_dict[name], gamma)
        boot = _Stratified(score_dict[name])
        if boot.n == 0:
            out[name] = {m: Interval(math.nan, math.nan, math.nan) for m in METRICS}
            continue
        lo, hi = _metric_intervals(boot, _rng(seed, name), reps, gamma, confidence)
        out[name] = {m: Interval(point[m], float(lo[i]), float(hi[i])) for i, m in enumerate(METRICS)}
    return out


def _poi_task(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(x > y) + 0.5 P(x = y) for stacked samples x (..., nx) and y (..., ny)."""
    gt = (x[..., :, None] > y[..., None, :]).mean(axis=(-2, -1))
    eq = (x[..., :, None] == y[..., None, :]).mean(axis=(-2, -1))
    return gt + 0.5 * eq


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """rliable's P(X > Y): the Mann–Whitney probability per task, averaged over shared tasks."""
    pairs = _shared(x, y)
    if not pairs:
        return math.nan
    return float(np.mean([_poi_task(a, b) for a, b in pairs]))


def _shared(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x's runs, y's runs) of each task where both have runs."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    out = []
    for j in range(min(x.shape[1], y.shape[1])):
        a, b = x[:, j][np.isfinite(x[:, j])], y[:, j][np.isfinite(y[:, j])]
        if len(a) and len(b):
            out.append((a, b))
    return out


def _poi_interval(
    pairs: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, reps: int, confidence: float
) -> tuple[float, float]:
    """CI of the task-averaged P(x > y), resampling x's and y's runs independently within each task."""

    def stat(r: int) -> np.ndarray:
        per_task = []
        for xa, yb in pairs:
            xs = xa[rng.integers(0, len(xa), size=(r, len(xa)))]
            ys = yb[rng.integers(0, len(yb), size=(r, len(yb)))]
            per_task.append(_poi_task(xs, ys))
        return np.mean(per_task, axis=0)[:, None]

    widest = max(len(xa) * len(yb) for xa, yb in pairs)  # the (r, nx, ny) comparison arrays
    lo, hi = _percentiles(_bootstrap(reps, stat, _chunk(widest)), confidence)
    return float(lo[0]), float(hi[0])


def poi_matrix(
    score_dict: dict[str, np.ndarray], reps: int = 2_000, seed: int = 0, confidence: float = 0.95
) -> dict[tuple[str, str], Interval]:
    """P(a > b) for every ordered pair, with CIs from independent stratified resampling of a and b;
    each pair's generator comes from (seed, a, b), so other agents never move a pair's CI."""
    out: dict[tuple[str, str], Interval] = {}
    for a, b in itertools.permutations(sorted(score_dict), 2):
        pairs = _shared(score_dict[a], score_dict[b])
        if not pairs:
            out[(a, b)] = Interval(math.nan, math.nan, math.nan)
            continue
        lo, hi = _poi_interval(pairs, _rng(seed, a, b), reps, confidence)
        out[(a, b)] = Interval(probability_of_improvement(score_dict[a], score_dict[b]), lo, hi)
    return out


def _fraction_above(x: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """(reps, len(taus)): the fraction of each row's entries strictly above each tau, without a
    Python loop over rows or taus: bin every entry by how many taus lie below it, count the bins
    per row, and accumulate."""
    order = np.argsort(taus, kind="stable")
    reps, n, t = x.shape[0], x.shape[1], len(taus)
    below = np.searchsorted(taus[order], x, side="left")  # entry > tau_j  <=>  j < below
    counts = np.bincount((below + (np.arange(reps) * (t + 1))[:, None]).ravel(), minlength=reps * (t + 1))
    at_most = np.cumsum(counts.reshape(reps, t + 1), axis=1)[:, :t]  # entries <= tau_j (sorted taus)
    out = np.empty((reps, t))
    out[:, order] = (n - at_most) / n
    return out


def _profile_interval(
    boot: _Stratified, taus: np.ndarray, rng: np.random.Generator, reps: int, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """CI band of one agent's run-score distribution at each tau."""

    def stat(r: int) -> np.ndarray:
        return _fraction_above(boot.draw(rng, r), taus)

    return _percentiles(_bootstrap(reps, stat, _chunk(boot.n)), confidence)


def performance_profile(
    score_dict: dict[str, np.ndarray], taus: np.ndarray, reps: int = 2_000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Run-score distribution (fraction of runs scoring above tau) with stratified-bootstrap CIs."""
    taus = np.asarray(taus, float)
    out = {}
    for name in sorted(score_dict):
        boot = _Stratified(score_dict[name])
        if boot.n == 0:
            nan = np.full(len(taus), np.nan)
            out[name] = (nan, nan, nan)
            continue
        flat = np.concatenate(_columns(score_dict[name]))
        point = (flat[:, None] > taus[None, :]).mean(axis=0)
        out[name] = (point, *_profile_interval(boot, taus, _rng(seed, name), reps, confidence))
    return out


def _run_blocks(c: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Curves (points, runs, tasks) regrouped by run count: [(k, (points, k, tasks_k))]. A run is
    present if it has any finite point; tasks without runs are dropped."""
    present = np.isfinite(c).any(axis=0)  # (runs, tasks)
    counts = present.sum(axis=0)
    by_count: dict[int, list[int]] = {}
    for j in range(c.shape[2]):
        if counts[j]:
            by_count.setdefault(int(counts[j]), []).append(j)
    return [(k, np.stack([c[:, present[:, j], j] for j in js], axis=2)) for k, js in sorted(by_count.items())]


def _efficiency_interval(
    blocks: list[tuple[int, np.ndarray]], rng: np.random.Generator, reps: int, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """CI of the IQM at each point; a rep resamples runs, not points: a run is kept or dropped with
    its whole curve."""
    points = blocks[0][1].shape[0]

    def stat(r: int) -> np.ndarray:
        parts = []
        for k, v in blocks:  # v: (points, k, tasks_k)
            idx = rng.integers(0, k, size=(r, k, v.shape[2]))
            g = np.take_along_axis(v[None], idx[:, None], axis=2)  # (r, points, k, tasks_k)
            parts.append(g.reshape(r, points, -1))
        x = np.concatenate(parts, axis=2)  # (r, points, runs)
        return _nan_iqm_rows(x.reshape(r * points, -1)).reshape(r, points)

    runs = sum(k * v.shape[2] for k, v in blocks)
    return _percentiles(_bootstrap(reps, stat, _chunk(points * runs)), confidence)


def sample_efficiency(
    curves: dict[str, np.ndarray], reps: int = 2_000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """IQM at each point of (points, runs, tasks) curves; one run resample per rep for all points,
    so each resampled curve is coherent. (rliable's recipe, IQM per point of a (runs, tasks, points)
    array, draws runs independently per point; each point's CI has the same distribution.)"""
    out = {}
    for name in sorted(curves):
        c = np.asarray(curves[name], float)
        point = np.array([aggregate(c[i])["iqm"] for i in range(c.shape[0])])
        blocks = _run_blocks(c)
        if not blocks:
            nan = np.full(c.shape[0], np.nan)
            out[name] = (nan, nan, nan)
            continue
        out[name] = (point, *_efficiency_interval(blocks, _rng(seed, name), reps, confidence))
    return out


def _nan_iqm_rows(x: np.ndarray) -> np.ndarray:
    """IQM of each row ignoring NaNs (a run with no evaluation yet at an early point), NaN for a
    row without values. Rows have different counts n, so each keeps sorted positions
    [int(n/4), n - int(n/4)) by a mask rather than a slice."""
    finite = np.isfinite(x)
    if finite.all():
        return _iqm_rows(x)
    s = np.sort(np.where(finite, x, np.inf), axis=1)  # missing values sort last
    n = finite.sum(axis=1)
    lo = (n // 4)[:, None]  # == int(0.25 * n) for integer n
    pos = np.arange(x.shape[1])[None, :]
    keep = (pos >= lo) & (pos < n[:, None] - lo)
    total = np.where(keep, s, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / (n - 2 * lo[:, 0]), np.nan)


def permutation_test(x: np.ndarray, y: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of the difference in means, scipy's convention (twice the smaller tail):
    exact when the splits number at most `n_resamples`, otherwise Monte Carlo with the
    (count + 1) / (n + 1) correction per tail."""
    x = np.asarray(x, float)[np.isfinite(np.asarray(x, float))]
    y = np.asarray(y, float)[np.isfinite(np.asarray(y, float))]
    if len(x) < 1 or len(y) < 1:
        return 1.0
    pooled = np.concatenate([x, y])
    n, total = len(x), pooled.sum()
    observed = x.mean() - y.mean()
    eps = 1e-12 * max(1.0, float(np.abs(pooled).max()))

    def diffs(idx: np.ndarray) -> np.ndarray:
        sx = pooled[idx].sum(axis=1)
        return sx / n - (total - sx) / (len(pooled) - n)

    if math.comb(len(pooled), n) <= n_resamples:
        d = diffs(np.array(list(itertools.combinations(range(len(pooled)), n))))
        greater, less = np.mean(d >= observed - eps), np.mean(d <= observed + eps)
    else:
        rng = np.random.default_rng([seed, len(x), len(y)])
        d = diffs(np.argsort(rng.random((n_resamples, len(pooled))), axis=1)[:, :n])
        greater = (np.sum(d >= observed - eps) + 1) / (n_resamples + 1)
        less = (np.sum(d <= observed + eps) + 1) / (n_resamples + 1)
    return float(min(1.0, 2 * min(greater, less)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order."""
    p = np.asarray(pvalues, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out.tolist()
