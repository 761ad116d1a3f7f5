"""Sidebar polish in a real JupyterLab in Debian's Chromium: columns resized and reordered by
dragging (kept across a reload, the name frozen first), NaN and +-inf read the same in the
list, the detail and compare, artifact previews (image, CSV as a table, JSON, text) and links
that look like links, one reused detail tab unless pinned, the "live" badge off while the
event stream is down and an open run's charts kept current by polling meanwhile, the current
row highlighted, Space ticking its compare box and Home/End scrolling. Screenshots in light
and dark themes: ``test-artifacts/polish-*.png``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.lab import LabServer, require_chromium, screenshot, start_lab
from tests.test_sidebar_browser import ROW, SIDEBAR, TAB, WAIT_MS, _set_theme

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVENTS = "**/jupyter-mlops/api/events*"
SWEEP = 60  # rows enough to scroll: Home and End must move the list


def _png(width: int, height: int) -> bytes:
    """A small RGB PNG: a left half red, a right half blue."""
    row = b"".join(
        bytes((200, 30, 30)) if x < width // 2 else bytes((30, 60, 200)) for x in range(width)
    )
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("polish-lab"), "polish-lab.log") as server:
        yield server


@pytest.fixture(scope="module")
def runs(lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """diverged (NaN, inf, -inf), steady (finite, with artifacts), a SWEEP-run sweep."""
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking import fluent

    files = tmp_path_factory.mktemp("artifact-files")
    (files / "plot.png").write_bytes(_png(64, 32))
    (files / "preds.csv").write_text('id,label,score\n1,cat,0.25\n2,"dog, big",0.75\n')
    (files / "config.json").write_text(json.dumps({"lr": 0.1, "layers": [64, 32]}))
    (files / "train.log").write_text("epoch 1 loss 0.5\nepoch 2 loss 0.25\n")

    mlops.set_store(lab.store_url)
    mlops.set_experiment("polish")
    ids = {}
    for i in range(SWEEP):
        with mlops.start_run(f"row-{i:02d}", params={"i": i}) as run:
            mlops.log_metric("acc", i / SWEEP)
            ids[f"row-{i:02d}"] = run.run_id
    with mlops.start_run("steady", params={"lr": 0.1}) as run:
        mlops.log_metrics({"loss": 0.25, "grad": 1.5, "low": 2.0})
        for name in ("plot.png", "preds.csv", "config.json", "train.log"):
            mlops.log_artifact(files / name)
        ids["steady"] = run.run_id
    with mlops.start_run("diverged", params={"lr": 10}) as run:
        mlops.log_metric("loss", 1.0)
        mlops.log_metric("loss", float("nan"))
        mlops.log_metrics({"grad": float("inf"), "low": float("-inf")})
        ids["diverged"] = run.run_id
    mlops.flush()
    yield ids
    fluent.reset()


def _open(page, lab: LabServer, workspace: str) -> None:
    page.goto(lab.lab_url(f"lab/workspaces/{workspace}"))
    page.wait_for_selector(TAB, timeout=90_000)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=90_000)
    if not page.locator(SIDEBAR).is_visible():
        page.locator(TAB).click()
    page.wait_for_selector(f"{SIDEBAR}:visible")
    page.locator(ROW).first.wait_for()


@pytest.fixture(scope="module")
def page(browser, lab: LabServer, runs: dict[str, str]) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    _open(page, lab, "polish-tests")
    yield page
    context.close()


def _filter(page, text: str) -> None:
    box = page.locator(".jp-mlops-filter")
    box.fill(text)
    if page.locator(".jp-mlops-suggestions").count():
        box.press("Escape")
        box.fill(text)
    box.press("Enter")


def _choose_columns(page, keys: list[str], on: bool = True) -> None:
    page.locator(".jp-mlops-columns-button").click()
    for key in keys:
        box = page.locator(f'.jp-mlops-column-chooser input[data-column="{key}"]')
        box.check() if on else box.uncheck()
    page.locator(".jp-mlops-column-chooser button", has_text="Done").click()


def _row(page, run_id: str):
    return page.locator(f'{ROW}[data-run-id="{run_id}"]')


def _header_keys(page) -> list[str]:
    return page.locator(".jp-mlops-runs-header .jp-mlops-header-cell").evaluate_all(
        "els => els.map(e => e.dataset.column)"
    )


def _light_and_dark(page, name: str, ready=None) -> None:
    screenshot(page, f"polish-{name}-light")
    _set_theme(page, "JupyterLab Dark")
    try:
        if ready is not None:
            ready()
        screenshot(page, f"polish-{name}-dark")
    finally:
        _set_theme(page, "JupyterLab Light")


def test_nonfinite_values_read_the_same_everywhere(page, runs) -> None:
    metrics = ["metrics.loss", "metrics.grad", "metrics.low"]
    _choose_columns(page, metrics)
    _filter(page, "params.lr > 0.05")
    _row(page, runs["diverged"]).wait_for()
    _row(page, runs["row-00"]).wait_for(state="detached")
    expected = {"metrics.loss": "NaN", "metrics.grad": "∞", "metrics.low": "-∞"}
    for key, text in expected.items():
        cell = _row(page, runs["diverged"]).locator(f'[data-column="{key}"]')
        assert cell.inner_text().strip() == text, key
        assert cell.get_attribute("title").endswith(f"= {text}")
    steady = _row(page, runs["steady"]).locator('[data-column="metrics.grad"]')
    assert steady.text_content().strip() == "1.5"  # (aligned: two spans)

    # the detail's metrics table
    _row(page, runs["diverged"]).locator('[data-column="name"]').click()
    detail = page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["diverged"]}"]:visible')
    detail.wait_for()
    for key, text in expected.items():
        row = detail.locator(f'.jp-mlops-metrics-table tr[data-key="{key[8:]}"] td')
        assert row.inner_text().strip() == text, key

    # compare
    for name in ("diverged", "steady"):
        _row(page, runs[name]).locator(".jp-mlops-run-select").check()
    page.locator(".jp-mlops-compare-button").click()
    view = page.locator(".jp-mlops-compare[data-run-ids]:visible")
    view.wait_for()
    ids = view.get_attribute("data-run-ids").split(",")
    column = ids.index(runs["diverged"])
    for key, text in expected.items():
        cells = view.locator(f'.jp-mlops-compare-table tr[data-key="{key}"] td')
        assert cells.nth(column).inner_text().strip() == text, key
    _light_and_dark(page, "nonfinite-compare", lambda: view.wait_for())
    for name in ("diverged", "steady"):
        _row(page, runs[name]).locator(".jp-mlops-run-select").uncheck()
    _choose_columns(page, metrics, on=False)


def test_artifact_previews_and_links(page, runs) -> None:
    _filter(page, "steady")
    _row(page, runs["steady"]).locator('[data-column="name"]').click()
    detail = page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["steady"]}"]:visible')
    detail.wait_for()
    artifacts = detail.locator(".jp-mlops-artifacts")
    # an image previews at once, decoded (its real size)
    image = artifacts.locator('[data-path="plot.png"] img.jp-mlops-artifact-image')
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 64 && img.naturalHeight === 32",
        arg=image.element_handle(),
    )
    for path in ("preds.csv", "config.json", "train.log"):
        artifacts.locator(f'[data-path="{path}"] .jp-mlops-artifact-preview-toggle').click()
    table = artifacts.locator('[data-path="preds.csv"] table.jp-mlops-artifact-table')
    table.wait_for()
    assert table.locator("th").all_inner_texts() == ["id", "label", "score"]
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(1).locator("td").all_inner_texts() == ["2", "dog, big", "0.75"]
    pretty = artifacts.locator('[data-path="config.json"] .jp-mlops-artifact-text')
    pretty.wait_for()
    assert json.loads(pretty.inner_text()) == {"lr": 0.1, "layers": [64, 32]}
    assert '\n  "lr": 0.1' in pretty.inner_text()  # pretty-printed
    log = artifacts.locator('[data-path="train.log"] .jp-mlops-artifact-text')
    log.wait_for()
    assert log.inner_text().splitlines() == ["epoch 1 loss 0.5", "epoch 2 loss 0.25"]

    # links look like links: underlined, in the theme's link colour
    link = artifacts.locator('[data-path="preds.csv"] a.jp-mlops-artifact-link')
    style = link.evaluate(
        """a => {
             const probe = document.createElement('span');
             probe.style.color = 'var(--jp-content-link-color)';
             a.parentElement.appendChild(probe);
             const want = getComputedStyle(probe).color;
             probe.remove();
             const s = getComputedStyle(a);
             return {line: s.textDecorationLine, color: s.color, want};
           }"""
    )
    assert "underline" in style["line"], style
    assert style["color"] == style["want"], style
    detail.locator(".jp-mlops-artifacts").scroll_into_view_if_needed()
    _light_and_dark(page, "artifacts", lambda: image.wait_for())


def test_one_detail_tab_unless_pinned(page, runs) -> None:
    _filter(page, "row-0")
    tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mlops-preview-tab")
    pinned_tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mlops-pinned-tab")
    details = page.locator(".jp-mlops-run-detail-widget")
    before = details.count()
    assert tabs.count() <= 1  # the earlier tests' runs share one tab
    for name in ("row-01", "row-02", "row-03"):
        _row(page, runs[name]).locator('[data-column="name"]').click()
        page.locator(f'.jp-mlops-run-detail[data-run-id="{runs[name]}"]:visible').wait_for()
        assert tabs.count() == 1
        assert details.count() == max(before, 1)
    # the reused tab is titled by its run
    assert tabs.first.locator(".lm-TabBar-tabLabel").inner_text() == "row-03"
    page.locator(".jp-mlops-run-detail-widget:visible .jp-mlops-pin-button").click()
    page.wait_for_function(
        "() => document.querySelector('.jp-mlops-run-detail-widget:not(.lm-mod-hidden) "
        ".jp-mlops-pin-button')?.getAttribute('aria-pressed') === 'true'"
    )
    assert pinned_tabs.count() == 1 and tabs.count() == 0
    _row(page, runs["row-04"]).locator('[data-column="name"]').click()
    page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["row-04"]}"]:visible').wait_for()
    # a new (reusable) tab: the pinned one keeps its run
    assert tabs.count() == 1 and pinned_tabs.count() == 1
    assert page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["row-03"]}"]').count() == 1
    screenshot(page, "polish-pinned-tab-light")


def test_current_row_space_home_end(page, runs) -> None:
    _filter(page, "")
    page.locator(".jp-mlops-count[data-count]").wait_for()
    page.wait_for_function(
        "n => Number(document.querySelector('.jp-mlops-count').dataset.count) === n",
        arg=SWEEP + 2,
    )
    viewport = page.locator(".jp-mlops-runs-viewport")
    viewport.evaluate("el => { el.scrollTop = 0; }")
    viewport.focus()
    page.keyboard.press("Home")
    active = page.locator(f"{ROW}.jp-mlops-active")
    active.wait_for()
    first_id = active.get_attribute("data-run-id")
    assert active.get_attribute("aria-rowindex") == "2"  # the first row
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "id => document.querySelector('.jp-mlops-run-row.jp-mlops-active')?.dataset.runId !== id",
        arg=first_id,
    )
    current = active.get_attribute("data-run-id")
    page.keyboard.press("Space")
    page.wait_for_function(
        "id => document.querySelector(`.jp-mlops-run-row[data-run-id='${id}'] "
        ".jp-mlops-run-select`)?.checked === true",
        arg=current,
    )
    # the current row stands out from its neighbours (background and outline)
    colors = page.evaluate(
        """() => {
             const rows = [...document.querySelectorAll('.jp-mlops-run-row')];
             const a = rows.find(r => r.classList.contains('jp-mlops-active'));
             const other = rows.find(r => !r.classList.contains('jp-mlops-active')
                                         && !r.classList.contains('jp-mlops-selected')
                                         && !r.classList.contains('jp-mlops-odd')
                                         && r !== a);
             return [getComputedStyle(a).backgroundColor, getComputedStyle(a).boxShadow,
                     getComputedStyle(other).backgroundColor];
           }"""
    )
    assert colors[0] != colors[2] and colors[1] != "none", colors
    # End: the last row, scrolled into view; Home: back to the top
    page.keyboard.press("End")
    page.wait_for_function(
        "n => document.querySelector('.jp-mlops-run-row.jp-mlops-active')"
        "?.getAttribute('aria-rowindex') === String(n + 1)",
        arg=SWEEP + 2,
    )
    assert viewport.evaluate("el => el.scrollTop") > 0
    last = page.locator(f"{ROW}.jp-mlops-active")
    box, view = last.bounding_box(), viewport.bounding_box()
    assert box["y"] + box["height"] <= view["y"] + view["height"] + 1
    _light_and_dark(page, "current-row-end", lambda: last.wait_for())
    viewport.focus()  # the theme menu took the focus
    page.keyboard.press("Home")
    page.wait_for_function(
        "() => document.querySelector('.jp-mlops-runs-viewport').scrollTop === 0"
    )
    assert page.locator(f"{ROW}.jp-mlops-active").get_attribute("aria-rowindex") == "2"
    page.locator(".jp-mlops-link-button", has_text="clear selection").click()


def _widen_sidebar(page, by: int) -> None:
    """Drag the handle between the left sidebar and the main area ``by`` px to the right."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    width = page.locator(SIDEBAR).bounding_box()["width"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + by / 2, y, steps=4)
    page.mouse.move(x + by, y, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "w => document.querySelector('.jp-mlops-sidebar').getBoundingClientRect().width > w",
        arg=width + by / 2,
    )


