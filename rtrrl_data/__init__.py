"""Reference data that the training side writes and the report side reads: the normalization
constants (`normalization.json`, written by `rtrrl-bench normalization`) and the paper's Tables
2 and 3 (`paper_tables.json`).

A package of its own, with the files as package data, so that an installed wheel has them and
neither `benchmarks` nor `reports` has to reach into the other's directory.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

NORMALIZATION = DATA_DIR / "normalization.json"
PAPER_TABLES = DATA_DIR / "paper_tables.json"
