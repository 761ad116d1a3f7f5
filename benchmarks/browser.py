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

import json
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


# ------------------------------------------------------------------ sweep and compare views

VIEWS_EXPERIMENT = "views-sweep"
COMPARE_EXPERIMENT = "views-compare"
COMPARE_METRICS = ("loss", "acc", "lr_now")
SWEEP_PARAMS = ("lr", "depth", "width", "dropout", "seed")  # + metrics.acc: 6 axes
CURRENT_TAB_CLOSE = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon"

SEED_VIEWS = """
import json, math, random, sys
import jupyter_mlops as mlops
runs, compare_runs, points = (int(a) for a in sys.argv[1:4])
rng = random.Random(13)
mlops.set_experiment({sweep!r})
for i in range(runs):
    lr = 10 ** rng.uniform(-4, -1)
    depth = rng.randint(2, 12)
    params = {{"lr": lr, "depth": depth, "width": rng.choice([64, 128, 256, 512]),
              "dropout": round(rng.uniform(0, 0.5), 3), "seed": i % 10}}
    with mlops.start_run(f"sweep-{{i:05d}}", params=params, capture=False):
        acc = 0.5 + 0.4 / (1 + abs(math.log10(lr) + 2.5)) + 0.005 * depth + rng.gauss(0, 0.02)
        mlops.log_metric("acc", acc)
mlops.set_experiment({compare!r})
for r in range(compare_runs):
    with mlops.start_run(f"cmp-{{r:02d}}", params={{"lr": 0.001 * (r + 1)}}, capture=False):
        for step in range(points):
            mlops.log_metrics({{"loss": 1 / (1 + step * (r + 1) / 50) + rng.random() * 0.05,
                               "acc": 1 - 1 / (2 + step / 100) + rng.random() * 0.02,
                               "lr_now": 0.001 * (r + 1) * 0.999 ** step}}, step=step)
mlops.flush()
# read back from the store: each sweep run's acc, by name (the benchmark's answer key)
df = mlops.runs(experiment={sweep!r}, limit=runs + 1)
json.dump(dict(zip(df["name"], df["metrics.acc"].astype(float))), sys.stdout)
"""

# The page notes when the pointer went down on ``selector`` (or, for a brush, when the mouse
# was released), then waits frame by frame until ``done`` holds.
ARM_AT_JS = """([selector, event]) => {
  window.__mlopsAt = null;
  const target = selector ? document.querySelector(selector) : document;
  target.addEventListener(event, () => {
    window.__mlopsAt = window.__mlopsAt ?? performance.now();
  }, {capture: true, once: true});
}"""
UNTIL_JS = """async ([done, limitMs]) => {
  const test = new Function('return (' + done + ')();');
  const waitStart = performance.now();
  return await new Promise(resolve => {
    const check = () => {
      const t0 = window.__mlopsAt ?? waitStart;
      const elapsed = performance.now() - t0;
      const ok = !!test();
      if (ok || elapsed > limitMs) {
        resolve({elapsed_ms: elapsed, ok, armed: window.__mlopsAt !== null});
      } else {
        requestAnimationFrame(check);
      }
    };
    check();
  });
}"""
PARCOORDS_DONE = """() => {
  const pc = document.querySelector('.jp-mlops-parcoords');
  const canvas = pc && pc.querySelector('canvas');
  return pc && canvas && canvas.dataset.drawn === pc.dataset.runs
    && pc.dataset.runs === '%d' && pc.querySelectorAll('.jp-mlops-pc-axis').length === %d;
}"""
BRUSHED_DONE = """() => {
  const count = document.querySelector('.jp-mlops-count[data-count]');
  const pc = document.querySelector('.jp-mlops-parcoords');
  return count && pc && count.dataset.count !== '%d' && count.dataset.count === pc.dataset.brushed;
}"""
COMPARE_DONE = """() => {
  const charts = [...document.querySelectorAll('.jp-mlops-compare svg.jp-mlops-chart')];
  return charts.length === %d && charts.every(c => c.dataset.points === '%d');
}"""
SMOOTHED_DONE = """() => {
  const want = document.querySelector('.jp-mlops-compare .jp-mlops-smoothing').value;
  const charts = [...document.querySelectorAll('.jp-mlops-compare svg.jp-mlops-chart')];
  return charts.length === %d && charts.every(c => c.dataset.smoothing === String(Number(want)));
}"""


def _summary(timings: list[float]) -> dict[str, Any]:
    return {
        "median_ms": statistics.median(timings),
        "min_ms": min(timings),
        "max_ms": max(timings),
        "n": len(timings),
    }


