"""The live chart in a real JupyterLab (and Notebook 7) in Debian's Chromium: it grows while
the cell runs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

from tests.plugins.lab import LabServer, python_notebook, run_cell, screenshot, start_lab

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# The cell logs a point every 0.05 s until the test, having seen the chart at two sizes while
# the cell runs, writes the stop file (cwd is the notebook's folder): a condition, not a time
# window, however slowly plotly loads on a busy machine. MAX_POINTS bounds it (75 s).
MAX_POINTS = 1500
TRAIN = """%%track live-demo
import os, time
import jupyter_mlops as mlops
i = 0
while not os.path.exists({stop!r}) and i < {max_points}:
    mlops.log_metric("loss", 1 / (i + 1))
    i += 1
    time.sleep(0.05)
print(f"logged {{i}} points")
"""


def train_cell(stop: str) -> str:
    return TRAIN.format(stop=stop, max_points=MAX_POINTS)


LOGGED_JS = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  const match = cell && /logged (\\d+) points/.exec(cell.innerText);
  return match ? Number(match[1]) : null;
}"""

COUNT_JS = """() => {
  const plots = document.querySelectorAll('.jp-Notebook .js-plotly-plot');
  if (!plots.length) return null;
  const gd = plots[plots.length - 1];
  // the logged curves, not the smoothed twins a final figure adds
  const curves = gd.data ? gd.data.filter(t => t.meta !== 'smoothed') : null;
  return curves ? curves.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : null;
}"""


def _read_saved(path: Path) -> nbformat.NotebookNode:
    """The notebook as saved; while Lab is writing it (empty or partial), cells with no
    outputs yet (the callers poll until outputs appear)."""
    try:
        return nbformat.read(path, as_version=4)
    except (nbformat.reader.NotJSONError, ValueError):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell() for _ in range(10)])


def _prompt(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").nth(index).inner_text()


def _chart_counts_while_running(
    page, index: int, stop: Path, screenshot_name: str | None = None
) -> list[int]:
    """The chart's point count, sampled every 0.1 s while cell ``index`` runs; once it has
    shown two sizes, ``stop`` is written and the cell ends. A screenshot named
    ``screenshot_name`` at the third sample."""
    counts: list[int] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        running = "*" in _prompt(page, index)
        count = page.evaluate(COUNT_JS)
        if running and count:
            counts.append(count)
            if screenshot_name and len(counts) == 3:
                screenshot(page, screenshot_name)
            if len(set(counts)) >= 2 and len(counts) >= 3:
                stop.touch()
        if not running and "[" in _prompt(page, index) and counts:
            break
        time.sleep(0.1)
    stop.touch()
    return counts


def _logged(page, index: int) -> int:
    """The number of points the cell says it logged, once it has ended."""
    page.wait_for_function(f"() => ({LOGGED_JS})({index}) !== null", timeout=120_000)
    return page.evaluate(LOGGED_JS, index)


def test_live_chart_grows_while_cell_runs(lab_page, lab_server: LabServer) -> None:
    page = lab_page
    stop = lab_server.root / "live.stop"
    nbformat.write(
        python_notebook("%load_ext jupyter_mlops", train_cell(stop.name)),
        lab_server.root / "live.ipynb",
    )

    # A workspace of its own: the layout other browser tests leave behind is not restored here.
    page.goto(lab_server.lab_url("lab/workspaces/live-widget-tests/tree/live.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .jp-InputArea-editor")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    run_cell(page, 0)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-InputPrompt')[0].innerText.includes('[1]')",
        timeout=60_000,
    )
    run_cell(page, 1)

    counts_while_running = _chart_counts_while_running(page, 1, stop, "live-chart-running")
    assert counts_while_running, "no chart appeared while the cell was running"
    assert len(set(counts_while_running)) >= 2, (
        f"chart did not grow while running: {counts_while_running}"
    )
    assert counts_while_running == sorted(counts_while_running)
    points = _logged(page, 1)
    assert points < MAX_POINTS, "the cell ran to its bound: the test never stopped it"

    page.wait_for_function(f"() => ({COUNT_JS})() === {points}", timeout=30_000)
    screenshot(page, "live-chart-final")
    assert page.evaluate(COUNT_JS) == points

    # Saved, the notebook keeps the final static figure (readable without a kernel), not a
    # widget view that would need one.
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = _read_saved(lab_server.root / "live.ipynb")
        outputs = saved.cells[1].get("outputs", [])
        if outputs:
            break
        time.sleep(0.3)
    kinds = [set(o.get("data", {})) for o in outputs]
    assert any("application/vnd.plotly.v1+json" in k for k in kinds), kinds
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    figure = next(o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {}))
    assert len(figure["data"]["application/vnd.plotly.v1+json"]["data"][0]["x"]) == points


