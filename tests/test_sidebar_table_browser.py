"""The runs table in a real JupyterLab in Debian's Chromium: parent and child runs as a tree
that collapses, "Compare children", the filter's numeric params, dates, relative times and tag
search, key completion and the clear button, columns the filter and the sort bring in, the sort
surviving a reload, numbers aligned on the decimal point, and the name column staying put while
the others scroll sideways; light and dark screenshots (``test-artifacts/table-*.png``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.lab import LabServer, require_chromium, screenshot, start_lab
from tests.test_sidebar_browser import ROW, SIDEBAR, TAB, WAIT_MS, _set_theme

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LRS = {"lr-big": "0.1", "lr-mid": "0.01", "lr-small": "1e-3", "lr-text": "auto"}
ACCS = {"lr-big": 0.5, "lr-mid": 0.8125, "lr-small": 12.25, "lr-text": 3.0}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("table-lab"), "table-lab.log") as server:
        yield server


@pytest.fixture(scope="module")
def runs(lab: LabServer) -> Iterator[dict[str, str]]:
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking import fluent

    mlops.set_store(lab.store_url)
    mlops.set_experiment("table")
    ids = {}
    with mlops.start_run("cv", tags={"team": "vision"}) as parent:
        ids["cv"] = parent.run_id
        for fold in range(3):
            with mlops.start_run(f"fold-{fold}", params={"fold": fold}) as child:
                mlops.log_metric("acc", 0.7 + fold / 100)
                ids[f"fold-{fold}"] = child.run_id
    for name, lr in LRS.items():
        with mlops.start_run(name, params={"lr": lr, "depth": 3}) as run:
            mlops.log_metric("acc", ACCS[name])
            ids[name] = run.run_id
    mlops.flush()
    yield ids
    fluent.reset()


@pytest.fixture(scope="module")
def page(browser, lab: LabServer, runs: dict[str, str]) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.lab_url("lab/workspaces/table-tests"))
    page.wait_for_selector(TAB, timeout=90_000)
    page.locator(TAB).click()
    page.wait_for_selector(f"{SIDEBAR}:visible")
    page.locator(ROW, has_text="fold-2").first.wait_for()
    yield page
    context.close()


def names(page) -> list[str]:
    return page.locator(f'{ROW} [data-column="name"]').evaluate_all("els => els.map(e => e.title)")


def wait_names(page, expected: list[str]) -> None:
    page.wait_for_function(
        """want => JSON.stringify(
             [...document.querySelectorAll('.jp-mlops-run-row [data-column="name"]')]
               .map(e => e.title).sort()) === JSON.stringify(want)""",
        arg=sorted(expected),
    )


def test_tree_collapses_and_compares_children(page, runs) -> None:
    shown = names(page)
    cv = shown.index("cv")
    assert shown[cv + 1 : cv + 4] == ["fold-2", "fold-1", "fold-0"], shown  # newest first
    fold = page.locator(f'{ROW}[data-run-id="{runs["fold-0"]}"] .jp-mlops-indent')
    assert fold.count() == 1
    screenshot(page, "table-tree-light")
    toggle = page.locator(f'{ROW}[data-run-id="{runs["cv"]}"] .jp-mlops-tree-toggle')
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    page.locator(f'{ROW}[data-run-id="{runs["fold-0"]}"]').wait_for(state="detached")
    assert (
        page.locator(f'{ROW}[data-run-id="{runs["cv"]}"] .jp-mlops-child-count').inner_text() == "3"
    )
    assert page.locator(".jp-mlops-count").get_attribute("data-count") == "8"  # still counted
    toggle.click()
    page.locator(f'{ROW}[data-run-id="{runs["fold-0"]}"]').wait_for()

    page.locator(f'{ROW}[data-run-id="{runs["cv"]}"] [data-column="name"]').click()
    detail = page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["cv"]}"]:visible')
    detail.wait_for()
    detail.locator(".jp-mlops-compare-children").click()
    view = page.locator(".jp-mlops-compare[data-run-ids]:visible")
    view.wait_for()
    assert set(view.get_attribute("data-run-ids").split(",")) == {
        runs["fold-0"],
        runs["fold-1"],
        runs["fold-2"],
    }
    title = page.locator(
        "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel"
    ).inner_text()
    assert "fold-" in title and " vs " in title, title
    # the parent is named in a child's detail
    page.locator(f'{ROW}[data-run-id="{runs["fold-1"]}"] [data-column="name"]').click()
    child = page.locator(f'.jp-mlops-run-detail[data-run-id="{runs["fold-1"]}"]:visible')
    assert child.locator(".jp-mlops-parent-link").inner_text() == "cv"


def test_filter_numbers_dates_and_tag_text(page, runs) -> None:
    box = page.locator(".jp-mlops-filter")

    def run_filter(text: str) -> None:
        box.fill(text)
        if page.locator(".jp-mlops-suggestions").count():
            box.press("Escape")
        box.press("Enter")

    run_filter("params.lr < 0.05")
    wait_names(page, ["lr-mid", "lr-small"])  # 1e-3 is a number; 'auto' never matches
    header = page.locator('.jp-mlops-header-cell[data-column="params.lr"]')
    assert "jp-mlops-auto-column" in header.get_attribute("class")
    run_filter("start_time > -1d and params.depth = 3")
    wait_names(page, list(LRS))
    run_filter("start_time > '2999-01-01'")
    wait_names(page, [])
    run_filter("start_time > 'soon'")
    assert "start_time is a time" in page.locator(".jp-mlops-filter-error").inner_text()
    run_filter("vision")  # free text finds the tag value
    wait_names(page, ["cv"])
    page.locator(".jp-mlops-filter-clear").click()
    assert box.input_value() == ""
    wait_names(page, ["cv", "fold-0", "fold-1", "fold-2", *LRS])


def test_key_completion(page) -> None:
    box = page.locator(".jp-mlops-filter")
    box.fill("")
    box.type("metrics.acc > 1 and para")
    suggestions = page.locator(".jp-mlops-suggestions .jp-mlops-suggestion")
    suggestions.first.wait_for()
    assert suggestions.all_inner_texts()[:2] == ["params.depth", "params.fold"] or (
        "params.lr" in suggestions.all_inner_texts()
    )
    screenshot(page, "table-completion")
    page.keyboard.press("ArrowDown")
    chosen = page.locator(".jp-mlops-suggestion.jp-mod-active").inner_text()
    page.keyboard.press("Tab")
    assert box.input_value() == f"metrics.acc > 1 and {chosen} "
    box.press("Escape")  # clears
    assert box.input_value() == ""


def test_sort_survives_a_reload_and_numbers_align(page, lab, runs) -> None:
    box = page.locator(".jp-mlops-filter")
    box.fill("metrics.acc > 0 and params.depth = 3")
    box.press("Enter")
    wait_names(page, list(LRS))
    header = page.locator('.jp-mlops-header-cell[data-column="metrics.acc"]')
    header.click()
    page.wait_for_function(
        """() => document.querySelector('.jp-mlops-header-cell[data-column="metrics.acc"]')
                   ?.getAttribute('aria-sort') === 'descending'"""
    )
    # the numbers of a column align on the decimal point
    ints = page.locator(f'{ROW} [data-column="metrics.acc"] .jp-mlops-num-int')
    rights = ints.evaluate_all("els => els.map(e => e.getBoundingClientRect().right)")
    assert len(rights) == 4 and max(rights) - min(rights) < 1, rights
    screenshot(page, "table-aligned")
    page.reload()
    page.wait_for_selector(TAB, timeout=90_000)
    # the layout is restored (the sidebar open again) once the splash screen is gone
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=90_000)
    if not page.locator(SIDEBAR).is_visible():
        page.locator(TAB).click()
    page.locator(ROW).first.wait_for()
    page.wait_for_function(
        """() => document.querySelector('.jp-mlops-header-cell[data-column="metrics.acc"]')
                   ?.getAttribute('aria-sort') === 'descending'"""
    )
    top = page.locator(f'{ROW} [data-column="name"]').first.get_attribute("title")
    assert top == "lr-small", top  # acc 12.25: the best first, after the reload too


def test_name_stays_put_while_columns_scroll(page, runs) -> None:
    page.locator(".jp-mlops-columns-button").click()
    for key in ("params.lr", "params.depth", "params.fold", "tags.team"):
        page.locator(f'.jp-mlops-column-chooser input[data-column="{key}"]').check()
    page.locator(".jp-mlops-column-chooser button", has_text="Done").click()
    viewport = page.locator(".jp-mlops-runs-viewport")
    width, scroll_width = viewport.evaluate("el => [el.clientWidth, el.scrollWidth]")
    assert scroll_width > width, "expected a sideways scroll with many columns"
    name = page.locator(f'{ROW} [data-column="name"]').first
    before = name.evaluate("el => el.getBoundingClientRect().left")
    viewport.evaluate("el => { el.scrollLeft = 200; }")
    page.wait_for_function("() => document.querySelector('.jp-mlops-runs-viewport').scrollLeft > 0")
    after = name.evaluate("el => el.getBoundingClientRect().left")
    assert abs(after - before) < 1, (before, after)
    lr = page.locator(f'{ROW} [data-column="params.lr"]').first
    assert lr.evaluate("el => el.getBoundingClientRect().left") < before + 400
    screenshot(page, "table-scrolled-light")
    _set_theme(page, "JupyterLab Dark")
    try:
        page.locator(ROW).first.wait_for()
        screenshot(page, "table-scrolled-dark")
    finally:
        _set_theme(page, "JupyterLab Light")
