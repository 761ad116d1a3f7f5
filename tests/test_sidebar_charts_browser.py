"""Chart controls in a real JupyterLab in Debian's Chromium, in a run's detail and in compare:
smoothing with the raw curve kept faint, log y, outlier clipping, drag to zoom and double-click
to reset, x by step / wall / relative time, hover synced across a run's charts, and a metric
logged once shown as a value. Screenshots: ``test-artifacts/charts-*.png`` (light and dark).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from tests.plugins.lab import LabServer, require_chromium, screenshot, start_lab
from tests.test_sidebar_browser import ROW, SIDEBAR, TAB, WAIT_MS, _set_theme

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STEPS = 300


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("charts-lab"), "charts-lab.log") as server:
        yield server


@pytest.fixture(scope="module")
def runs(lab: LabServer) -> Iterator[dict[str, str]]:
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking import fluent

    mlops.set_store(lab.store_url)
    mlops.set_experiment("charts")
    ids = {}
    with mlops.start_run("noisy") as run:
        for step in range(STEPS):
            noise = 0.3 * math.sin(step * 1.7) * math.cos(step * 0.31)
            mlops.log_metric("loss", math.exp(-step / 80) + 0.05 + noise * 0.3, step=step)
            mlops.log_metric("acc", 1 - math.exp(-step / 60) + noise * 0.05, step=step)
        mlops.log_metric("final_acc", 0.9375)
        ids["noisy"] = run.run_id
    with mlops.start_run("diverged") as run:
        for step in range(STEPS):
            loss = math.exp(-step / 90) + 0.1 if step < 250 else 10 ** ((step - 250) / 8)
            mlops.log_metric("loss", loss, step=step)
        ids["diverged"] = run.run_id
    mlops.flush()
    yield ids
    fluent.reset()


@pytest.fixture(scope="module")
def page(browser, lab: LabServer, runs: dict[str, str]) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.lab_url("lab/workspaces/charts-tests"))
    page.wait_for_selector(TAB, timeout=90_000)
    page.locator(TAB).click()
    page.wait_for_selector(f"{SIDEBAR}:visible")
    page.locator(ROW, has_text="noisy").first.wait_for()
    yield page
    context.close()


def set_range(locator, value: float) -> None:
    """Move a range input as a user would (React listens to the input event)."""
    locator.evaluate(
        """(el, v) => {
             const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
             set.call(el, String(v));
             el.dispatchEvent(new Event('input', { bubbles: true }));
           }""",
        value,
    )


def chart(scope, metric: str):
    return scope.locator(f'svg.jp-mlops-chart[data-metric="{metric}"]')


def test_run_detail_controls(page, runs) -> None:
    page.locator(f'{ROW}[data-run-id="{runs["noisy"]}"] [data-column="name"]').click()
    detail = page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["noisy"]}"]:visible')
    loss = chart(detail, "loss")
    loss.wait_for()
    page.wait_for_function(
        "sel => Number(document.querySelector(sel).dataset.points) === 300",
        arg=f'.jp-mlops-run-detail[data-run-id="{runs["noisy"]}"] svg[data-metric="loss"]',
    )
    # logged once: a value, not a dot on an empty axis
    single = detail.locator('.jp-mlops-single-value[data-metric="final_acc"]')
    assert single.locator(".jp-mlops-single-value-number").inner_text() == "0.9375"

    assert loss.locator("path.jp-mlops-chart-raw").count() == 0
    set_range(detail.locator(".jp-mlops-smoothing"), 0.9)
    loss.locator("path.jp-mlops-chart-raw").wait_for()
    assert detail.locator(".jp-mlops-smoothing-value").inner_text() == "0.90"
    smoothed = loss.locator("path.jp-mlops-chart-line").get_attribute("d")
    raw = loss.locator("path.jp-mlops-chart-raw").get_attribute("d")
    assert smoothed != raw
    screenshot(page, "charts-detail-smoothed-light")

    # hover one chart: the run's other charts show the same step
    box = loss.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    chart(detail, "acc").locator(".jp-mlops-chart-tooltip").wait_for()
    loss_step = loss.locator(".jp-mlops-chart-tooltip text").first.text_content()
    acc_tip = chart(detail, "acc").locator(".jp-mlops-chart-tooltip text").first
    acc_step = acc_tip.text_content()
    assert loss_step == acc_step and loss_step.startswith("step "), (loss_step, acc_step)

    # drag to zoom, double-click to reset
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "sel => document.querySelector(sel).dataset.zoomed === 'true'",
        arg=f'.jp-mlops-run-detail[data-run-id="{runs["noisy"]}"] svg[data-metric="loss"]',
    )
    ticks = [float(t) for t in loss.locator(".jp-mlops-chart-tick text").all_text_contents()[-3:]]
    assert max(ticks) < STEPS  # the x ticks of the zoomed range
    loss.dblclick()
    page.wait_for_function(
        "sel => document.querySelector(sel).dataset.zoomed === 'false'",
        arg=f'.jp-mlops-run-detail[data-run-id="{runs["noisy"]}"] svg[data-metric="loss"]',
    )

    detail.locator(".jp-mlops-x-axis").select_option("relative")
    page.wait_for_function(
        "sel => document.querySelector(sel).dataset.xAxis === 'relative'",
        arg=f'.jp-mlops-run-detail[data-run-id="{runs["noisy"]}"] svg[data-metric="loss"]',
    )
    detail.locator(".jp-mlops-x-axis").select_option("step")
    set_range(detail.locator(".jp-mlops-smoothing"), 0)


def test_compare_log_y_and_outliers(page, runs) -> None:
    for name in ("noisy", "diverged"):
        page.locator(f'{ROW}[data-run-id="{runs[name]}"] .jp-mlops-run-select').check()
    page.locator(".jp-mlops-compare-button").click()
    view = page.locator(".jp-mlops-compare[data-run-ids]:visible")
    view.wait_for()
    loss = chart(view, "loss")
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'.jp-mlops-compare svg[data-metric=\"loss\"]')?.dataset.points) === 600"
    )

    def top_tick() -> float:
        texts = loss.locator(".jp-mlops-chart-grid + text").all_text_contents()
        return max(float(t) for t in texts)

    assert top_tick() >= 1e5  # the diverged run flattens the others
    view.locator(".jp-mlops-clip-outliers").check()
    page.wait_for_function(
        """() => { const texts = [...document.querySelectorAll(
                     '.jp-mlops-compare svg[data-metric="loss"] .jp-mlops-chart-grid + text')];
                   return Math.max(...texts.map(t => Number(t.textContent))) < 1000; }"""
    )
    screenshot(page, "charts-compare-clipped-light")
    view.locator(".jp-mlops-clip-outliers").uncheck()
    view.locator(".jp-mlops-log-y").check()
    page.wait_for_function(
        "() => document.querySelector('.jp-mlops-compare svg[data-metric=\"loss\"]')"
        ".dataset.logY === 'true'"
    )
    ticks = loss.locator(".jp-mlops-chart-grid + text").all_text_contents()
    assert any(t in ("0.1", "1", "10", "100") for t in ticks), ticks
    screenshot(page, "charts-compare-log-light")
    _set_theme(page, "JupyterLab Dark")
    try:
        loss.wait_for()
        screenshot(page, "charts-compare-log-dark")
    finally:
        _set_theme(page, "JupyterLab Light")
    view.locator(".jp-mlops-log-y").uncheck()
