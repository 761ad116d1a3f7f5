"""The live chart in a real JupyterLab in Debian's Chromium: it grows while the cell runs."""

from __future__ import annotations

import time

import nbformat
import pytest

from tests.plugins.lab import LabServer, run_cell, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

POINTS = 60
TRAIN = f"""%%track live-demo
import time
import jupyter_mlops as mlops
for i in range({POINTS}):
    mlops.log_metric("loss", 1 / (i + 1))
    time.sleep(0.05)
"""

COUNT_JS = """() => {
  const plots = document.querySelectorAll('.jp-Notebook .js-plotly-plot');
  if (!plots.length) return null;
  const gd = plots[plots.length - 1];
  return gd.data ? gd.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : null;
}"""


def _prompt(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").nth(index).inner_text()


def test_live_chart_grows_while_cell_runs(lab_page, lab_server: LabServer) -> None:
    page = lab_page
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell(TRAIN),
    ]
    nbformat.write(nb, lab_server.root / "live.ipynb")

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

    counts_while_running: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = "*" in _prompt(page, 1)
        count = page.evaluate(COUNT_JS)
        if running and count:
            counts_while_running.append(count)
            if len(counts_while_running) == 3:
                screenshot(page, "live-chart-running")
        if not running and "[" in _prompt(page, 1) and counts_while_running:
            break
        time.sleep(0.1)

    assert counts_while_running, "no chart appeared while the cell was running"
    assert len(set(counts_while_running)) >= 2, (
        f"chart did not grow while running: {counts_while_running}"
    )
    assert counts_while_running == sorted(counts_while_running)

    page.wait_for_function(f"() => ({COUNT_JS})() === {POINTS}", timeout=30_000)
    screenshot(page, "live-chart-final")
    assert page.evaluate(COUNT_JS) == POINTS

    # Saved, the notebook keeps the final static figure (readable without a kernel), not a
    # widget view that would need one.
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = nbformat.read(lab_server.root / "live.ipynb", as_version=4)
        outputs = saved.cells[1].get("outputs", [])
        if outputs:
            break
        time.sleep(0.3)
    kinds = [set(o.get("data", {})) for o in outputs]
    assert any("application/vnd.plotly.v1+json" in k for k in kinds), kinds
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    figure = next(o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {}))
    assert len(figure["data"]["application/vnd.plotly.v1+json"]["data"][0]["x"]) == POINTS
