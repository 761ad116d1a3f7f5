"""scrapbook's scraps in an executed notebook: numbers become metrics, short text tags.

``scrapbook.glue(name, value)`` writes the value into the cell's outputs as a display with the
MIME type ``application/scrapbook.scrap.<encoder>+json``. They are read from the notebook's
JSON here, so recording them needs no scrapbook in this process (only in the kernel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .run import ActiveRun, validate_key

SCRAP_MIME_PREFIX = "application/scrapbook.scrap."
# Longer text (a report, a serialized frame) is not a tag; it stays in the notebook.
MAX_SCRAP_TAG_CHARS = 500


def notebook_scraps(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: value}`` of the json- and text-encoded scraps, in notebook order; a name
    glued again keeps its last value (as ``scrapbook.read_notebook(...).scraps`` does)."""
    scraps: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            for mime, payload in (output.get("data") or {}).items():
                if not mime.startswith(SCRAP_MIME_PREFIX) or not isinstance(payload, Mapping):
                    continue
                name = payload.get("name")
                encoder = payload.get("encoder")
                if not isinstance(name, str) or encoder not in ("json", "text"):
                    continue  # pandas/arrow/display-only scraps: not a metric nor a tag
                scraps.pop(name, None)
                scraps[name] = payload.get("data")
    return scraps


def record_scraps(run: ActiveRun, notebook: Mapping[str, Any]) -> dict[str, str]:
    """Log the notebook's scraps on ``run``: numbers as metrics, short text as tags.

    Returns ``{name: "metric" | "tag"}`` for what was recorded.
    """
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    for name, value in notebook_scraps(notebook).items():
        try:
            validate_key(name, "Scrap name")
        except ValueError:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[name] = float(value)
        elif isinstance(value, (str, bool)) and len(str(value)) <= MAX_SCRAP_TAG_CHARS:
            tags[name] = str(value)
    if metrics:
        run.log_metrics(metrics, step=0)
    if tags:
        run.set_tags(tags)
    return {**dict.fromkeys(metrics, "metric"), **dict.fromkeys(tags, "tag")}
