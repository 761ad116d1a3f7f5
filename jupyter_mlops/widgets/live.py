"""Live metric views: a Plotly FigureWidget under the cell, fed by the background writer.

Data path: ``log_metric`` -> writer queue -> (commit) -> writer listener -> ``LiveView.feed``
(bounded buffers) -> a timer thread pushes at most ``1 / interval`` figure updates a second.
The cell never waits on the front end, and a tight logging loop keeps the chart moving because
updates come from threads, not from the cell. When the run ends, the widget is replaced by a
static Plotly figure and a text summary, which stay readable in the saved notebook.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..config import tunables
from .controls import add_time_axes
from .decimate import SeriesBuffer
from .figure import figure_dict, status_bundle, summary_text

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# Each FigureWidget update is four comm messages in plotly 7 (plotly sets, then clears, its
# update trait, and bumps its trace and layout edit ids): one update per 0.5 s keeps the front
# end under 10 messages in any second, whatever the logging rate.
STATUS_REFRESH_S = 1.0
# Stored points read per metric for the final figure's time axes (every point of shorter runs).
TIME_AXIS_POINTS = 2000


class LiveView:
    """The chart and status line of one run, live (widget) or static (headless)."""

    def __init__(
        self,
        run_id: str,
        name: str,
        *,
        widget: bool,
        interval: float | None = None,
        capacity: int = 2000,
        started: float | None = None,
        display_id: str | None = None,
        store: Any = None,
    ) -> None:
        self.run_id = run_id
        # The run's store, for the logging times of its points (the final figure's time axes).
        self.store = store
        self.name = name
        self.widget = widget
        # Seconds between two chart updates: c.MLOps.live_update_interval (2 a second).
        self.interval = tunables().live_update_interval if interval is None else interval
        self.capacity = capacity
        self.series: dict[str, SeriesBuffer] = {}
        self.status = "RUNNING"
        self.started = started if started is not None else time.time()
        self.ended: float | None = None
        self.updates_sent = 0  # figure updates pushed to the front end
        self.display_id = display_id or f"jupyter-mlops-live-{run_id}"
        self.figure: Any = None
        # Called by the timer thread after each tick (the sweep table of a cell refreshes
        # there, so it is throttled with the chart and never sent from the cell).
        self.on_tick: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._dirty = False
        self._drawn_keys: list[str] = []
        self._drawn_layout: set[str] = set()  # top-level layout keys the browser has
        self._shown = False
        self._last_push = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- data in (any thread) ----------------------------------------------------------------
    def feed(self, points: Iterable[tuple[str, int, float]]) -> None:
        grouped: dict[str, tuple[list[float], list[float]]] = {}
        for key, step, value in points:
            xs, ys = grouped.setdefault(key, ([], []))
            xs.append(step)
            ys.append(value)
        if not grouped:
            return
        with self._lock:
            for key, (xs, ys) in grouped.items():
                self._extend(key, xs, ys)

    def feed_columns(self, key: str, steps: Sequence[float], values: Sequence[float]) -> None:
        """Points of one key as columns (the writer's fast path)."""
        with self._lock:
            self._extend(key, steps, values)

    def _extend(self, key: str, steps: Sequence[float], values: Sequence[float]) -> None:
        """Add points to ``key``'s buffer (made at its first points); under ``_lock``."""
        buffer = self.series.get(key)
        if buffer is None:
            buffer = self.series[key] = SeriesBuffer(self.capacity, self.capacity // 4)
        buffer.extend(steps, values)
        self._dirty = True

    def restart(self, run_id: str, name: str, started: float, store: Any = None) -> None:
        """Follow another run in the same chart (the next run of a sweep): no new widget."""
        with self._lock:
            self.run_id = run_id
            self.store = store if store is not None else self.store
            self.name = name
            self.started = started
            self.ended = None
            self.status = "RUNNING"
            self.series = {}
            self._dirty = True

    def set_status(self, status: str, ended: float | None = None) -> None:
        """The run ended: the chart's title shows it (coloured) at the next tick."""
        with self._lock:
            self.status = status
            self.ended = ended if ended is not None else time.time()
            self._dirty = True

    @property
    def shown(self) -> bool:
        """Whether the view is displayed under a cell (as a status line or a chart)."""
        return self._shown

    def latest(self) -> dict[str, tuple[float | None, int]]:
        """Each key's latest value and point count (what a run's summary keeps)."""
        with self._lock:
            return {key: (b.last, b.total) for key, b in self.series.items()}

    # -- display ---------------------------------------------------------------------------
    def show(self) -> None:
        """Display the view under the current cell and start the timer thread.

        Until the first metric arrives the view is a one-line status (HTML): the chart widget
        is made by the timer thread only once there is something to draw. A plotly
        FigureWidget carries plotly.js (~5 MB) in its comm_open, so a run that logs no
        metrics sends none.
        """
        if not self.widget:
            return
        import plotly.graph_objects as go
        from IPython.display import display

        # Importing plotly's FigureWidget (anywidget, ipywidgets) takes about a second, once
        # per kernel. Done here, on the cell's thread: in the timer thread a tight logging
        # loop starves it of the GIL, and the chart would only appear after the loop.
        _ = go.FigureWidget
        with self._lock:
            has_points = bool(self.series)
        if has_points:  # mlops.live() of a run with history: draw it at once
            self.figure = self._new_figure()
            display(self.figure, display_id=self.display_id)
        else:
            display(self._status_bundle(), raw=True, display_id=self.display_id)
        self._shown = True
        self._last_push = time.monotonic()
        self._thread = threading.Thread(
            target=self._loop, name=f"mlops-live-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()

    def _new_figure(self) -> Any:
        import plotly.graph_objects as go

        with self._lock:
            spec = figure_dict(
                self.name, self.status, self.started, self.ended, self.series, controls="live"
            )
            self._dirty = False
        self._drawn_keys = [trace["name"] for trace in spec["data"]]
        self._drawn_layout = set(spec["layout"])
        # The empty template: the widget then looks like the static figure that replaces it
        # (plotly.js defaults), not grey until the cell ends; and layout changes do not resend
        # plotly.py's default template (~10 kB) each time.
        spec["layout"]["template"] = "none"
        return go.FigureWidget(spec)

    def _status_bundle(self) -> dict[str, str]:
        with self._lock:
            return status_bundle(self.name, self.status, self.started, self.ended, self.series)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.push()
                if self.on_tick is not None:
                    self.on_tick()
            except Exception:  # a drawing problem must never disturb the run
                traceback.print_exc()
                return

    def stop(self) -> None:
        """Stop the timer thread (its last push, if one is under way, completes first)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def push(self, force: bool = False) -> bool:
        """Send one update if anything changed (or the status line is stale)."""
        if not self._shown:
            return False
        now = time.monotonic()
        if self.figure is None:
            return self._push_status(now, force)
        with self._lock:
            stale = now - self._last_push >= STATUS_REFRESH_S
            if not (self._dirty or force or stale):
                return False
            spec = figure_dict(
                self.name,
                self.status,
                self.started,
                self.ended,
                self.series,
                arrays=True,
                controls="live",
            )
            self._dirty = False
        keys = [trace["name"] for trace in spec["data"]]
        figure = self.figure
        if not keys and self._drawn_keys:
            # The next run of a sweep has no points yet: empty the traces but keep the rows,
            # rather than collapsing and growing back a moment later.
            with figure.batch_update():
                for trace in figure.data:
                    trace.x = []
                    trace.y = []
                figure.layout.title.text = spec["layout"]["title"]["text"]
        elif keys != self._drawn_keys:
            # New metric keys (rare): new traces and rows. Containers of the old layout that
            # the new one lacks are removed explicitly (None): a plain layout assignment
            # only sends the new keys, and the browser would keep drawing the old axes.
            with figure.batch_update():
                figure.data = ()
            figure.add_traces(spec["data"])
            layout = {**spec["layout"], "template": "none"}
            removed = self._drawn_layout - set(layout)
            if removed:  # removed while the Python side still has them (it validates paths)
                figure.plotly_relayout(dict.fromkeys(removed))
            figure.layout = layout
            self._drawn_keys = keys
            self._drawn_layout = set(layout)
        else:
            with figure.batch_update():
                for trace, new in zip(figure.data, spec["data"], strict=True):
                    trace.x = new["x"]
                    trace.y = new["y"]
                    trace.mode = new["mode"]
                figure.layout.title.text = spec["layout"]["title"]["text"]
        self._last_push = now
        self.updates_sent += 1
        return True

    def _push_status(self, now: float, force: bool) -> bool:
        """No chart yet: the first metrics bring the widget; otherwise refresh the line."""
        from IPython.display import update_display

        with self._lock:
            has_points = bool(self.series)
            # dirty without points: the line names another run or status (restart, end)
            stale = self._dirty or now - self._last_push >= STATUS_REFRESH_S
            self._dirty = False
        if has_points:
            self.figure = self._new_figure()
            update_display(self.figure, display_id=self.display_id)
        elif force or stale:
            update_display(self._status_bundle(), raw=True, display_id=self.display_id)
        else:
            return False
        self._last_push = now
        self.updates_sent += 1
        return True

    def static_bundle(self) -> dict[str, Any]:
        with self._lock:
            spec = figure_dict(
                self.name, self.status, self.started, self.ended, self.series, controls="final"
            )
            text = summary_text(
                self.name, self.run_id, self.status, self.started, self.ended, self.series
            )
            run_id, store, started = self.run_id, self.store, self.started
        if spec["data"]:
            if store is not None:
                self._add_time_axes(spec, store, run_id, started)
            return {PLOTLY_MIME: spec, "text/plain": text}
        if self.series:  # metrics logged once each: their values, as the status line shows
            return {**self._status_bundle(), "text/plain": text}
        return {"text/plain": text}  # no metrics: the summary line says it all, no empty chart

    @staticmethod
    def _add_time_axes(spec: dict[str, Any], store: Any, run_id: str, started: float) -> None:
        """x by wall time and by time since the run started, from the stored points."""
        keys = {t["legendgroup"] for t in spec["data"]}
        try:
            times = {}
            for key in keys:
                points = store.metric_history(run_id, key, max_points=TIME_AXIS_POINTS)
                times[key] = (points["step"], points["timestamp"])
        except Exception:  # the time axes are an extra: a store problem must not cost the chart
            traceback.print_exc()
            return
        add_time_axes(spec, times, started * 1000.0)

    def finish(self, status: str, ended: float | None = None) -> None:
        """Show the final state: a static figure (kept in the saved notebook) and a summary.

        ``ended`` is the run's end time (seconds) when known, e.g. read from the store for a
        run of another process; by default, now.
        """
        from IPython.display import display, update_display

        self.stop()
        with self._lock:
            self.status = status
            self.ended = ended if ended is not None else time.time()
        bundle = self.static_bundle()
        if self.widget and self._shown:
            update_display(bundle, raw=True, display_id=self.display_id)
            if self.figure is not None:
                close_replaced_widget(self.figure)
                self.figure = None
        elif _in_ipython():
            display(bundle, raw=True)
        else:  # a plain Python process: the summary is what a terminal can show
            print(bundle["text/plain"])


def close_replaced_widget(widget: Any) -> None:
    """Close the comm of a widget whose output was just replaced by static output.

    Plotly's view answers each update with deltas of its own, so a few may still be on their
    way when the comm closes; the kernel would report each as "No such comm" in JupyterLab's
    Log Console. They concern a view that is gone, so those messages, for the comms closed
    here only, are dropped; any other comm's are still reported. (Closing later instead would
    send the close during another cell's execution.)
    """
    _LATE_DELTAS.comm_ids.append(getattr(widget, "model_id", None))
    if not _LATE_DELTAS.installed:
        logging.getLogger("Comm").addFilter(_LATE_DELTAS)
        _LATE_DELTAS.installed = True
    widget.close()


class _LateDeltasFilter(logging.Filter):
    """Drops "No such comm" for the comms of replaced widgets (see close_replaced_widget)."""

    def __init__(self) -> None:
        super().__init__()
        self.comm_ids: deque[str | None] = deque(maxlen=1000)
        self.installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg != "No such comm: %s" or not isinstance(args, tuple) or not args:
            return True
        return args[0] not in self.comm_ids


_LATE_DELTAS = _LateDeltasFilter()


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    return get_ipython() is not None
