"""Figures (seaborn on matplotlib's Agg backend): deterministic PNGs, one function per view."""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from reports import stats

DPI = 110
METRIC_TITLES = {"median": "Median", "iqm": "IQM", "mean": "Mean", "optimality_gap": "Optimality gap"}


_COLORS = {  # stable across figures, suites and reports: RTRRL family warm, PPO family cool, random grey
    "rtrrl": "#d62728",
    "rtrrl-rtrl": "#ff7f0e",
    "rtrrl-lru": "#e377c2",
    "linear-td": "#bcbd22",
    "ppo": "#1f77b4",
    "ppo-gru": "#17becf",
    "ppo-lstm": "#2ca02c",
    "ppo-ctrnn": "#9467bd",
    "random": "#7f7f7f",
}


def _palette(agents: list[str]) -> dict[str, tuple]:
    """Colours by agent name; a preset (`rtrrl@paper-code`) gets a lighter or darker shade of its
    agent's colour; other agents without a fixed colour get one from their name's hash."""
    extra = sns.color_palette("dark", 10)

    def colour(a: str) -> tuple:
        if a in _COLORS:
            return matplotlib.colors.to_rgb(_COLORS[a])
        base, _, preset = a.partition("@")
        if preset and base in _COLORS:
            mix = (0.5, -0.45, 0.25, -0.25)[zlib.crc32(preset.encode()) % 4]
            rgb = np.asarray(matplotlib.colors.to_rgb(_COLORS[base]))
            return tuple(float(v) for v in (rgb + mix * (1.0 - rgb) if mix > 0 else rgb * (1.0 + mix)))
        return extra[zlib.crc32(a.encode()) % len(extra)]

    return {a: colour(a) for a in agents}


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def heatmap(per_task: pd.DataFrame, path: Path) -> Path:
    """Task x agent: the normalized IQM at the common budget, coloured on [0, 1] (random to ceiling),
    ★ on a task's winner and = on every agent the tests do not separate from the leader."""
    d = per_task[per_task["ranked"]]
    tasks, agents = sorted(d["task"].unique()), sorted(d["agent"].unique())
    values = np.full((len(tasks), len(agents)), np.nan)
    labels = np.full(values.shape, "", dtype=object)
    for r in d.itertuples():
        i, j = tasks.index(r.task), agents.index(r.agent)
        values[i, j] = r.norm_iqm
        if np.isfinite(r.norm_iqm):
            mark = " ★" if r.winner else (" =" if r.top and d[d["task"] == r.task]["top"].sum() > 1 else "")
            labels[i, j] = f"{r.norm_iqm:.2f}{mark}"
    fig, ax = plt.subplots(figsize=(1.05 * len(agents) + 2.6, 0.3 * len(tasks) + 1.4))
    sns.heatmap(
        values,
        annot=labels,
        fmt="",
        vmin=0,
        vmax=1,
        cmap="viridis",
        xticklabels=agents,
        yticklabels=tasks,
        linewidths=0.5,
        linecolor="white",
        cbar_kws={"label": "normalized score (0 = random, 1 = ceiling)", "shrink": 0.6},
        annot_kws={"fontsize": 7.5},
        ax=ax,
    )
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelrotation=30, labelsize=8.5, length=0)
    ax.tick_params(axis="y", labelsize=8.5, length=0)
    plt.setp(ax.get_xticklabels(), ha="left")
    return _save(fig, path)