def _until(page: Any, done_js: str, what: str) -> float:
    result = page.evaluate(UNTIL_JS, [done_js, LIMIT_MS])
    if not result["ok"] or not result["armed"]:
        raise WrongAnswer(f"{what}: not done within {LIMIT_MS} ms ({result})")
    return float(result["elapsed_ms"])


def _count(page: Any) -> int:
    return int(page.locator(".jp-mlops-count[data-count]").get_attribute("data-count"))


def _wait_count(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('.jp-mlops-count[data-count]')?.dataset.count) === n",
        arg=n,
    )


def _seed_views(path: Path, runs: int, compare_runs: int, points: int) -> dict[str, float]:
    """The sweep and compare runs, by a fresh process (this one keeps its own store); returns
    each sweep run's acc by name, read back from the store."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env["JUPYTER_MLOPS_STORE"] = f"sqlite:///{path}"
    code = SEED_VIEWS.format(sweep=VIEWS_EXPERIMENT, compare=COMPARE_EXPERIMENT)
    done = subprocess.run(
        [sys.executable, "-c", code, str(runs), str(compare_runs), str(points)],
        env=env,
        check=True,
        timeout=1800,
        capture_output=True,
        text=True,
    )
    acc = {str(k): float(v) for k, v in json.loads(done.stdout).items()}
    if len(acc) != runs:
        raise WrongAnswer(f"views: {len(acc)} sweep runs stored of {runs}")
    return acc


def sidebar_views(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``views.parcoords`` (click on Sweep to 10,000 runs drawn on 6 axes), ``views.brush``
    (mouse released on an axis to the runs list showing the brushed runs), ``views.compare``
    (click on Compare to 50 runs x 3 metrics x 1,000 points drawn) and ``views.smoothing``
    (the smoothing slider moved a step to every chart redrawn smoothed)."""
    from playwright.sync_api import sync_playwright

    from tests.plugins.lab import CHROMIUM, CHROMIUM_ARGS, start_lab

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing (./scripts/setup installs it)")
    runs, compare_runs = sizes.views_sweep_runs, sizes.views_compare_runs
    points, repeats = sizes.views_compare_points, sizes.views_repeats
    base = tmp / "views-lab"
    base.mkdir()
    log(SIDE, f"views: seeding {runs:,} sweep runs, {compare_runs} x {points:,}-point runs ...")
    acc = _seed_views(base / "mlops.db", runs, compare_runs, points)
    values = sorted(acc.values())
    dims = len(SWEEP_PARAMS) + 1
    parcoords: list[float] = []
    brush: list[float] = []
    brushed_counts: list[int] = []
    compare: list[float] = []
    smoothing: list[float] = []
    with start_lab(base, log_name="bench-views-lab.log") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(server.lab_url("lab/workspaces/mlops-bench-views"))
            page.wait_for_selector(TAB, timeout=180_000)
            page.wait_for_load_state("networkidle")
            page.locator(TAB).click()
            page.locator(".jp-mlops-experiment-select").select_option(VIEWS_EXPERIMENT)
            _wait_count(page, runs)

            # parallel coordinates: click on Sweep until every run is drawn on every axis
            for index in range(repeats + 1):  # the first one warms up
                page.evaluate(ARM_AT_JS, [".jp-mlops-sweep-button", "pointerdown"])
                page.locator(".jp-mlops-sweep-button").click()
                elapsed = _until(page, PARCOORDS_DONE % (runs, dims), "parallel coordinates")
                keys = page.locator(".jp-mlops-pc-axis").evaluate_all(
                    "els => els.map(e => e.dataset.key)"
                )
                if sorted(keys) != sorted([f"params.{p}" for p in SWEEP_PARAMS] + ["metrics.acc"]):
                    raise WrongAnswer(f"parallel coordinates: axes {keys}")
                if index:
                    parcoords.append(elapsed)
                if index < repeats:
                    page.locator(CURRENT_TAB_CLOSE).click()
                    page.locator(".jp-mlops-parcoords").wait_for(state="detached")

            # brushing the acc axis: mouse released until the list shows the brushed runs
            hit = page.locator('.jp-mlops-pc-axis[data-key="metrics.acc"] .jp-mlops-pc-hit')
            for index in range(repeats + 1):
                box = hit.bounding_box()
                x = box["x"] + box["width"] / 2
                top = box["y"] + box["height"] * (0.15 + 0.04 * index)
                bottom = top + box["height"] * 0.35
                page.evaluate(ARM_AT_JS, [".jp-mlops-parcoords-axes", "mouseup"])
                page.mouse.move(x, top)
                page.mouse.down()
                page.mouse.move(x, bottom, steps=4)
                page.mouse.up()
                elapsed = _until(page, BRUSHED_DONE % runs, "brushing")
                rect = page.locator(".jp-mlops-pc-brush")
                lo, hi = float(rect.get_attribute("data-lo")), float(rect.get_attribute("data-hi"))
                shown = _count(page)
                eps = 1e-9 * max(1.0, abs(hi))
                fewest = sum(1 for v in values if lo + eps <= v <= hi - eps)
                most = sum(1 for v in values if lo - eps <= v <= hi + eps)
                if not fewest <= shown <= most or shown == 0:
                    raise WrongAnswer(
                        f"brushing acc {lo:.6g}..{hi:.6g}: the list shows {shown} runs, "
                        f"the store has {fewest}..{most}"
                    )
                first = page.locator(f'{ROW} [data-column="name"]').first.get_attribute("title")
                if not lo - eps <= acc[first] <= hi + eps:
                    raise WrongAnswer(f"brushing: {first} (acc {acc[first]}) listed")
                if index:
                    brush.append(elapsed)
                    brushed_counts.append(shown)
                # a click on the axis clears the brush: the whole sweep again
                page.mouse.click(x, top)
                _wait_count(page, runs)
            page.locator(CURRENT_TAB_CLOSE).click()

            # compare: 50 runs x 3 metrics x 1,000 points
            page.locator(".jp-mlops-experiment-select").select_option(COMPARE_EXPERIMENT)
            _wait_count(page, compare_runs)
            page.locator(".jp-mlops-select-all").check()
            page.wait_for_function(
                "n => document.querySelector('.jp-mlops-compare-button')?.textContent"
                ".includes(`(${n})`)",
                arg=compare_runs,
            )
            drawn = COMPARE_DONE % (len(COMPARE_METRICS), compare_runs * points)
            for index in range(repeats + 1):
                page.evaluate(ARM_AT_JS, [".jp-mlops-compare-button", "pointerdown"])
                page.locator(".jp-mlops-compare-button").click()
                elapsed = _until(page, drawn, "compare")
                metrics = page.locator(".jp-mlops-compare svg.jp-mlops-chart").evaluate_all(
                    "els => els.map(e => e.dataset.metric)"
                )
                if sorted(metrics) != sorted(COMPARE_METRICS):
                    raise WrongAnswer(f"compare: charts of {metrics}")
                if index:
                    compare.append(elapsed)
                if index < repeats:
                    page.locator(CURRENT_TAB_CLOSE).click()
                    page.locator(".jp-mlops-compare").wait_for(state="detached")

            # the smoothing slider, a step at a time (arrow keys), until every chart redrew
            slider = page.locator(".jp-mlops-compare .jp-mlops-smoothing")
            slider.focus()
            first_path = ".jp-mlops-compare svg.jp-mlops-chart path.jp-mlops-chart-line"
            for index in range(2 * repeats + 1):
                before = page.locator(first_path).first.get_attribute("d")
                page.evaluate(ARM_AT_JS, [".jp-mlops-compare .jp-mlops-smoothing", "input"])
                page.keyboard.press("ArrowRight")
                elapsed = _until(page, SMOOTHED_DONE % len(COMPARE_METRICS), "smoothing")
                raw = page.locator(".jp-mlops-compare path.jp-mlops-chart-raw").count()
                after = page.locator(first_path).first.get_attribute("d")
                if raw != len(COMPARE_METRICS) * compare_runs or after == before:
                    raise WrongAnswer(
                        f"smoothing: {raw} raw curves of {len(COMPARE_METRICS) * compare_runs}, "
                        f"path changed {after != before}"
                    )
                if index:
                    smoothing.append(elapsed)
            page.evaluate("() => sessionStorage.clear()")  # the chart options of this session
            context.close()
        finally:
            browser.close()
    out["views.parcoords"] = {**_summary(parcoords), "runs": runs, "dims": dims}
    out["views.brush"] = {
        **_summary(brush),
        "runs": runs,
        "brushed_min": min(brushed_counts),
        "brushed_max": max(brushed_counts),
    }
    out["views.compare"] = {
        **_summary(compare),
        "runs": compare_runs,
        "metrics": len(COMPARE_METRICS),
        "points": points,
    }
    out["views.smoothing"] = {
        **_summary(smoothing),
        "runs": compare_runs,
        "metrics": len(COMPARE_METRICS),
        "points": points,
    }
    log(
        SIDE,
        f"views: parallel coordinates {out['views.parcoords']['median_ms']:.0f} ms, brush "
        f"{out['views.brush']['median_ms']:.0f} ms, compare {out['views.compare']['median_ms']:.0f}"
        f" ms, smoothing {out['views.smoothing']['median_ms']:.0f} ms (medians)",
    )
