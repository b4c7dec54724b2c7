"""tools/migrate_results.py turns a result file of the flat-field layout back into exactly the
file the current code writes (checked on a committed screen run, flattened by hand)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = runpy.run_path(str(ROOT / "tools" / "migrate_results.py"))
RUN = ROOT / "data" / "screen" / "rtrrl-screen" / "MemoryChain-4" / "rtrrl@paper-code" / "seed_0.json"


def _flatten(data: dict) -> dict:
    """The old layout: compat's fields as top-level hyperparameters under their old names."""
    hp = dict(data["config"]["agent"]["hyperparameters"])
    compat = hp.pop("compat")
    for old, new in TOOL["RENAMED"].items():
        hp[old] = compat[new]
    hp["eval_reset_on_done"] = not compat["eval_keeps_state"]
    old = json.loads(json.dumps(data))
    old["config"]["agent"]["hyperparameters"] = hp
    old["config_hash"] = "0" * 64
    return old


def test_migration_restores_the_current_file_byte_for_byte(tmp_path, capsys):
    current = RUN.read_text()
    path = tmp_path / "rtrrl-screen" / "MemoryChain-4" / "rtrrl@paper-code" / "seed_0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_flatten(json.loads(current)), indent=1) + "\n")
    assert TOOL["main"]([str(tmp_path), "--check"]) == 0 and path.read_text() != current
    assert TOOL["main"]([str(tmp_path)]) == 0
    assert path.read_text() == current
    assert TOOL["main"]([str(tmp_path)]) == 0  # a second pass changes nothing
    assert path.read_text() == current
    assert capsys.readouterr().out.splitlines() == [
        "1 result files would change",
        "1 result files rewritten",
        "0 result files rewritten",
    ]
