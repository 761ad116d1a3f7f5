"""Notebook pipelines: the cells of a tagged notebook become cached, parallel papermill steps.

``mlops.pipeline.run(path, params=..., jobs=...)`` runs one and returns its summary;
``mlops.pipeline.load(path)`` returns the analysed DAG (what ``jupyter mlops pipeline show``
prints). Modules: ``tags`` (the tag vocabulary), ``names`` (static analysis), ``parameters``,
``graph`` (the DAG), ``handover`` (values passed between steps), ``cache``, ``executors``
(local and Dask), ``kernel`` (what runs inside a step's kernel), ``run`` (orchestration and
tracking).
"""

from __future__ import annotations

from .graph import Pipeline, load
from .run import PipelineSummary, StepSummary, run

__all__ = ["Pipeline", "PipelineSummary", "StepSummary", "load", "run"]
