"""The published leaderboard (docs/leaderboard/, ready for GitHub Pages) is exactly what the committed
dataset (data/reference) builds, so the page can never drift from its data. The rebuild runs in
`nox -s site`, which installs the drawing libraries at the versions the site was built with."""

from __future__ import annotations

import re
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from reports import headline

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "data" / "reference"
SITE = ROOT / "docs" / "leaderboard"
CONSTRAINTS = REFERENCE / "report-constraints.txt"
REBUILD = "rebuild it with `nox -s site -- build` and commit docs/leaderboard and README.md"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.skipif(not SITE.is_dir(), reason="no leaderboard published yet")
def test_the_readme_quotes_the_published_headline():
    assert headline.embedded((ROOT / "README.md").read_text()) == (SITE / "headline.md").read_text(), REBUILD


@pytest.mark.site
def test_the_published_leaderboard_is_a_rebuild_of_the_committed_dataset(tmp_path):
    from reports.build import Options, build_report

    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", CONSTRAINTS.read_text(), re.M)
    assert pins, f"{CONSTRAINTS} pins nothing"
    for name, pinned in pins:
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        assert installed == pinned, (
            f"{name} {installed} is installed, the site was drawn with {pinned}: run `nox -s site`"
        )
    # the same layout as the repository's, so that the links from the page to the raw files are the same
    results = tmp_path / "data" / "reference"
    shutil.copytree(REFERENCE, results)
    build_report(results, tmp_path / "docs" / "leaderboard", Options(screenshot=False))
    rebuilt = tmp_path / "docs" / "leaderboard"
    assert _files(SITE) == _files(rebuilt), REBUILD
    differ = [f for f in _files(SITE) if (SITE / f).read_bytes() != (rebuilt / f).read_bytes()]
    assert not differ, f"{len(differ)} files differ from a rebuild, e.g. {differ[:3]}: {REBUILD}"
