"""The dependency rule, read from the code's own imports (function-level imports included):
agents <- benchmarks; reports and benchmarks read rtrrl_data; reports imports neither agents nor
benchmarks; inside benchmarks, the constants and the protocol sit below the runner."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "benchmarks", "reports", "rtrrl_data")


def imports(path: Path) -> set[str]:
    """Dotted project modules `path` imports anywhere in its body."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module in PACKAGES else [node.module]
            out.update(names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] in PACKAGES}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "package, allowed",
    [("agents", {"agents"}), ("reports", {"reports", "rtrrl_data"}), ("rtrrl_data", set())],
)
def test_packages_import_only_what_the_rule_allows(package, allowed):
    bad = {
        f"{p.relative_to(ROOT)} -> {m}" for p in modules(package) for m in imports(p) if m.split(".")[0] not in allowed
    }
    assert not bad, sorted(bad)


def test_only_the_cli_reaches_reports():
    bad = [str(p.relative_to(ROOT)) for p in modules("benchmarks") if any(m.startswith("reports") for m in imports(p))]
    assert bad == ["benchmarks/cli.py"]


@pytest.mark.parametrize(
    "module, below",
    [
        ("normalization", ("plan", "program", "executors", "floors", "progress", "cli", "suites")),
        ("protocol", ("plan", "program", "executors", "suites", "cli")),
        ("plan", ("program", "executors", "cli")),
        ("program", ("executors", "floors", "cli")),
    ],
)
def test_lower_modules_do_not_import_higher_ones(module, below):
    got = imports(ROOT / "benchmarks" / f"{module}.py")
    bad = sorted(m for m in got for b in below if m == f"benchmarks.{b}" or m.startswith(f"benchmarks.{b}."))
    assert not bad, f"benchmarks/{module}.py imports {bad}"
