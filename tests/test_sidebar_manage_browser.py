"""Run management in the sidebar, in a real JupyterLab in Debian's Chromium: the right-click
menu, archive / restore / delete for good, rename, tags and a Markdown note in the detail view,
CSV export of the table, palette commands, "select all" of the matching runs; light and dark.

A Lab of its own (archiving and deleting change the store). Every change is checked through the
REST API as well as on the page. Screenshots: ``test-artifacts/manage-*.png``.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.lab import LabServer, require_chromium, screenshot, start_lab
from tests.test_sidebar_browser import ROW, SIDEBAR, TAB, WAIT_MS, _set_theme

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("manage-lab"), "manage-lab.log") as server:
        yield server


@pytest.fixture(scope="module")
def runs(lab: LabServer) -> Iterator[dict[str, str]]:
    """keep-a, tidy-b (with a child fold), old-c, and a 60-run sweep: {name: run id}."""
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking import fluent

    mlops.set_store(lab.store_url)
    ids = {}
    mlops.set_experiment("manage")
    for name in ("keep-a", "tidy-b", "old-c"):
        with mlops.start_run(name, params={"lr": 0.1}, tags={"team": "vision"}) as run:
            mlops.log_metric("acc", 0.5)
            ids[name] = run.run_id
            if name == "tidy-b":
                with mlops.start_run("tidy-b-fold") as child:
                    mlops.log_metric("acc", 0.4)
                ids["tidy-b-fold"] = child.run_id
    mlops.set_experiment("sweep")
    for i in range(60):
        with mlops.start_run(f"sweep-{i:02d}", params={"lr": 10 ** -(i % 4)}):
            mlops.log_metric("acc", i / 60)
    mlops.flush()
    yield ids
    fluent.reset()


def api(lab: LabServer, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{lab.url}jupyter-mlops/api/{path}", headers={"Authorization": f"token {lab.token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def page(browser, lab: LabServer, runs: dict[str, str]) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.lab_url("lab/workspaces/manage-tests"))
    page.wait_for_selector(TAB, timeout=90_000)
    page.locator(TAB).click()
    page.wait_for_selector(f"{SIDEBAR}:visible")
    # the "manage" experiment only, so the rows are few and known
    page.locator(".jp-mlops-experiment-select").select_option("manage")
    page.locator(ROW, has_text="keep-a").first.wait_for()
    yield page
    context.close()


def row(page, name: str):
    return page.locator(f'{ROW}:has([data-column="name"][title="{name}"])')


def wait_gone(page, name: str) -> None:
    row(page, name).first.wait_for(state="detached")


def test_archive_from_the_right_click_menu_and_restore(page, lab, runs) -> None:
    row(page, "old-c").first.click(button="right")
    menu = page.locator(".lm-Menu:visible")
    menu.wait_for()
    labels = menu.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()
    for label in ("Open run", "Rename…", "Edit note…", "Archive", "Copy run id"):
        assert label in labels, labels
    assert "Restore" not in labels  # only in the archived view
    screenshot(page, "manage-context-menu")
    menu.locator(".lm-Menu-itemLabel", has_text="Archive").first.click()
    wait_gone(page, "old-c")
    assert api(lab, f"runs/{runs['old-c']}")[1]["lifecycle_stage"] == "deleted"
    names = {r["name"] for r in api(lab, "runs?experiment=manage")[1]["runs"]}
    assert "old-c" not in names and "keep-a" in names

    toggle = page.locator(".jp-mlops-archived-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    row(page, "old-c").first.wait_for()
    assert row(page, "keep-a").count() == 0  # the archived view lists archived runs only
    screenshot(page, "manage-archived-view")
    row(page, "old-c").first.locator(".jp-mlops-run-select").check()
    page.locator(".jp-mlops-restore-button").click()
    wait_gone(page, "old-c")
    toggle.click()
    row(page, "old-c").first.wait_for()
    assert api(lab, f"runs/{runs['old-c']}")[1]["lifecycle_stage"] == "active"


def test_archive_then_delete_for_good(page, lab, runs) -> None:
    row(page, "tidy-b").first.locator(".jp-mlops-run-select").check()
    archive = page.locator(".jp-mlops-archive-button")
    assert archive.inner_text() == "Archive (1)"
    archive.click()
    wait_gone(page, "tidy-b")
    wait_gone(page, "tidy-b-fold")  # the child goes with its parent
    page.locator(".jp-mlops-archived-toggle").click()
    row(page, "tidy-b").first.locator(".jp-mlops-run-select").check()
    page.locator(".jp-mlops-purge-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "cannot be undone" in dialog.inner_text()
    screenshot(page, "manage-delete-dialog")
    dialog.locator("button", has_text="Cancel").click()
    assert api(lab, f"runs/{runs['tidy-b']}")[0] == 200  # cancelled: nothing deleted
    page.locator(".jp-mlops-purge-button").click()
    page.locator(".jp-Dialog button", has_text="Delete for good").click()
    wait_gone(page, "tidy-b")
    assert api(lab, f"runs/{runs['tidy-b']}")[0] == 404
    assert api(lab, f"runs/{runs['tidy-b-fold']}")[0] == 404
    page.locator(".jp-mlops-archived-toggle").click()
    row(page, "keep-a").first.wait_for()


def test_rename_tags_and_note_in_the_detail_view(page, lab, runs) -> None:
    run_id = runs["keep-a"]
    row(page, "keep-a").first.locator('[data-column="name"]').click()
    detail = page.locator(f'.jp-mlops-run-detail[data-run-id="{run_id}"]:visible')
    detail.wait_for()

    detail.locator(".jp-mlops-rename-button").click()
    page.locator(".jp-Dialog input").fill("keep-renamed")
    page.locator(".jp-Dialog button", has_text="Rename").click()
    detail.locator(".jp-mlops-detail-title", has_text="keep-renamed").wait_for()
    row(page, "keep-renamed").first.wait_for()  # the list follows
    assert api(lab, f"runs/{run_id}")[1]["name"] == "keep-renamed"

    tags = detail.locator(".jp-mlops-tags")
    if tags.get_attribute("open") is None:
        tags.locator("summary").click()
    tags.locator(".jp-mlops-tag-key").fill("reviewed")
    tags.locator(".jp-mlops-tag-value").fill("yes")
    tags.locator(".jp-mlops-tag-add").click()
    tags.locator('tr[data-key="reviewed"] td', has_text="yes").wait_for()
    assert api(lab, f"runs/{run_id}")[1]["tags"] == {"team": "vision", "reviewed": "yes"}
    tags.locator('tr[data-key="team"] .jp-mlops-tag-remove').click()
    tags.locator('tr[data-key="team"]').wait_for(state="detached")
    assert api(lab, f"runs/{run_id}")[1]["tags"] == {"reviewed": "yes"}

    detail.locator(".jp-mlops-note-button").click()
    page.locator(".jp-Dialog textarea.jp-mlops-note-editor").fill(
        "# Findings\n\nThe **learning rate** matters.\n\n<img src=x onerror=alert(1)>"
    )
    page.locator(".jp-Dialog button", has_text="Save").click()
    note = detail.locator(".jp-mlops-note")
    note.locator("h1", has_text="Findings").wait_for()
    assert note.locator("strong").inner_text() == "learning rate"
    # a note is user text: rendered untrusted, so no handler survives sanitizing
    assert note.locator("[onerror]").count() == 0
    assert api(lab, f"runs/{run_id}")[1]["note"].startswith("# Findings")
    screenshot(page, "manage-detail-light")
    _set_theme(page, "JupyterLab Dark")
    try:
        note.locator("h1").wait_for()
        screenshot(page, "manage-detail-dark")
    finally:
        _set_theme(page, "JupyterLab Light")


def test_csv_export_of_the_table(page, lab, runs) -> None:
    page.locator(".jp-mlops-filter").fill("")
    page.locator(".jp-mlops-filter").press("Enter")
    shown = int(page.locator(".jp-mlops-count").get_attribute("data-count"))
    with page.expect_download() as info:
        page.locator(".jp-mlops-export-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == shown
    assert {r["name"] for r in rows} >= {"keep-renamed", "old-c"}
    by_name = {r["name"]: r for r in rows}
    assert by_name["old-c"]["run_id"] == runs["old-c"]
    assert by_name["old-c"]["status"] == "FINISHED"


def test_select_all_selects_every_matching_run_and_palette_commands(page, lab, runs) -> None:
    page.locator(".jp-mlops-experiment-select").select_option("sweep")
    page.locator(".jp-mlops-filter").fill("params.lr = '0.1'")
    page.locator(".jp-mlops-filter").press("Enter")
    page.wait_for_function("() => document.querySelector('.jp-mlops-count').dataset.count === '15'")
    page.locator(".jp-mlops-select-all").check()
    assert page.locator(".jp-mlops-compare-button").inner_text() == "Compare (15)"
    page.locator(".jp-mlops-select-all").uncheck()
    page.locator(".jp-mlops-filter").fill("")
    page.locator(".jp-mlops-filter").press("Enter")
    page.wait_for_function("() => document.querySelector('.jp-mlops-count').dataset.count === '60'")
    page.locator(".jp-mlops-select-all").check()  # 60 runs, more than fit in view
    assert page.locator(".jp-mlops-compare-button").inner_text() == "Compare (60)"
    page.locator(".jp-mlops-select-all").uncheck()

    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette:visible")
    palette.wait_for()
    palette.locator("input").fill("MLOps")
    items = palette.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
    for label in (
        "Export MLOps runs as CSV",
        "Show archived MLOps runs",
        "Archive selected MLOps runs",
        "Rename MLOps run…",
    ):
        assert label in items, items
    page.keyboard.press("Escape")
    page.locator(".jp-mlops-experiment-select").select_option("manage")
