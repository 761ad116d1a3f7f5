"""The papermill engine of tracked notebook runs: ``jupyter_mlops.tracking.papermill_engine``."""

from __future__ import annotations

import os
import time

import nbformat
import pytest
from nbclient import NotebookClient

import jupyter_mlops as mlops
from jupyter_mlops.tracking.papermill_engine import SendCellIds

pytestmark = pytest.mark.slow


class CellIdClient(SendCellIds, NotebookClient):
    """nbclient's client, sending cell ids as JupyterLab does."""


def test_track_cells_run_by_nbclient_record_their_cell_ids(tmp_store: str, tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell("%%track by-nbclient\nx = 1"),
        nbformat.v4.new_code_cell("import jupyter_mlops as mlops\nmlops.flush()"),
    ]
    nb.cells[1]["id"] = "the-cell"
    client = CellIdClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=dict(os.environ))
    deadline = time.monotonic() + 60
    while mlops.runs(filter="name = 'by-nbclient'").empty:
        assert time.monotonic() < deadline, "the kernel's run never reached the store"
        time.sleep(0.05)
    run_id = mlops.runs(filter="name = 'by-nbclient'")["run_id"][0]
    assert mlops.get_run(run_id).cell_id == "the-cell"
