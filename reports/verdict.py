"""What a suite's statistics support, in words: the verdict sentence, what the ranking holds equal,
and how each agent's configuration was chosen.

Generated from the section's own numbers (aggregates, probability of improvement, per-task
tests), so the words can never claim more than the tables: an agent "leads" only where the
probability of improvement's CI lies above one half, a task has a winner only where the
Holm-corrected tests name one, and ties are said to be ties.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from reports import stats, tables
from reports.budget import WINDOW
from reports.sections import SuiteSection


def _a(name: str) -> str:
    return f"`{tables.md_escape(name)}`"


def _names(names: Iterable[str]) -> str:
    names = [_a(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def budget_phrase(sec: SuiteSection) -> str:
    """`a common budget of 2M env steps per run`, or the range where tasks differ."""
    budgets = sorted({t.budget for t in sec.terms.values()})
    if not budgets:
        return "no common budget"
    if len(budgets) == 1:
        return f"a common budget of {tables.steps(budgets[0])} env steps per run"
    return f"common budgets of {tables.steps(budgets[0])}–{tables.steps(budgets[-1])} env steps per run (per task)"


def _separated(sec: SuiteSection, a: str, b: str) -> bool:
    iv = sec.poi.get((a, b))
    return iv is not None and np.isfinite(iv.low) and iv.low > 0.5


def _poi(sec: SuiteSection, a: str, b: str) -> str:
    iv = sec.poi[(a, b)]
    return f"P({tables.md_escape(a)} > {tables.md_escape(b)}) = {iv.point:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def _overlap(a: stats.Interval, b: stats.Interval) -> bool:
    return a.low <= b.high and b.low <= a.high


def aggregate_clause(sec: SuiteSection) -> str:
    """Who has the highest IQM, whether the runner-up's interval overlaps it, and whom the
    probability of improvement (its CI above one half) puts it ahead of."""
    agents = sorted(sec.aggregates)
    if len(agents) < 2:
        return f"only {_a(agents[0])} is ranked: nothing to compare" if agents else "no agent is ranked"
    iqm = {a: sec.aggregates[a]["iqm"] for a in agents}
    top = max(agents, key=lambda a: (iqm[a].point, a))
    second = max((a for a in agents if a != top), key=lambda a: (iqm[a].point, a))
    close = [b for b in agents if b != top and not _separated(sec, top, b)]
    ahead = [b for b in agents if b != top and b not in close]
    ci = lambda a: tables.ci(iqm[a].point, iqm[a].low, iqm[a].high)
    head = f"{_a(top)} has the highest IQM ({ci(top)}; next {_a(second)}, {ci(second)}"
    head += ", the intervals overlap)" if _overlap(iqm[top], iqm[second]) else ")"
    if not close:
        return (
            head + f"; the probability of improvement puts it ahead of every other agent (closest: "
            f"{_poi(sec, top, second)})"
        )
    parts = [
        head
        + ", and the probability of improvement does not separate it from "
        + "; ".join(f"{_a(b)} ({_poi(sec, top, b)})" for b in close)
    ]
    if ahead:
        parts.append(f"it is ahead of {_names(ahead)}")
    return "; ".join(parts)


def task_clause(sec: SuiteSection) -> str:
    """Per-task outcomes: winners by agent (with their tasks), then how many tasks the tests leave
    unseparated at the top, and on how many of those even the random agent is among the leaders."""
    ranked = sec.ranked
    if ranked.empty:
        return ""
    wins: dict[str, list[str]] = {}
    unseparated, with_random, compared = 0, 0, 0
    for _, g in ranked.groupby("task", sort=True):
        result = tables.task_result(g)
        if result == "–":
            continue
        compared += 1
        if g["winner"].any():
            wins.setdefault(result, []).append(str(g["task"].iloc[0]))
            continue
        unseparated += 1
        with_random += bool(((g["agent"] == "random") & g["top"]).any())
    if not compared:
        return "No task has scores of two ranked agents yet"
    seeds = sorted(set(ranked["runs"].astype(int)))
    parts = [
        f"{_a(a)} wins {len(ts)} ({', '.join(map(tables.md_escape, ts))})"
        for a, ts in sorted(wins.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ] or ["no agent wins a task"]
    if unseparated:
        line = (
            f"on the other {unseparated} the tests do not separate the leaders"
            if wins
            else (f"on {unseparated} the tests do not separate the leaders")
        )
        line += f" ({seeds[0]}–{seeds[-1]} runs per agent)" if len(seeds) > 1 else f" ({seeds[0]} runs per agent)"
        if with_random:
            line += f", and on {with_random} of those not even from `random`"
        parts.append(line)
    return (
        f"Per task (Holm-corrected permutation tests at α = {tables.ALPHA}, {compared} tasks with two or more "
        "ranked agents): " + "; ".join(parts)
    )


def verdict(sec: SuiteSection) -> str:
    """One generated paragraph: at which budget, who leads where the statistics say so, and where
    nothing separates."""
    if sec.ranked.empty:
        return "No ranked runs yet."
    if not sec.aggregates:
        agg = "no task has scores of every ranked agent yet, so there is no aggregate"
    else:
        agg = aggregate_clause(sec)
    return f"At {budget_phrase(sec)}, {agg}. {task_clause(sec)}."


def _seeds(seeds: Iterable[int]) -> str:
    s = sorted(set(int(x) for x in seeds))
    if s and s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"{s[0]}–{s[-1]}"
    return ", ".join(map(str, s))


def held_equal(sec: SuiteSection) -> str:
    """The ranking's terms in one line: budget, evaluation grid, score, seeds."""
    if not sec.terms:
        return ""
    budgets = sorted({t.budget for t in sec.terms.values()})
    budget = tables.steps(budgets[0]) + (f"–{tables.steps(budgets[-1])}, per task" if len(budgets) > 1 else "")
    limited = sorted({a for t in sec.terms.values() for a in t.limited_by})
    intervals = sorted({t.interval for t in sec.terms.values()})
    grid = tables.steps(intervals[0]) + (f"–{tables.steps(intervals[-1])}, per task" if len(intervals) > 1 else "")
    seeds = _seeds(sec.ranked["links"].explode().dropna().map(lambda x: x[0])) if not sec.ranked.empty else ""
    agents = sorted(set(sec.ranked["agent"]))
    if limited == agents and len(budgets) == 1:
        whose = "every ranked agent's own budget"
    else:
        longest = tables.steps(float(sec.ranked["budget_max"].max()))
        whose = (
            f"the smallest among the ranked agents: {_names(limited)}'s; others ran up to {longest}, shown "
            "below at their own budget"
        )
    single = all(len(t.points) == 1 for t in sec.terms.values())
    score = (
        f"each run's evaluation at the budget, the only grid point in its last {WINDOW:.0%}"
        if single
        else f"the mean of each run's evaluations in the last {WINDOW:.0%} of that budget"
    )
    line = (
        f"Held equal on every task: the budget ({budget} env steps per run, {whose}), the evaluation grid "
        f"(every {grid} steps), the score ({score}: no maximum over evaluations)"
    )
    line += f" and the seeds ({seeds})." if seeds else "."
    if sec.unranked:
        line += f" Not ranked (`--unranked`): {_names(sec.unranked)}, shown only at their own budget."
    return line


