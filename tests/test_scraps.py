"""scrapbook's scraps of an executed notebook: ``jupyter_mlops.tracking.scraps``."""

from __future__ import annotations

import nbformat

import jupyter_mlops as mlops
from jupyter_mlops.tracking.scraps import notebook_scraps, record_scraps


def glued(name: str, data: object, encoder: str = "json") -> dict[str, object]:
    """A display output as ``scrapbook.glue(name, data, encoder=...)`` writes it."""
    return {
        "output_type": "display_data",
        "data": {
            f"application/scrapbook.scrap.{encoder}+json": {
                "name": name,
                "data": data,
                "encoder": encoder,
                "version": 1,
            }
        },
        "metadata": {"scrapbook": {"name": name, "data": True, "display": False}},
    }


def executed(*outputs: dict[str, object]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells.append(cell)
    return nb


def test_scraps_keep_the_last_value_of_a_name() -> None:
    nb = executed(
        glued("acc", 0.5),
        glued("acc", 0.9),
        glued("label", "rf", "text"),
        glued("frame", "base64...", "arrow"),  # a DataFrame scrap: neither metric nor tag
        {"output_type": "stream", "name": "stdout", "text": "hello"},
    )
    assert notebook_scraps(nb) == {"acc": 0.9, "label": "rf"}


def test_numbers_become_metrics_and_short_text_tags(tmp_store: str) -> None:
    nb = executed(
        glued("acc", 0.93),
        glued("rows", 1200),
        glued("ok", True),
        glued("model", "random-forest"),
        glued("report", "x" * 501),
        glued("config", {"a": 1}),
    )
    with mlops.start_run() as run:
        recorded = record_scraps(run, nb)
    assert recorded == {"acc": "metric", "rows": "metric", "ok": "tag", "model": "tag"}
    record = mlops.get_run(run.run_id)
    assert record.metrics == {"acc": 0.93, "rows": 1200.0}
    assert record.tags == {"ok": "True", "model": "random-forest"}
