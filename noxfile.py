"""Sessions: `tests` (default, < 10 min on 2 cores), `lint`, `bench`, `report`, `slow`, `ray`, `site`, `perf`.

nox -s tests                      # the test suite
nox -s bench                      # the `quick` suite, then its report
nox -s bench -- --suite popgym    # any `rtrrl-bench run` arguments
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

ENV = {"NPROC": "1"}  # one XLA CPU thread per process (see benchmarks/cli.py)


def _results_dir(args: list[str]) -> str:
    for i, a in enumerate(args):
        if a == "--out" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--out="):
            return a.split("=", 1)[1]
    return "results"


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, differential and short learning tests (no `slow` ones)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not slow and not ray and not site", "--durations=15", *session.posargs, env=ENV)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check (settings in pyproject.toml); fix with `ruff check --fix . && ruff format .`."""
    session.install("ruff>=0.17,<0.18")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def slow(session: nox.Session) -> None:
    """Long tests: exhaustive and learning tests."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "slow", *session.posargs, env=ENV, success_codes=[0, 5])


@nox.session
def ray(session: nox.Session) -> None:
    """The Ray executor on local multi-node Ray clusters (installs the `ray` extra)."""
    session.install("-e", ".[test,ray]")
    session.run("pytest", "-m", "ray", *session.posargs, env=ENV)


SITE_CONSTRAINTS = "data/reference/report-constraints.txt"
"""The versions the published leaderboard is drawn with (byte-identical only with the same ones)."""


@nox.session
def site(session: nox.Session) -> None:
    """The published leaderboard (docs/leaderboard/ and the README's headline) against the committed
    dataset data/reference: checks it is byte-identical to a rebuild; `-- build` rebuilds it."""
    session.install("-e", ".[test]", "-c", SITE_CONSTRAINTS)
    if session.posargs[:1] == ["build"]:
        session.run(
            "rtrrl-bench",
            "report",
            "--results",
            "data/reference",
            "--out",
            "docs/leaderboard",
            "--no-screenshot",
            "--headline-into",
            "README.md",
            env=ENV,
        )
    else:
        session.run("pytest", "-m", "site", *session.posargs, env=ENV)


def _wants_ray(args: list[str]) -> bool:
    return "--executor=ray" in args or any(a == "--executor" and b == "ray" for a, b in zip(args, args[1:]))


@nox.session
def bench(session: nox.Session) -> None:
    """Run the runner (default: the `quick` suite), then build the report of what exists.
    `-- --executor ray ...` installs the `ray` extra first."""
    args = session.posargs or ["--suite", "quick"]
    session.install("-e", ".[ray]" if _wants_ray(list(args)) else ".")
    session.run("rtrrl-bench", "run", *args, env=ENV)
    session.run("rtrrl-bench", "report", "--results", _results_dir(list(args)), env=ENV)


@nox.session
def report(session: nox.Session) -> None:
    """Build the report from `results/` (or the directory given after --, then any `report` options)."""
    session.install("-e", ".")
    args = list(session.posargs)
    results = args.pop(0) if args and not args[0].startswith("-") else "results"
    session.run("rtrrl-bench", "report", "--results", results, *args, env=ENV)


@nox.session
def perf(session: nox.Session) -> None:
    """Speed ratios measured in one process (agent steps/s vs raw env steps/s)."""
    session.install("-e", ".[perf]")
    session.run("python", "tools/perf.py", *session.posargs, env=ENV)
