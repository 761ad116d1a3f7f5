"""Which runs get a live view, and feeding views from the background writer."""

from __future__ import annotations

import os
import threading
from typing import Any

from ..config import HEADLESS_ENV, LIVE_ENV, configured, env, env_flag
from ..tracking import fluent
from ..tracking.capture import current_cell_id
from ..tracking.run import ActiveRun
from .cell import CellRuns
from .decimate import point_columns
from .live import LiveView

# Where the writer delivers each watched run's points: its chart (LiveView) or, for a run of
# a sweep that the chart has moved past, its RunSummary.
_views: dict[str, Any] = {}
_route_lock = threading.Lock()
_writers: list[Any] = []  # writers we listen to (a store switch brings a new one)
_lock = threading.Lock()
_current_cell: CellRuns | None = None
_cell_hooks: set[int] = set()  # shells whose post_run_cell ends the current cell's group


def live_view_for(run_id: str) -> LiveView | None:
    """The live view of a run started in this kernel, if it has one now."""
    view = _views.get(run_id)
    return view if isinstance(view, LiveView) else None


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
    forced = env_flag(LIVE_ENV)
    if forced is True:
        return True
    if forced is False or env(HEADLESS_ENV):
        return False
    shell = shell if shell is not None else _kernel_shell()
    if shell is None:
        return False
    if "__vsc_ipynb_file__" in shell.user_ns or "VSCODE_PID" in os.environ:
        return True
    return current_cell_id(shell) is not None


def _live_default() -> bool:
    forced = env_flag(LIVE_ENV)
    return forced if forced is not None else configured().live


def _on_run_started(run: ActiveRun, options: dict[str, Any]) -> None:
    requested = options.get("live")
    if requested is False:
        return
    nested = bool(run.parent_run_id) and run_is_nested(run)
    if nested and requested is None:
        return
    shell = _kernel_shell()
    if shell is None or (requested is None and not _live_default()):
        return
    widget = frontend_renders_widgets(shell)
    _listen(run.store.writer)
    run.store.writer.watched_runs.add(run.run_id)
    if nested:
        # A nested run that asked for a view with live=True gets one of its own, final as the
        # run ends.
        view = LiveView(
            run.run_id,
            run.name,
            widget=widget,
            started=run.start_time / 1000.0,
            store=run.store,
        )
        _route(run.run_id, view)
        view.show()
        run.listeners.append(_finish)
        return
    # Top-level runs share one view per cell execution: a %%track cell (one run) keeps its
    # chart, and a sweep of Python-API runs shows one chart and one table, not one chart per
    # run. The view turns final once the cell and its runs have ended.
    _cell_runs(shell, widget).add(run)


def run_is_nested(run: ActiveRun) -> bool:
    """Runs inside another run of this kernel share the outer run's cell: no second chart."""
    return any(r.run_id == run.parent_run_id for r in fluent.active_runs())


def _cell_runs(shell: Any, widget: bool) -> CellRuns:
    """The runs of the cell executing now (a new group after each cell's end)."""
    global _current_cell
    with _lock:
        if _current_cell is None or _current_cell.cell_done:
            _current_cell = CellRuns(widget, _route, _unroute)
        if id(shell) not in _cell_hooks:
            shell.events.register("post_run_cell", _end_of_cell)
            _cell_hooks.add(id(shell))
        return _current_cell


def _end_of_cell(*_: Any) -> None:
    global _current_cell
    with _lock:
        cell, _current_cell = _current_cell, None
    if cell is not None:
        cell.end_of_cell()


def _route(run_id: str, target: Any, chart: LiveView | None = None) -> None:
    """Deliver a run's committed points to ``target`` (a LiveView or a RunSummary).

    With ``chart``, the run is leaving that chart: its summary takes the chart's latest values
    under the same lock the writer's delivery takes, so no batch falls between the two.
    """
    with _route_lock:
        if chart is not None:
            target.take(chart.latest())
        _views[run_id] = target


def _unroute(run_id: str) -> None:
    with _route_lock:
        _views.pop(run_id, None)
    for writer in _writers:
        writer.watched_runs.discard(run_id)


def _finish(run: ActiveRun) -> None:
    if run.run_id not in _views:
        return
    run.store.writer.flush()  # every point of the run has reached the view
    view = _views[run.run_id]
    _unroute(run.run_id)
    if view.series or view.widget:
        view.finish(run.status)


def _on_points(captured: dict[tuple[str, str], bytes]) -> None:
    with _route_lock:
        for (run_id, key), data in captured.items():
            target = _views.get(run_id)
            if target is not None:
                points = point_columns(data)
                target.feed_columns(key, points["step"], points["value"])


def _listen(writer: Any) -> None:
    with _lock:
        if writer not in _writers:
            writer.point_listeners.append(_on_points)
            _writers.append(writer)


def enable_live_view(shell: Any = None) -> None:
    """Show live metrics for runs started from now on in this kernel (idempotent)."""
    if _on_run_started not in fluent.run_started_hooks:
        fluent.run_started_hooks.append(_on_run_started)
        shell = shell if shell is not None else _kernel_shell()
        if shell is not None and _live_default() and frontend_renders_widgets(shell):
            _preload_widget_code()


def _preload_widget_code() -> None:
    """Import plotly's FigureWidget now, in the background.

    It takes 1-2 s (plotly pulls in ipywidgets, anywidget and nbformat's jsonschema), once
    per kernel. Left to the first run's view, that second would land inside the first
    tracked cell: in its duration, and before its first line runs. Started at
    ``%load_ext``/``import``, it is usually done before the user's next cell; a view that
    needs it earlier just waits for the rest (Python's per-module import locks).
    """

    def _import() -> None:
        try:
            import plotly.graph_objects as go

            _ = go.FigureWidget
        except Exception:  # the view will import (and report) it again when it needs it
            pass

    threading.Thread(target=_import, name="jupyter-mlops-preload", daemon=True).start()