def test_columns_resize_reorder_and_survive_a_reload(page, lab, runs) -> None:
    _filter(page, "")
    _widen_sidebar(page, 450)  # room for the columns beside the frozen status and name
    _choose_columns(page, ["params.i", "metrics.acc"])
    keys = _header_keys(page)
    assert keys[:2] == ["status", "name"] and keys[-2:] == ["params.i", "metrics.acc"], keys

    # resize params.i by dragging its header's right edge
    header = page.locator('.jp-mlops-header-cell[data-column="params.i"]')
    width = int(header.get_attribute("data-width"))
    handle = header.locator(".jp-mlops-resize-handle").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=3)
    page.mouse.move(x + 70, y, steps=3)
    page.mouse.up()
    page.wait_for_function(
        "w => Number(document.querySelector('.jp-mlops-header-cell[data-column=\"params.i\"]')"
        ".dataset.width) === w",
        arg=width + 70,
    )
    cell = page.locator(f'{ROW} [data-column="params.i"]').first
    assert abs(cell.bounding_box()["width"] - (width + 70)) < 1.5
    assert header.get_attribute("aria-sort") == "none"  # a resize is not a sort

    # move metrics.acc before params.i by dragging its header onto params.i's left half
    page.locator('.jp-mlops-header-cell[data-column="metrics.acc"]').drag_to(
        page.locator('.jp-mlops-header-cell[data-column="params.i"]'),
        target_position={"x": 4, "y": 10},
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-mlops-runs-header .jp-mlops-header-cell')]"
        ".map(e => e.dataset.column).slice(-2).join() === 'metrics.acc,params.i'"
    )
    moved = _header_keys(page)
    assert moved == [*keys[:-2], "metrics.acc", "params.i"], moved
    # the rows follow the header
    row_keys = (
        page.locator(ROW)
        .first.locator("[data-column]")
        .evaluate_all("els => els.map(e => e.dataset.column)")
    )
    assert row_keys == moved
    # the name is frozen first: a header dropped on it does not move it
    page.locator('.jp-mlops-header-cell[data-column="params.i"]').drag_to(
        page.locator('.jp-mlops-header-cell[data-column="name"]'),
        target_position={"x": 4, "y": 10},
    )
    assert _header_keys(page) == moved
    assert page.locator('.jp-mlops-header-cell[data-column="name"]').get_attribute("draggable") == (
        "false"
    )
    screenshot(page, "polish-columns-light")

    page.reload()
    page.wait_for_selector(TAB, timeout=90_000)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=90_000)
    if not page.locator(SIDEBAR).is_visible():
        page.locator(TAB).click()
    page.locator(ROW).first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.jp-mlops-header-cell[data-column=\"params.i\"]')"
    )
    assert _header_keys(page) == moved
    header = page.locator('.jp-mlops-header-cell[data-column="params.i"]')
    assert int(header.get_attribute("data-width")) == width + 70
    _light_and_dark(page, "columns", lambda: page.locator(ROW).first.wait_for())
    # double-click the edge: the default width again
    header.locator(".jp-mlops-resize-handle").dblclick()
    page.wait_for_function(
        "w => Number(document.querySelector('.jp-mlops-header-cell[data-column=\"params.i\"]')"
        ".dataset.width) === w",
        arg=width,
    )


