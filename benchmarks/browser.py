"""The sidebar in Chromium: a click on its tab until the runs list of the search benchmark's
store (10,000 runs and one more) shows its count and first rows.

A real JupyterLab (``tests/plugins/lab.py``'s ``start_lab``, as the browser tests start it) on
a copy of that store, Debian's Chromium through Playwright. Each timing is one page load: the
page is reloaded, Lab settles (network idle), the pointer goes down on the tab, and the page
itself waits, frame by frame, until the list shows the store's run count and at least one
row; the time runs from the pointer going down (``performance.now()`` in the page). Checked
before it is recorded: the count shown is the store's, the first row is the newest run, and
the list is windowed (fewer than 200 rows in the DOM). The sidebar loads at most 10,000 runs
(its default ``maxRuns``): over that, the count is 10,000 and says how many the server has.
"""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path
from typing import Any

from .common import Sizes, WrongAnswer, log

SIDE = "jupyter-mlops"
TAB = '.jp-SideBar [data-id="jupyter-mlops:sidebar"]'
SIDEBAR = ".jp-mlops-sidebar"
ROW = ".jp-mlops-run-row"
LIMIT_MS = 60_000
# The sidebar loads at most this many runs (its maxRuns setting's default) and says how many
# more the server has.
MAX_RUNS = 10_000
COUNT_TEXT_JS = "() => document.querySelector('.jp-mlops-count').innerText"

# Lumino tabs react to pointer events, not to element.click(): Playwright clicks the tab, and
# the page notes when the pointer went down on it, then waits (per frame) for the list.
ARM_JS = """tab => {
  window.__mlopsClickAt = null;
  document.querySelector(tab).addEventListener('pointerdown', () => {
    window.__mlopsClickAt = window.__mlopsClickAt ?? performance.now();
  }, {capture: true, once: true});
}"""
MEASURE_JS = """async ([min, limitMs]) => {
  const waitStart = performance.now();
  return await new Promise(resolve => {
    const check = () => {
      const count = document.querySelector('.jp-mlops-count[data-count]');
      const n = count ? Number(count.dataset.count) : 0;
      const rows = document.querySelectorAll('.jp-mlops-run-row').length;
      const t0 = window.__mlopsClickAt ?? waitStart;
      const elapsed = performance.now() - t0;
      if ((n >= min && rows > 0) || elapsed > limitMs) {
        resolve({elapsed_ms: elapsed, count: n, rows, clicked: window.__mlopsClickAt !== null});
      } else {
        requestAnimationFrame(check);
      }
    };
    check();
  });
}"""
FIRST_ROW_JS = """row => {
  const first = document.querySelector(row + ' [data-column="name"]');
  return first ? first.textContent.trim() : null;
}"""


def click_to_list(page: Any, runs: int) -> dict[str, Any]:
    """Click the sidebar tab of a settled Lab page and wait for a list of ``runs`` runs;
    returns the page's measurement (elapsed_ms, count, rows, clicked)."""
    page.evaluate(ARM_JS, TAB)
    page.locator(TAB).click()
    return page.evaluate(MEASURE_JS, [runs, LIMIT_MS])


def _copy_store(source: Path, target: Path) -> tuple[int, str]:
    """A consistent copy of a SQLite store (the backup API: WAL content included); returns
    its run count and the name of its newest run."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        count = dst.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        newest = dst.execute(
            "SELECT name FROM runs ORDER BY start_time DESC, run_id DESC LIMIT 1"
        ).fetchone()[0]
    return count, newest


def sidebar(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``sidebar.list``: click to the rendered runs list, median of ``sidebar_repeats``."""
    from playwright.sync_api import sync_playwright

    from tests.plugins.lab import CHROMIUM, CHROMIUM_ARGS, start_lab

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing (./scripts/setup installs it)")
    base = tmp / "sidebar-lab"
    base.mkdir()
    runs, newest = _copy_store(Path(state["search_store"]), base / "mlops.db")
    loaded = min(runs, MAX_RUNS)
    on_server = f"({runs} on server)" if runs > loaded else None
    log(SIDE, f"sidebar: JupyterLab + Chromium on a store of {runs:,} runs ...")
    timings: list[float] = []
    with start_lab(base, log_name="bench-sidebar-lab.log") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            for index in range(sizes.sidebar_repeats + 1):  # the first load warms up
                # a fresh workspace each time: Lab opens with the sidebar closed
                page.goto(server.lab_url(f"lab/workspaces/mlops-bench-{index}"))
                page.wait_for_selector(TAB, timeout=180_000)
                page.wait_for_load_state("networkidle")
                if page.locator(SIDEBAR).is_visible():
                    raise RuntimeError("the sidebar was open before the click")
                result = click_to_list(page, loaded)
                first = page.evaluate(FIRST_ROW_JS, ROW)
                shown = page.evaluate(COUNT_TEXT_JS)
                if (
                    not result["clicked"]
                    or result["count"] != loaded
                    or first != newest
                    or (on_server is not None and on_server not in shown)
                ):
                    raise WrongAnswer(
                        f"sidebar: count {result['count']} ({shown!r}) of {runs} runs, first row "
                        f"{first!r} (newest {newest!r}), clicked {result['clicked']}"
                    )
                if not 0 < result["rows"] < 200:
                    raise WrongAnswer(f"sidebar: {result['rows']} rows in the DOM (windowed?)")
                if index:
                    timings.append(result["elapsed_ms"])
            context.close()
        finally:
            browser.close()
    out["sidebar.list"] = {
        "median_ms": statistics.median(timings),
        "min_ms": min(timings),
        "max_ms": max(timings),
        "n": len(timings),
        "runs": loaded,
        "in_store": runs,
        "rows_in_dom": result["rows"],
    }
    log(
        SIDE,
        f"sidebar: click to {loaded:,}-run list in {out['sidebar.list']['median_ms']:.0f} ms "
        f"(median of {len(timings)})",
    )
