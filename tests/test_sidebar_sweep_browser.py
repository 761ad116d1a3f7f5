"""Sweep views in a real JupyterLab in Debian's Chromium: a 300-run lr x depth x seed sweep
(with diverged runs) drawn as parallel coordinates; brushing an axis filters the sidebar's runs
list; the param-vs-metric scatter; the parameter-importance table ranks lr first; curves grouped
by a param with a band; the colour legend stays bounded. Screenshots: ``test-artifacts/sweep-*``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from tests.plugins.lab import LabServer, require_chromium, screenshot, start_lab
from tests.test_sidebar_browser import ROW, SIDEBAR, TAB, WAIT_MS, _set_theme

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LRS = [0.1, 0.03, 0.01, 0.003, 0.001]
DEPTHS = [2, 4, 8, 16, 32, 64]
SEEDS = 10  # 5 x 6 x 10 = 300 runs


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("sweep-lab"), "sweep-lab.log") as server:
        yield server


@pytest.fixture(scope="module")
def runs(lab: LabServer) -> Iterator[int]:
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking import fluent

    mlops.set_store(lab.store_url)
    mlops.set_experiment("sweep")
    count = 0
    for lr in LRS:
        for depth in DEPTHS:
            for seed in range(SEEDS):
                params = {"lr": lr, "depth": depth, "seed": seed}
                with mlops.start_run(f"lr{lr}-d{depth}-s{seed}", params=params):
                    # accuracy driven by lr (best at 0.01), a little by depth, noise by seed
                    acc = 0.9 - 0.08 * abs(math.log10(lr) + 2) + 0.002 * math.log2(depth)
                    acc += 0.004 * math.sin(seed * 2.1)
                    diverged = lr == 0.1 and seed == 0
                    for step in range(20):
                        loss = (1 - acc) + math.exp(-step / 5)
                        mlops.log_metric("loss", 1e4 * step if diverged else loss, step=step)
                    mlops.log_metric("acc", acc)
                count += 1
    mlops.flush()
    yield count
    fluent.reset()


@pytest.fixture(scope="module")
def page(browser, lab: LabServer, runs: int) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.lab_url("lab/workspaces/sweep-tests"))
    page.wait_for_selector(TAB, timeout=90_000)
    page.locator(TAB).click()
    page.wait_for_selector(f"{SIDEBAR}:visible")
    page.wait_for_function(
        "n => document.querySelector('.jp-mlops-count')?.dataset.count === String(n)", arg=runs
    )
    yield page
    context.close()


def count(page) -> int:
    return int(page.locator(".jp-mlops-count").get_attribute("data-count"))


def test_parallel_coordinates_brush_the_runs_list(page, runs) -> None:
    page.locator(".jp-mlops-sweep-button").click()
    view = page.locator(".jp-mlops-sweep:visible")
    view.wait_for()
    assert view.get_attribute("data-runs") == str(runs)
    pc = view.locator(".jp-mlops-parcoords")
    assert pc.get_attribute("data-runs") == str(runs)
    keys = pc.locator(".jp-mlops-pc-axis").evaluate_all("els => els.map(e => e.dataset.key)")
    assert keys == ["params.depth", "params.lr", "params.seed", "metrics.acc"], keys
    # the parameter importance puts lr first, the seed last
    ranked = view.locator(".jp-mlops-importance tbody tr").evaluate_all(
        "els => els.map(e => e.dataset.key)"
    )
    assert ranked[0] == "params.lr" and ranked[-1] == "params.seed", ranked
    screenshot(page, "sweep-parcoords-light")

    # brush the top of the acc axis: the sidebar lists only those runs
    hit = pc.locator('.jp-mlops-pc-axis[data-key="metrics.acc"] .jp-mlops-pc-hit')
    box = hit.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 6)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.3, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "n => { const c = Number(document.querySelector('.jp-mlops-count').dataset.count);"
        " return c > 0 && c < n; }",
        arg=runs,
    )
    brushed = count(page)
    assert pc.get_attribute("data-brushed") == str(brushed)
    assert "brushed" in page.locator(".jp-mlops-brush").inner_text()
    # every listed run is a good one: lr near 0.01
    names = page.locator(f'{ROW} [data-column="name"]').evaluate_all("els => els.map(e => e.title)")
    assert names and all(n.startswith(("lr0.01-", "lr0.003-", "lr0.03-")) for n in names), names
    screenshot(page, "sweep-brushed-light")

    # the sidebar's clear lifts the brush in both places
    page.locator(".jp-mlops-brush-clear").click()
    page.wait_for_function(
        "n => document.querySelector('.jp-mlops-count').dataset.count === String(n)", arg=runs
    )
    view.locator(".jp-mlops-sweep-clear-brush").wait_for(state="detached")


def test_scatter_colour_and_grouped_curves(page, runs) -> None:
    view = page.locator(".jp-mlops-sweep:visible")
    view.locator(".jp-mlops-sweep-scatter-x").select_option("params.lr")
    scatter = view.locator(".jp-mlops-scatter")
    assert scatter.get_attribute("data-x") == "params.lr"
    assert scatter.get_attribute("data-points") == str(runs)
    view.locator(".jp-mlops-sweep-color").select_option("params.seed")
    legend = view.locator(".jp-mlops-sweep-legend")
    # seed is numeric: a ramp, not 10 swatches
    assert legend.locator(".jp-mlops-sweep-ramp").count() == 1
    view.locator(".jp-mlops-sweep-metric").select_option("metrics.loss")  # a curve
    view.locator(".jp-mlops-sweep-group").select_option("params.depth")
    groups = view.locator(".jp-mlops-sweep-groups")
    page.wait_for_function(
        "() => Number(document.querySelector('.jp-mlops-sweep-groups')?.dataset.groups) > 1"
    )
    assert groups.locator("path.jp-mlops-chart-band").count() >= 2
    view.locator(".jp-mlops-sweep-band").select_option("std")
    groups.locator(".jp-mlops-chart-title", has_text="± 1 std").wait_for()
    screenshot(page, "sweep-groups-light")
    _set_theme(page, "JupyterLab Dark")
    try:
        view.locator(".jp-mlops-parcoords").wait_for()
        screenshot(page, "sweep-dark")
    finally:
        _set_theme(page, "JupyterLab Light")