KIND_TEXT = {
    "paper": "the paper's settings",
    "library": "a library's defaults, not tuned here",
    "screen": "a screen",
    "tuned": "tuned",
    "none": "no hyperparameters",
}


def source_text(source: dict[str, Any] | None) -> str:
    """One agent's configuration source as a reader needs it."""
    if not source:
        return "not recorded"
    text = str(source.get("summary") or KIND_TEXT.get(str(source.get("kind")), str(source.get("kind"))))
    overrides = source.get("overrides") or {}
    if overrides:
        text += " — with " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return text


def tuned_on(source: dict[str, Any] | None, tasks: Iterable[str], seeds: Iterable[int]) -> list[str]:
    """The ranked tasks an agent's configuration was chosen on, with the same seeds as ranked here."""
    if not source or not source.get("tasks"):
        return []
    chosen_on, ranked_seeds = set(source["tasks"]), set(int(s) for s in seeds)
    if source.get("seeds") is not None and not ranked_seeds & set(int(s) for s in source["seeds"]):
        return []
    return sorted(set(tasks) & chosen_on)


def source_lines(sec: SuiteSection) -> list[str]:
    """Per agent: how its configuration was chosen, with a warning where it is ranked on tasks (and
    seeds) it was chosen on."""
    lines = []
    for agent in sorted(sec.sources):
        texts = sorted({source_text(s) for s in sec.sources[agent]})
        line = f"- {_a(agent)}: {tables.md_escape('; '.join(texts))}"
        g = sec.ranked[sec.ranked["agent"] == agent]
        seeds = g["links"].explode().dropna().map(lambda x: x[0]).tolist() if not g.empty else []
        overlap = sorted({t for s in sec.sources[agent] for t in tuned_on(s, g["task"], seeds)})
        if overlap:
            line += (
                f" ⚠ {len(overlap)} of the {g['task'].nunique()} tasks it is ranked on here were used to choose "
                "this configuration, with the same seeds: its scores there are not held-out"
            )
        lines.append(line)
    return lines
