"""Which runs get a live view, and feeding views from the background writer."""

from __future__ import annotations

import os
import threading
from typing import Any

from ..config import configured
from ..tracking import fluent
from ..tracking.capture import current_cell_id
from ..tracking.run import ActiveRun
from .live import LiveView

LIVE_ENV = "JUPYTER_MLOPS_LIVE"
HEADLESS_ENV = "JUPYTER_MLOPS_HEADLESS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

_views: dict[str, LiveView] = {}
_listening: set[int] = set()
_lock = threading.Lock()


def live_view_for(run_id: str) -> LiveView | None:
    """The live view of a run started in this kernel, if it has one."""
    return _views.get(run_id)


def _kernel_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def frontend_renders_widgets(shell: Any = None) -> bool:
    """Whether the client executing the current cell renders widgets.

    JupyterLab and Notebook 7 send the cell id with each execution and VS Code announces
    itself; papermill/nbclient/nbconvert do neither. ``JUPYTER_MLOPS_LIVE=1/0`` overrides.
    """
    forced = os.environ.get(LIVE_ENV, "").strip().lower()
    if forced in _TRUE:
        return True
    if forced in _FALSE or os.environ.get(HEADLESS_ENV):
        return False
    shell = shell if shell is not None else _kernel_shell()
    if shell is None:
        return False
    if "__vsc_ipynb_file__" in shell.user_ns or "VSCODE_PID" in os.environ:
        return True
    return current_cell_id(shell) is not None


def _live_default() -> bool:
    forced = os.environ.get(LIVE_ENV, "").strip().lower()
    if forced in _FALSE:
        return False
    return True if forced in _TRUE else configured().live


def _on_run_started(run: ActiveRun, options: dict[str, Any]) -> None:
    requested = options.get("live")
    if requested is False or run.parent_run_id and requested is None and run_is_nested(run):
        return
    shell = _kernel_shell()
    if shell is None or (requested is None and not _live_default()):
        return
    widget = frontend_renders_widgets(shell)
    view = LiveView(run.run_id, run.name, widget=widget, started=run.start_time / 1000.0)
    _listen(run.store.writer)
    _views[run.run_id] = view
    run.store.writer.watched_runs.add(run.run_id)
    view.show()
    run.listeners.append(_finish)


def run_is_nested(run: ActiveRun) -> bool:
    """Runs inside another run of this kernel share the outer run's cell: no second chart."""
    return any(r.run_id == run.parent_run_id for r in fluent.active_runs())


def _finish(run: ActiveRun) -> None:
    if run.run_id not in _views:
        return
    run.store.writer.flush()  # every point of the run has reached the view
    view = _views.pop(run.run_id)
    run.store.writer.watched_runs.discard(run.run_id)
    if view.series or view.widget:
        view.finish(run.status)


def _on_points(captured: dict[tuple[str, str], tuple[list[int], list[float]]]) -> None:
    for (run_id, key), (steps, values) in captured.items():
        view = _views.get(run_id)
        if view is not None:
            view.feed_columns(key, steps, values)


def _listen(writer: Any) -> None:
    with _lock:
        if id(writer) not in _listening:
            writer.point_listeners.append(_on_points)
            _listening.add(id(writer))


def enable_live_view(shell: Any = None) -> None:
    """Show live metrics for runs started from now on in this kernel (idempotent)."""
    if _on_run_started not in fluent.run_started_hooks:
        fluent.run_started_hooks.append(_on_run_started)