def test_live_badge_is_off_while_the_stream_is_down(browser, lab, runs) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    refused: list[str] = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.abort()

    page.route(EVENTS, refuse)
    try:
        _open(page, lab, "polish-offline")
        badge = page.locator(".jp-mlops-live")
        page.wait_for_function("() => document.querySelector('.jp-mlops-live') !== null")
        assert refused, "the sidebar never asked for the event stream"
        assert "jp-mlops-live-live" not in badge.get_attribute("class")
        assert "live" not in badge.inner_text().replace("●", "").strip().split()
        screenshot(page, "polish-live-down-light")
        # the stream comes back: the badge says live again (reconnect with back-off)
        page.unroute(EVENTS)
        page.locator(".jp-mlops-live-live").wait_for(timeout=WAIT_MS)
        assert badge.inner_text().replace("●", "").strip() == "live"
    finally:
        context.close()


# Logs until the stop file appears (bounded at 3,000 steps): a condition, not a time window.
POLLED_RUN = """
import os, sys, time
import jupyter_mlops as mlops
stop = sys.argv[1]
mlops.set_experiment("polish")
with mlops.start_run("polled-run"):
    step = 0
    while step < 40 or (not os.path.exists(stop) and step < 3000):
        mlops.log_metrics({"loss": 1 / (step + 1), "constant": 1.0}, step=step)
        step += 1
        time.sleep(0.05)
"""