def per_task_dots(runs: pd.DataFrame, path: Path) -> Path:
    """One small panel per task: every ranked run's normalized score at the common budget as a dot,
    the median as a bar, agents in the same order and colours everywhere."""
    d = runs[runs["ranked"] & np.isfinite(runs["norm_primary"].astype(float))].copy()
    d["norm_primary"] = d["norm_primary"].astype(float)
    agents, tasks = sorted(d["agent"].unique()), sorted(d["task"].unique())
    cols = min(5, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * (0.32 * len(agents) + 1.1), 2.6 * rows), sharey=True, squeeze=False
    )
    fig.subplots_adjust(hspace=1.1 if len(agents) > 3 else 0.5, wspace=0.12)
    pal = _palette(agents)
    for ax, task in zip(axes.flat, tasks):
        t = d[d["task"] == task]
        for k, a in enumerate(agents):
            v = np.sort(t.loc[t["agent"] == a, "norm_primary"].to_numpy())
            if not len(v):
                continue
            spread = np.linspace(-0.18, 0.18, len(v))  # spread by rank, not random jitter: the same bytes
            ax.scatter(k + spread, v, s=9, color=pal[a], edgecolor="black", linewidth=0.3, zorder=3)
            ax.hlines(np.median(v), k - 0.35, k + 0.35, color="black", lw=1.2, zorder=4)
        ax.axhline(0, color="grey", lw=0.6, ls=":")
        ax.axhline(1, color="grey", lw=0.6, ls="--")
        ax.set_title(task, fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_xticks(range(len(agents)), agents)
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    fig.supylabel("normalized score at the common budget", fontsize=9)
    return _save(fig, path)


def per_task_raw(runs: pd.DataFrame, path: Path) -> Path:
    """Tasks without normalization constants: one panel per task on its own raw scale (scores of
    different tasks cannot share an axis), the mean best score per agent as a bar, every run a dot."""
    d = runs[np.isfinite(runs["best"].astype(float))].copy()
    d["best"] = d["best"].astype(float)
    agents = sorted(d["agent"].unique())
    tasks = sorted(d["task"].unique())
    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.5 * len(agents) * cols + 2.2 * cols, 3.0 * rows), squeeze=False)
    pal = _palette(agents)
    for ax, task in zip(axes.flat, tasks):
        t = d[d["task"] == task]
        same = dict(x="agent", y="best", hue="agent", order=agents, hue_order=agents, palette=pal, ax=ax)
        sns.barplot(t, errorbar=None, alpha=0.75, legend=False, **same)
        sns.stripplot(t, jitter=False, size=3, edgecolor="black", linewidth=0.4, legend=False, **same)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("best validation reward (raw)")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def aggregate_intervals(estimates: dict[str, dict[str, stats.Interval]], path: Path) -> Path:
    """rliable's four aggregate metrics, point estimate and 95% stratified-bootstrap CI."""
    agents = sorted(estimates)
    pal = _palette(agents)
    fig, axes = plt.subplots(
        1, len(stats.METRICS), figsize=(3.0 * len(stats.METRICS), 0.45 * len(agents) + 1.3), sharey=True
    )
    for ax, metric in zip(np.atleast_1d(axes), stats.METRICS):
        for i, a in enumerate(agents):
            iv = estimates[a][metric]
            ax.barh(i, iv.high - iv.low, left=iv.low, height=0.6, color=pal[a], alpha=0.75)
            ax.vlines(iv.point, i - 0.3, i + 0.3, color="black", lw=1.5)
        ax.set_title(METRIC_TITLES[metric])
        ax.set_yticks(range(len(agents)), agents)
        ax.grid(axis="x", alpha=0.3)
    fig.supxlabel("normalized score")
    return _save(fig, path)


def poi_heatmap(poi: dict[tuple[str, str], stats.Interval], agents: list[str], path: Path) -> Path:
    """P(row agent > column agent) on a random task, with the CI in each cell."""
    n = len(agents)
    m = np.full((n, n), np.nan)
    labels = np.full((n, n), "", dtype=object)
    for i, a in enumerate(agents):
        for j, b in enumerate(agents):
            if a != b and (a, b) in poi:
                iv = poi[(a, b)]
                m[i, j] = iv.point
                labels[i, j] = f"{iv.point:.2f}\n[{iv.low:.2f}, {iv.high:.2f}]"
    fig, ax = plt.subplots(figsize=(1.3 * n + 2, 1.1 * n + 1))
    sns.heatmap(
        m,
        annot=labels,
        fmt="",
        vmin=0,
        vmax=1,
        cmap="vlag",
        center=0.5,
        square=True,
        xticklabels=agents,
        yticklabels=agents,
        cbar_kws={"label": "P(row > column)"},
        ax=ax,
        annot_kws={"fontsize": 8},
    )
    ax.set_xlabel("Y")
    ax.set_ylabel("X")
    ax.set_title("probability of improvement P(X > Y)")
    return _save(fig, path)


def _steps_axis(ax: plt.Axes) -> None:
    """Env steps as 500k / 1M / 50M with few ticks: plain integers up to 1e6 overlap in small panels."""
    ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(5))


