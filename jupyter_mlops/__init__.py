"""jupyter-mlops: the MLOps toolkit that lives inside Jupyter.

``import jupyter_mlops as mlops`` for the tracking API; ``%load_ext jupyter_mlops`` for the
magics. The names below are the public contract (docs/public-surface.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import pipeline  # mlops.pipeline.run(path, params=..., jobs=...)
from ._version import __version__
from .exceptions import (
    InvalidFilterError,
    InvalidParameterError,
    InvalidStoreURLError,
    MLOpsError,
    NoActiveRunError,
    RunLifecycleError,
    RunNotFoundError,
    SchemaTooNewError,
    StoreError,
    StoreTimeoutError,
    StoreUnreachableError,
)
from .tracking.fluent import (
    active_run,
    end_run,
    flush,
    get_run,
    get_store,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    runs,
    set_experiment,
    set_store,
    set_tag,
    set_tags,
    start_run,
)
from .tracking.manage import (
    archive_run,
    delete_tag,
    purge_run,
    rename_run,
    restore_run,
    set_note,
)
from .tracking.run import ActiveRun, Run

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .widgets.live import LiveView

__all__ = [
    "ActiveRun",
    "InvalidFilterError",
    "InvalidParameterError",
    "InvalidStoreURLError",
    "MLOpsError",
    "NoActiveRunError",
    "Run",
    "RunLifecycleError",
    "RunNotFoundError",
    "SchemaTooNewError",
    "StoreError",
    "StoreTimeoutError",
    "StoreUnreachableError",
    "__version__",
    "active_run",
    "archive_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_run",
    "get_store",
    "live",
    "load_ipython_extension",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "pipeline",
    "purge_run",
    "rename_run",
    "restore_run",
    "runs",
    "set_experiment",
    "set_note",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
]


def live(run: str | Run | ActiveRun) -> LiveView:
    """Show the metrics of ``run`` (id or run object) live under the cell, following the store."""
    from .widgets import live as _live

    return _live(run)


def _enable_live_view_in_kernel() -> None:
    """Runs started with the Python API in a kernel get the live view too (no %load_ext)."""
    import sys

    if "ipykernel" not in sys.modules:
        return
    from IPython import get_ipython

    if get_ipython() is not None:
        from .widgets import enable_live_view

        enable_live_view()


_enable_live_view_in_kernel()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext jupyter_mlops``: register the magics."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlops.server"}]
