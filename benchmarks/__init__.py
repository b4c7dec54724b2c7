"""Tasks, suites, budgets, shared evaluation, the runner and its CLI.

Dependency direction: `benchmarks` uses `agents`; `agents` never import `benchmarks`.
"""
