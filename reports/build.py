"""Build the report from whatever results exist: coverage and per-task scores, as markdown.

Failed and diverged runs are listed in the coverage table and excluded from score
statistics here; the full statistics (normalization, bootstrap CIs, figures, HTML
leaderboard) are issue 7's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from reports.load import load_results


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def build_report(results_dir: Path, out_dir: Path) -> Path:
    loaded = load_results(results_dir)
    cells: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for run in loaded.runs:
        cells[(run["suite"], run["task"], run["agent"])].append(run)

    lines = ["# Results", "", f"{len(loaded.runs)} valid result files, {len(loaded.rejected)} rejected.", ""]
    lines += ["## Coverage and scores", "",
              "Best = the paper's per-run result (best evaluation score); median ± std over seeds (ddof 1). "
              "Final = final-policy score. Failed and diverged runs are counted, not scored.", "",
              "| suite | task | agent | runs | completed | early-stopped | diverged | failed | best (median ± std) | final (mean) | env steps (median) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (suite, task, agent), runs in sorted(cells.items()):
        by = defaultdict(int)
        for r in runs:
            by[r["status"]] += 1
        scored = [r for r in runs if r["status"] in ("completed", "early-stopped")]
        best = [r["best_score"] for r in scored if r["best_score"] is not None]
        final = [r["final_score"] for r in scored if r["final_score"] is not None]
        steps = [r["env_steps"] for r in runs if r["status"] != "failed"]
        best_txt = (f"{statistics.median(best):.4g} ± {statistics.stdev(best):.3g}" if len(best) > 1
                    else _fmt(best[0]) if best else "-")
        lines.append(
            f"| {suite} | {task} | {agent} | {len(runs)} | {by['completed']} | {by['early-stopped']} | "
            f"{by['diverged']} | {by['failed']} | {best_txt} | {_fmt(statistics.fmean(final)) if final else '-'} | "
            f"{int(statistics.median(steps)) if steps else '-'} |")
    if loaded.rejected:
        lines += ["", "## Rejected files", ""]
        lines += [f"- `{p}`: {why}" for p, why in loaded.rejected]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