def _bands(
    x: np.ndarray,
    lines: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    xlabel: str,
    ylabel: str,
    path: Path,
) -> Path:
    """One line per agent with its 95% CI band."""
    pal = _palette(list(lines))
    fig, ax = plt.subplots(figsize=(6, 4))
    for a in sorted(lines):
        p, lo, hi = lines[a]
        ax.plot(x, p, color=pal[a], label=a)
        ax.fill_between(x, lo, hi, color=pal[a], alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return _save(fig, path)


def performance_profiles(
    taus: np.ndarray, profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path
) -> Path:
    """Fraction of runs scoring above tau, with 95% CI bands."""
    return _bands(taus, profiles, r"normalized score $\tau$", r"fraction of runs with score $> \tau$", path)


def sample_efficiency(
    grid: np.ndarray,
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    complete: dict[str, np.ndarray],
    path: Path,
    common_budget: int | None = None,
) -> Path:
    """IQM of normalized evaluation scores over env steps with 95% CI bands; solid while every run of
    the agent is still evaluated, dotted after some have stopped; nothing past an agent's last run."""
    pal = _palette(list(curves))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for a in sorted(curves):
        p, lo, hi = curves[a]
        full = complete[a]
        ax.plot(grid, np.where(full, p, np.nan), color=pal[a], label=a, marker="o", ms=2.5)
        partial = ~full
        partial[:-1] |= full[:-1] & ~full[1:]  # the dotted part starts at the last solid point
        ax.plot(grid, np.where(partial, p, np.nan), color=pal[a], ls=":", lw=1.2)
        ax.fill_between(grid, lo, hi, color=pal[a], alpha=0.15)
    if common_budget:
        ax.axvline(common_budget, color="black", lw=0.8, ls="--")
    ax.set_xlabel("env steps")
    ax.set_ylabel("IQM normalized evaluation score")
    _steps_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return _save(fig, path)


def _run_lines(
    d: pd.DataFrame, y: str, col: str, col_order: list[str], *, height: float, aspect: float, sharex: bool
) -> sns.FacetGrid:
    """One panel per `col` value, one thin line per run over env steps, coloured by agent."""
    agents = sorted(d["agent"].unique())
    g = sns.relplot(
        d,
        x="env_steps",
        y=y,
        hue="agent",
        hue_order=agents,
        palette=_palette(agents),
        col=col,
        col_order=col_order,
        col_wrap=min(4, max(1, len(col_order))),
        kind="line",
        units="seed",
        estimator=None,
        alpha=0.7,
        lw=1,
        height=height,
        aspect=aspect,
        facet_kws={"sharey": False, "sharex": sharex},
    )
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        _steps_axis(ax)
    return g


def learning_curves(curves: pd.DataFrame, path: Path, budgets: dict[str, int] | None = None) -> Path | None:
    """Raw evaluation score of every run over env steps, one panel per task; a dashed line marks the
    task's common budget."""
    d = curves[np.isfinite(curves["eval_score"].astype(float))].copy()
    if d.empty:
        return None
    g = _run_lines(d, "eval_score", "task", sorted(d["task"].unique()), height=2.4, aspect=1.3, sharex=False)
    for task, ax in g.axes_dict.items():
        if budgets and task in budgets:
            ax.axvline(budgets[task], color="black", lw=0.7, ls="--")
    g.set_axis_labels("env steps", "eval score (paper metric)")
    return _save(g.figure, path)


def compute_view(runs: pd.DataFrame, path: Path) -> Path | None:
    """Score against compute: each ranked run's normalized score at the common budget vs its share of
    its seed block's wall-clock seconds (compile + run, divided by the block's seeds)."""
    d = runs[runs["ranked"] & np.isfinite(runs["norm_primary"].astype(float))].copy()
    d["wall_s"] = (d["run_s"].astype(float) + d["compile_s"].astype(float)) / d["block_size"].astype(float)
    d = d[np.isfinite(d["wall_s"])]
    if d.empty:  # only failure records: no timing to plot
        return None
    agents = sorted(d["agent"].unique())
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.scatterplot(
        d,
        x="wall_s",
        y="norm_primary",
        hue="agent",
        hue_order=agents,
        palette=_palette(agents),
        style="agent",
        s=30,
        ax=ax,
    )
    if (d["wall_s"] > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel("wall-clock seconds per run (its share of the seed block: compile + run)")
    ax.set_ylabel("normalized score at the common budget")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    return _save(fig, path)


def diagnostics(diag: pd.DataFrame, task: str, path: Path) -> Path:
    """Small multiples of one task's learning diagnostics over env steps: one panel per diagnostic,
    one thin line per run, coloured by agent. Collapse reads at a glance: entropy falling to 0,
    saturation and tau-at-clamp rising to 1, a TD error that never changes sign."""
    d = diag[np.isfinite(diag["value"].astype(float))]
    names = sorted(d["diagnostic"].unique(), key=lambda n: (n != "entropy", n))
    g = _run_lines(d, "value", "diagnostic", names, height=2.1, aspect=1.35, sharex=True)
    g.set_axis_labels("env steps", "")
    for ax in g.axes.flat:
        ax.grid(alpha=0.3)
    g.figure.suptitle(task, y=1.02)
    return _save(g.figure, path)