def test_detail_charts_follow_a_run_while_the_stream_is_down(
    browser, lab: LabServer, runs, tmp_path
) -> None:
    """Without the event stream the sidebar polls (here every second): an open run's charts
    grow from the polls, and once the run ends they draw every point it logged, the chart of a
    metric whose latest value never changed included."""
    import subprocess
    import sys

    from jupyter_mlops.store import Store
    from tests.test_sidebar_browser import _points, _wait_points

    settings = Path(lab.env["JUPYTERLAB_SETTINGS_DIR"]) / "jupyter-mlops"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"refreshIntervalSeconds": 1}')
    stop = tmp_path / "stop"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.route(EVENTS, lambda route: route.abort())
    logger = subprocess.Popen(
        [sys.executable, "-c", POLLED_RUN, str(stop)], env=lab.env, stdin=subprocess.DEVNULL
    )
    try:
        _open(page, lab, "polish-polling")
        running = page.locator(f'{ROW}[data-status="RUNNING"]', has_text="polled-run")
        running.wait_for()
        run_id = running.get_attribute("data-run-id")
        running.locator('[data-column="name"]').click()
        detail = f'.jp-mlops-run-detail[data-run-id="{run_id}"]'
        page.wait_for_selector(f"{detail}:visible")
        first = _points(page, detail, "loss")
        page.wait_for_function(
            """([sel, n]) => { const el = document.querySelector(sel);
                               return !!el && Number(el.dataset.points) > n; }""",
            arg=[f'{detail} svg.jp-mlops-chart[data-metric="loss"]', first],
        )
        stop.touch()
        assert logger.wait(timeout=60) == 0
        page.locator(f'{ROW}[data-run-id="{run_id}"][data-status="FINISHED"]').wait_for()
        store = Store(lab.store_url, reap=False)
        try:
            stored = {
                key: store.metric_history(run_id, key)["total_points"]
                for key in ("loss", "constant")
            }
        finally:
            store.close()
        assert stored["loss"] == stored["constant"] >= 40
        for key, points in stored.items():
            _wait_points(page, detail, key, points)
    finally:
        stop.touch()
        if logger.poll() is None:
            logger.kill()
        context.close()
        (settings / "plugin.jupyterlab-settings").unlink()
