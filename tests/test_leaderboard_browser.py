"""The HTML leaderboard in a real browser: Debian's headless Chromium driven by Selenium.

Checks what a reader sees: the verdict on the first screen at 1400 and at 400 px without sideways
panning, the per-task tables' rows and numbers (recomputed here), sorting by a click, every figure
decoded, raw-JSON links that resolve, and a hostile string from a result file shown as text, never
run. A screenshot is saved with the report. Without Chromium the test is skipped locally; in CI
(`CI` set) a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from report_data import AGENTS, CONSTANTS, TASKS, make_run, reference_dir, write_grid

from benchmarks.storage import result_path, write_result
from reports.browser import CHROMIUM_FLAGS, find_chromium, screenshot
from reports.build import Options, build_report

EVIL = '<img id="pwned" src=x onerror="document.title=\'pwned\'">'


def _driver(width: int = 1400, height: int = 2400):
    chromium, chromedriver = find_chromium(), shutil.which("chromedriver")
    if not chromium or not chromedriver:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("no chromium/chromedriver here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(chromedriver), options=opts)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("lb")
    results, data = root / "results", reference_dir(root)
    write_grid(results, CONSTANTS)
    write_result(
        result_path(results, "demo", "CartPole-vel", "evil", 0),
        make_run("demo", "CartPole-vel", "evil", 0, 100.0, floor_ceiling=(20.0, 500.0)).model_copy(
            update={"agent": EVIL}
        ),
    )
    built = build_report(
        results, results / "report", Options(reps=2_000, reps_small=500, screenshot=False), data_dir=data
    )
    driver = _driver()
    try:
        driver.get(built.html.resolve().as_uri())
        yield driver, built, results
    finally:
        driver.quit()


def _rows(driver, table_id):
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.ID, table_id)
    return [  # textContent: a table inside a closed <details> is in the page but not displayed
        [td.get_attribute("textContent").strip() for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def _by_hand(results, task, agent):
    """(scores at the common budget, best scores) of a cell from its files: the grid's runs share one
    budget and grid, so the score is the last evaluation; failed and diverged runs score the floor."""
    score, best = [], []
    for p in sorted((results / "demo" / task / agent).glob("seed_*.json")):
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError:
            continue  # the grid's corrupt file
        if d["status"] not in ("completed", "early-stopped", "diverged", "failed"):
            continue
        ok = d["status"] in ("completed", "early-stopped")
        floor = CONSTANTS["tasks"][task]["floor"]
        score.append(d["curve"]["eval_score"][-1] if ok else floor)
        best.append(d["best_score"] if ok else floor)
    return score, best


def test_per_task_tables_show_every_cell_with_its_numbers(page):
    driver, _, results = page
    ranking, own = _rows(driver, "suite-demo-per-task"), _rows(driver, "suite-demo-own-budget")
    assert len(ranking) == len(own) == len(TASKS) * len(AGENTS) + 1
    by, own_by = {(r[0], r[1]): r for r in ranking}, {(r[0], r[1]): r for r in own}
    assert (TASKS[0], EVIL) in by, "the hostile agent name is shown as text"
    for task in TASKS:
        for agent in AGENTS:
            score, best = _by_hand(results, task, agent)
            cell = by[(task, agent)][3]
            assert cell.startswith(f"{np.median(score):.4g} ± {np.std(score, ddof=1):.3g}"), (task, agent, cell)
            cell = own_by[(task, agent)][4]
            assert cell.startswith(f"{np.median(best):.4g} ± {np.std(best, ddof=1):.3g}"), (task, agent, cell)


@pytest.mark.parametrize("width", [1400, 400])
def test_the_first_screen_states_the_verdict_without_sideways_panning(page, width):
    """At a desktop and a phone width: the verdict is on the first screen and the page is never wider
    than the window (wide tables scroll inside their own box)."""
    from selenium.webdriver.common.by import By

    _, built, _ = page
    driver = _driver(width, 900)
    try:
        driver.get(built.html.resolve().as_uri())
        inner = driver.execute_script("return window.innerWidth")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= inner
        verdict = driver.find_element(By.ID, "suite-demo-verdict")
        assert verdict.text.startswith("Verdict. At a common budget of 5k env steps per run")
        rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", verdict)
        assert rect["top"] < 900 and rect["right"] <= inner, rect
        heatmap = driver.find_element(By.CSS_SELECTOR, "section#suite-demo figure.heatmap img")
        assert driver.execute_script("return arguments[0].getBoundingClientRect().right", heatmap) <= inner
    finally:
        driver.quit()


def test_clicking_a_header_sorts_by_that_column(page):
    from selenium.webdriver.common.by import By

    driver, _, _ = page
    header = driver.find_elements(By.CSS_SELECTOR, "#suite-demo-per-task thead th")[3]
    assert header.text.startswith("score at the common budget")
    header.click()
    first = [r[3] for r in _rows(driver, "suite-demo-per-task")]
    header.click()
    second = [r[3] for r in _rows(driver, "suite-demo-per-task")]
    values = [float(v.split(" ")[0]) for v in first]
    assert values == sorted(values) and second == first[::-1]
    assert header.get_attribute("aria-sort") == "descending"


def test_figures_are_decoded_and_links_resolve(page):
    from selenium.webdriver.common.by import By

    driver, built, _ = page
    images = driver.find_elements(By.CSS_SELECTOR, "section#suite-demo figure img")
    diagnostics = driver.find_elements(By.CSS_SELECTOR, "section#suite-demo figure.diagnostics img")
    assert len(images) == 8 + len(TASKS) and len(diagnostics) == len(TASKS), (
        "8 suite views (the heatmap first), one diagnostics view per task"
    )
    for img in images:
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
    links = driver.find_elements(By.CSS_SELECTOR, "a.raw")
    assert len(links) >= len(TASKS) * len(AGENTS)
    for a in links:
        href = Path(unquote(urlparse(a.get_attribute("href")).path))
        assert href.is_file() and json.loads(href.read_text())["run_id"].endswith(f"/{href.stem.split('_')[1]}"), href


def test_hostile_strings_are_not_executed(page):
    from selenium.webdriver.common.by import By

    driver, built, _ = page
    assert driver.title == "rtrrl-bench leaderboard"
    assert driver.find_elements(By.ID, "pwned") == []
    assert len(driver.find_elements(By.TAG_NAME, "script")) == 1, "only the page's own sorter"
    assert screenshot(built.html, built.html.parent / "screenshot.png") is None
    assert (built.html.parent / "screenshot.png").stat().st_size > 10_000