# The last run goes on past its 15 epochs until the test, having seen the chart and the table
# while the cell runs, writes sweep.stop (bounded: 1,500 epochs).
SWEEP = """import os, time
import jupyter_mlops as mlops
lrs = [0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001]
for lr in lrs:
    with mlops.start_run(params={"lr": lr, "epochs": 15}):
        epoch = 0
        while epoch < 15 or (lr == lrs[-1] and epoch < 1500 and not os.path.exists("sweep.stop")):
            mlops.log_metrics({"loss": 1 / (1 + lr * 40 * epoch), "acc": 1 - 1 / (2 + lr * epoch)},
                              step=epoch)
            epoch += 1
            time.sleep(0.04)
"""

PLOTS_IN_CELL_JS = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  return cell.querySelectorAll('.js-plotly-plot').length;
}"""

TABLE_IN_CELL_JS = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  const table = cell.querySelector('.jupyter-mlops-sweep');
  return table ? table.innerText : null;
}"""


def _open(page, lab_server: LabServer, name: str, cells: list[str]) -> None:
    nbformat.write(python_notebook(*cells), lab_server.root / name)
    # A workspace per notebook: a shared one would restore other tests' notebooks too.
    stem = name.removesuffix(".ipynb")
    page.goto(lab_server.lab_url(f"lab/workspaces/live-{stem}/tree/{name}"))
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .jp-InputArea-editor")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)


def _wait_done(page, index: int) -> None:
    page.wait_for_function(
        "(i) => { const p = document.querySelectorAll('.jp-Notebook .jp-InputPrompt')[i];"
        " return p && /\\[\\d+\\]/.test(p.innerText); }",
        arg=index,
        timeout=120_000,
    )


def test_sweep_in_one_cell_shows_one_chart_and_a_table(lab_page, lab_server: LabServer) -> None:
    page = lab_page
    stop = lab_server.root / "sweep.stop"
    _open(page, lab_server, "sweep.ipynb", [SWEEP])
    run_cell(page, 0)

    plots_while_running: list[int] = []
    live_annotations: list[int] = []
    table_seen = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and "*" in _prompt(page, 0):
        if table_seen and live_annotations and len(plots_while_running) >= 3:
            stop.touch()  # all seen while running: the last run may end
        plots = page.evaluate(PLOTS_IN_CELL_JS, 0)
        if plots:
            plots_while_running.append(plots)
            info = page.evaluate(TRACES_JS, 0)
            if info and info["traces"]:  # metrics drawn: no "waiting for metrics" left over
                live_annotations.append(info["annotations"])
        table = page.evaluate(TABLE_IN_CELL_JS, 0)
        if table and "FINISHED" in table and not table_seen:
            table_seen = True
            screenshot(page, "live-chart-sweep-running")
        time.sleep(0.2)
    stop.touch()
    _wait_done(page, 0)
    assert plots_while_running and max(plots_while_running) == 1, plots_while_running
    assert table_seen, "the table of finished runs never showed while the sweep ran"
    assert live_annotations and set(live_annotations) == {0}, live_annotations

    page.wait_for_function(
        f"() => ({TABLE_IN_CELL_JS})(0)?.includes('8 runs in this cell')", timeout=30_000
    )
    text = page.evaluate(TABLE_IN_CELL_JS, 0)
    assert "8 FINISHED" in text and "0.0001" in text
    assert page.evaluate(PLOTS_IN_CELL_JS, 0) == 1  # the final figure: one per cell
    page.set_viewport_size({"width": 1400, "height": 1250})  # the figure and the table
    page.locator(".jp-Notebook .jp-CodeCell").nth(0).scroll_into_view_if_needed()
    screenshot(page, "live-chart-sweep-final")

    # Saved, the cell keeps two static outputs, readable without a kernel: the figure and the
    # table (no widget view, which would need one).
    page.keyboard.press("Control+s")
    outputs: list = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(outputs) < 2:
        saved = _read_saved(lab_server.root / "sweep.ipynb")
        outputs = saved.cells[0].get("outputs", [])
        time.sleep(0.3)
    kinds = [set(o.get("data", {})) for o in outputs]
    assert len(kinds) == 2, kinds
    assert "application/vnd.plotly.v1+json" in kinds[0] and "text/html" in kinds[1], kinds
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds


