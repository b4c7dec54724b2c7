import os

os.environ.setdefault("NPROC", "1")  # before jax starts (see benchmarks/cli.py)
# in-process CLI calls share one jax cache setting; keep it out of the user's home
os.environ.setdefault("RTRRL_BENCH_COMPILE_CACHE", "none")

import fault_agents  # noqa: F401  (registers the test-only agents)
import pytest

from agents import threefry
from benchmarks.cli import main

threefry.activate()  # tests compile agents' programs directly: with the lowering the runner uses


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
