"""Every example notebook runs headless (as CI and `jupyter mlops run` would) without errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_headless(path: Path, tmp_store: str, tmp_path: Path) -> None:
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = nbformat.read(work, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for cell in nb.cells
        if "raises-exception" not in cell.metadata.get("tags", [])
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, errors
    assert not any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        for cell in nb.cells
        for o in cell.get("outputs", [])
    )


def test_quickstart_records_what_it_shows(tmp_store: str, tmp_path: Path) -> None:
    import jupyter_mlops as mlops

    path = next(p for p in NOTEBOOKS if p.stem == "quickstart")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    runs = mlops.runs(experiment="quickstart")
    by_name = {row["name"]: row for _, row in runs.iterrows()}
    assert by_name["baseline"]["status"] == "FINISHED"
    assert by_name["will-fail"]["status"] == "FAILED"
    assert by_name["api-run"]["tags.stage"] == "candidate"
    session = mlops.get_run(by_name["exploration"]["run_id"])
    assert session.cells["source"].tolist()[:2] == [
        "data = [x * x for x in range(10)]",
        'total = sum(data)\nmlops.log_metric("total", total)\ntotal',
    ]
    assert mlops.get_run(by_name["api-run"]["run_id"]).artifacts == [("model-card.md", 21)]