KEYS_CELL = """%%track keys-{n}
import math
import jupyter_mlops as mlops
for step in range(40):
    mlops.log_metrics({{f"m{{k:02d}}": math.sin(step / 6 + k) * (k + 1) for k in range({n})}},
                      step=step)
"""

TRACES_JS = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  const gd = cell.querySelector('.js-plotly-plot');
  if (!gd || !gd.data) return null;
  const curves = gd.data.filter(t => t.meta !== 'smoothed');
  const title = gd.querySelector('.g-xtitle');
  const plots = [...gd.querySelectorAll('.cartesianlayer .subplot')];
  const lowest = Math.max(...plots.map(p => p.getBoundingClientRect().bottom));
  return {traces: curves.length,
          visible: curves.filter(t => t.visible !== 'legendonly').length,
          height: gd.getBoundingClientRect().height,
          annotations: gd.querySelectorAll('.annotation').length,
          xTitleBelowPlots: title ? title.getBoundingClientRect().top >= lowest - 1 : null};
}"""


@pytest.mark.parametrize("keys", [1, 3, 12, 50])
def test_many_metric_keys_stay_readable(lab_page, lab_server: LabServer, keys: int) -> None:
    page = lab_page
    _open(
        page, lab_server, f"keys{keys}.ipynb", ["%load_ext jupyter_mlops", KEYS_CELL.format(n=keys)]
    )
    run_cell(page, 0)
    _wait_done(page, 0)
    run_cell(page, 1)
    _wait_done(page, 1)
    page.wait_for_function(f"() => ({TRACES_JS})(1)?.traces === {keys}", timeout=30_000)
    info = page.evaluate(TRACES_JS, 1)
    assert info["visible"] == min(keys, 6)  # past six keys the legend selects the rest
    assert info["height"] < 1400  # a chart, not a wall of subplots
    assert info["annotations"] == 0  # no leftover "waiting for metrics" annotation
    assert info["xTitleBelowPlots"] is True  # the step axis under the lowest row
    page.locator(".jp-Notebook .jp-CodeCell").nth(1).scroll_into_view_if_needed()
    # Hover shows the values of every key at that step.
    box = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".nsewdrag").first
    box.hover(position={"x": 200, "y": 40})
    page.wait_for_selector(".hoverlayer .legend, .hoverlayer .hovertext", timeout=10_000)
    hover = page.evaluate("() => document.querySelector('.hoverlayer').textContent")
    assert "m00=" in hover, hover
    if 1 < keys <= 6:  # stacked rows: one hover lists every row's value at that step
        assert f"m{keys - 1:02d}=" in hover, hover
    screenshot(page, f"live-chart-keys-{keys}")


def test_live_chart_in_notebook_7(browser, tmp_path) -> None:
    """Notebook 7 sends cell ids like JupyterLab: the same live chart, growing while the cell
    runs, then the static figure."""
    with start_lab(tmp_path, log_name="notebook7.log", app="notebook") as server:
        stop = server.root / "live7.stop"
        nbformat.write(
            python_notebook("%load_ext jupyter_mlops", train_cell(stop.name)),
            server.root / "live7.ipynb",
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            page.goto(server.lab_url("notebooks/live7.ipynb"))
            page.wait_for_selector(".jp-Notebook .jp-CodeCell .jp-InputArea-editor")
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
            )
            run_cell(page, 0)
            page.wait_for_function(
                "() => document.querySelectorAll('.jp-InputPrompt')[0].innerText.includes('[1]')",
                timeout=60_000,
            )
            run_cell(page, 1)
            counts_while_running = _chart_counts_while_running(page, 1, stop)
            assert len(set(counts_while_running)) >= 2, (
                f"no chart grew while the cell ran in Notebook 7: {counts_while_running}"
            )
            assert counts_while_running == sorted(counts_while_running)
            points = _logged(page, 1)
            assert points < MAX_POINTS, "the cell ran to its bound: the test never stopped it"
            page.wait_for_function(f"() => ({COUNT_JS})() === {points}", timeout=30_000)
            screenshot(page, "live-chart-notebook7")
        finally:
            context.close()


# A widget view's plot sits in the output; plotly's MIME renderer is the output itself.
LIVE_PLOT = ".jp-Notebook .jp-OutputArea-output > .js-plotly-plot"
STATIC_PLOT = ".jp-Notebook .jp-RenderedPlotly.js-plotly-plot"


def _drawn_width(page, plot: str) -> float:
    """The width of the chart as drawn (its SVG), not of the element that holds it."""
    return page.locator(f"{plot} .main-svg").first.evaluate("e => e.getBoundingClientRect().width")


def _luminance(page, selector: str) -> float:
    """Mean grey level (0-255) of the element as drawn."""
    from io import BytesIO

    from PIL import Image, ImageStat

    png = page.locator(selector).first.screenshot()
    return ImageStat.Stat(Image.open(BytesIO(png)).convert("L")).mean[0]


def test_the_cell_chart_follows_a_dark_theme_keeps_its_width_and_closes_quietly(
    lab_page, lab_server: LabServer
) -> None:
    from tests.test_sidebar_browser import _set_theme

    page = lab_page
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda f: frames.append(f if isinstance(f, str) else f.decode("utf-8", "replace")),
        ),
    )
    stop = lab_server.root / "dark.stop"
    _open(page, lab_server, "dark.ipynb", ["%load_ext jupyter_mlops", train_cell(stop.name)])
    _set_theme(page, "JupyterLab Dark")
    try:
        run_cell(page, 0)
        _wait_done(page, 0)
        run_cell(page, 1)
        page.wait_for_selector(LIVE_PLOT, timeout=60_000)
        page.wait_for_function(f"() => ({COUNT_JS})() > 20", timeout=60_000)
        live_width = _drawn_width(page, LIVE_PLOT)
        area_width = page.locator(LIVE_PLOT).first.evaluate(
            "e => e.parentElement.getBoundingClientRect().width"
        )
        live_grey = _luminance(page, LIVE_PLOT)
        screenshot(page, "cell-chart-live-dark")
        stop.write_text("")
        _wait_done(page, 1)
        page.wait_for_selector(STATIC_PLOT, timeout=30_000)
        static_width = _drawn_width(page, STATIC_PLOT)
        static_grey = _luminance(page, STATIC_PLOT)
        screenshot(page, "cell-chart-static-dark")
        # its controls play in the browser, no kernel needed: the log scale, then smoothing
        static = page.locator(STATIC_PLOT).first
        static.locator(".updatemenu-button", has_text="log").click()
        page.wait_for_function(
            f"() => document.querySelector({STATIC_PLOT!r})._fullLayout.yaxis.type === 'log'"
        )
        label = static.locator(".slider-label-group", has_text="0.9").first.bounding_box()
        rail = static.locator(".slider-rail-rect").first.bounding_box()
        page.mouse.click(label["x"] + label["width"] / 2, rail["y"] + rail["height"] / 2)
        page.wait_for_function(
            f"() => {{ const d = document.querySelector({STATIC_PLOT!r}).data;"
            " return d[1].visible === true && d[1].y.length > 0 && d[0].opacity < 1; }"
        )
        static.locator(".updatemenu-button", has_text="wall time").click()
        page.wait_for_function(
            f"() => document.querySelector({STATIC_PLOT!r})._fullLayout.xaxis.type === 'date'"
        )
        screenshot(page, "cell-chart-static-dark-log-smoothed-wall-time")
        # late deltas of the replaced view, if any, have had time to arrive
        time.sleep(3)
    finally:
        _set_theme(page, "JupyterLab Light")
    # as wide as the output area, like the static figure that replaces it (not 700 px)
    assert abs(live_width - static_width) <= 2, (live_width, static_width)
    assert live_width >= 0.95 * area_width, (live_width, area_width)
    # dark, both: a white chart would be ~250
    assert live_grey < 80 and static_grey < 80, (live_grey, static_grey)
    # No "No such comm" for the kernel's widget comms (the front end's own widget-control
    # comm, opened before ipywidgets is imported, is ipywidgets' affair, not the chart's).
    opened = set(re.findall(r'"msg_type":"comm_open".*?"comm_id":"([0-9a-f]+)"', "\n".join(frames)))
    assert opened, "the live chart opened no widget comm"
    unknown = set(re.findall(r"No such comm: ([0-9a-f-]+)", "\n".join(frames)))
    assert not unknown & opened, unknown
