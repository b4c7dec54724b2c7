"""Headless Chromium: the report's screenshot, and the flags the tests drive it with."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
"""No sandbox (CI runs as root); no background networking (closed networks refuse it, noisily)."""


def find_chromium() -> str | None:
    """`$RTRRL_BENCH_CHROMIUM`, else Debian's `chromium` (or another Chrome) on PATH."""
    env = os.environ.get("RTRRL_BENCH_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2400, timeout_s: float = 120) -> str | None:
    """Render `page` to `png`; returns None on success, else why it was skipped (never raises)."""
    exe = find_chromium()
    if exe is None:
        return "no Chromium found (install Debian's `chromium` or set RTRRL_BENCH_CHROMIUM)"
    with tempfile.TemporaryDirectory(prefix="rtrrl-bench-chromium-") as profile:
        tmp = png.with_name(f".{png.name}.tmp.png")
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={tmp}",
            Path(page).resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout_s, check=True)
            os.replace(tmp, png)
        except (OSError, subprocess.SubprocessError) as e:
            tmp.unlink(missing_ok=True)
            return f"Chromium failed: {e}"
    return None
