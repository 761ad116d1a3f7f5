"""``mlops.live(run)``: a live view of any run, following the store (other kernels too)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..tracking import fluent
from .live import LiveView
from .manager import frontend_renders_widgets

POLL_INTERVAL_S = 0.5


def live(run: Any, *, poll_interval: float = POLL_INTERVAL_S) -> LiveView:
    """Show the metrics of ``run`` (a run id, ``Run`` or ``ActiveRun``) live under the cell.

    In a front end that renders widgets the chart follows the store until the run ends;
    headless, the current state is output as a static figure and a summary.
    """
    store = fluent.get_store()
    run_id = run if isinstance(run, str) else getattr(run, "run_id", None)
    if not isinstance(run_id, str):
        raise TypeError(f"live() expects a run id or a run, got {type(run).__name__}.")
    record = store.get_run(store.resolve_run_id(run_id))
    view = LiveView(
        record.run_id,
        record.name,
        widget=frontend_renders_widgets(),
        started=record.start_time / 1000.0,
        store=store,
    )
    last_id = _catch_up(store, view, record.run_id, 0)
    if record.status != "RUNNING" or not view.widget:
        view.finish(record.status, ended=_seconds(record.end_time))
        return view
    view.show()
    thread = threading.Thread(
        target=_follow,
        args=(store, view, record.run_id, last_id, poll_interval),
        name=f"mlops-follow-{record.run_id[:8]}",
        daemon=True,
    )
    thread.start()
    return view


def _catch_up(store: Any, view: LiveView, run_id: str, last_id: int) -> int:
    while True:
        rows = store.metric_points_after(run_id, last_id)
        if not rows:
            return last_id
        view.feed((key, step, value) for _, key, step, _, value in rows)
        last_id = rows[-1][0]


def _follow(store: Any, view: LiveView, run_id: str, last_id: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            last_id = _catch_up(store, view, run_id, last_id)
            status = store.run_status(run_id)
        except Exception:
            continue  # the database may be busy; try again next tick
        if status != "RUNNING":
            _catch_up(store, view, run_id, last_id)
            try:  # the run's own end time, not when this poll noticed it
                ended = _seconds(store.get_run(run_id).end_time)
            except Exception:
                ended = None
            view.finish(status, ended=ended)
            return


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0
