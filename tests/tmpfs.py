"""Small real filesystems for the OS-error tests: a tmpfs of a few KiB, full or read-only.
Mounting needs root with mount rights (CI runs as root); elsewhere those tests skip."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    where.mkdir()
    opts = ",".join((f"size={size}", *options))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(fs: Path, leave: int) -> None:
    """Fill `fs` up to `leave` bytes free."""
    st = os.statvfs(fs)
    (fs / f"filler-{uuid.uuid4().hex}").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def empty(fs: Path) -> None:
    for f in fs.glob("filler-*"):
        f.unlink()
