"""One live view per cell execution for runs started with the Python API.

A cell may start any number of top-level runs (``for lr in grid: with mlops.start_run():``).
They share one view instead of showing one chart each:

- one chart, which follows the newest run of the cell (the same FigureWidget, restarted: each
  new widget would send plotly.js, ~5 MB, to the browser);
- from the second run on, a table of the cell's runs (status, varying params, latest metric
  values), refreshed by the chart's timer thread at most once a second;
- when the cell has ended and its runs have ended: one run alone keeps its own final figure
  and summary; several runs become one figure (latest value of each metric per run) and
  one bounded table. Headless, only that final output is written.

Nothing here is sent from the cell's thread while runs start and end, except the table's
first display when the cell's second run starts; everything else goes through the timer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .live import PLOTLY_MIME, LiveView, close_replaced_widget
from .sweep import RunSummary, headline, sweep_figure, table_bundle

# How often the live table may change (it is a whole HTML table; the chart ticks faster).
TABLE_REFRESH_S = 1.0


class CellRuns:
    """The top-level runs of one cell execution and their single view."""

    def __init__(
        self, widget: bool, route: Callable[..., None], unroute: Callable[[str], None]
    ) -> None:
        self.widget = widget
        self.runs: list[RunSummary] = []
        self.view: LiveView | None = None  # the chart, following the newest run
        self.cell_done = False
        self.finalized = False
        # route(run_id, target[, chart]): where the writer delivers a run's points from now on
        # (the chart or the run's summary); with ``chart``, the summary first takes the chart's
        # latest values, in the same step, so no batch of points falls between the two.
        self._route = route
        self._unroute = unroute
        self._writers: dict[int, Any] = {}
        self._running: set[str] = set()
        self._lock = threading.RLock()
        key = uuid.uuid4().hex
        self.chart_id = f"jupyter-mlops-cell-{key}"
        self.table_id = f"jupyter-mlops-cell-table-{key}"
        self._table_shown = False
        self._table_version = 0  # bumps on every change of runs or statuses
        self._table_sent = -1
        self._table_sent_at = 0.0

    # -- runs in --------------------------------------------------------------------------
    def add(self, run: Any) -> None:
        """A top-level run started in this cell: the chart follows it from now on."""
        started = run.start_time / 1000.0
        summary = RunSummary(run.run_id, run.name, started, params=dict(run.params))
        with self._lock:
            self.runs.append(summary)
            self._running.add(run.run_id)
            self._writers[id(run.store.writer)] = run.store.writer
            self._table_version += 1
            label = run.name if len(self.runs) == 1 else f"{run.name} (run {len(self.runs)})"
            view = self.view
            if view is None:
                view = self.view = LiveView(
                    run.run_id,
                    label,
                    widget=self.widget,
                    started=started,
                    display_id=self.chart_id,
                    store=run.store,
                )
                self._route(run.run_id, view)
                view.on_tick = self._tick
                view.show()
            else:
                previous = self.runs[-2]
                # The previous run leaves the chart: its latest values move to its summary,
                # which takes its late points from now on (swapped atomically in _route).
                self._route(previous.run_id, previous, view)
                view.restart(run.run_id, label, started, run.store)
                self._route(run.run_id, view)
            show_table = self.widget and not self._table_shown
            self._table_shown = self._table_shown or (self.widget and len(self.runs) > 1)
        if show_table and len(self.runs) > 1:
            from IPython.display import display

            # The cell became a sweep: a table under the chart, updated by the timer thread.
            display(table_bundle(self.runs, live=True), raw=True, display_id=self.table_id)
            self._table_sent = self._table_version
        run.listeners.append(self._run_ended)

    def _run_ended(self, run: Any) -> None:
        ended = time.time()
        with self._lock:
            summary = next(s for s in reversed(self.runs) if s.run_id == run.run_id)
            summary.status = run.status
            summary.ended = ended
            summary.params = dict(run.params)  # params logged during the run count too
            self._running.discard(run.run_id)
            self._table_version += 1
            view = self.view
            if view is not None and view.run_id == run.run_id:
                view.set_status(run.status, ended)
            ready = self.cell_done and not self._running
        if ready:
            self.finalize()

    def end_of_cell(self) -> None:
        """The cell finished executing; the view becomes final once its runs have ended."""
        with self._lock:
            self.cell_done = True
            ready = not self._running
        if ready:
            self.finalize()

    # -- live table -----------------------------------------------------------------------
    def _tick(self) -> None:
        """Timer thread: refresh the table when it changed, at most once a TABLE_REFRESH_S."""
        from IPython.display import update_display

        now = time.monotonic()
        with self._lock:
            # Runs' latest values change without any run starting or ending (points are
            # committed after their run left the chart): refresh while any may still come.
            changed = self._table_sent != self._table_version or self._running
            if (
                not self._table_shown
                or self.finalized
                or not changed
                or now - self._table_sent_at < TABLE_REFRESH_S
            ):
                return
            self._sync_current()
            bundle = table_bundle(self.runs, live=True)
            self._table_sent, self._table_sent_at = self._table_version, now
        update_display(bundle, raw=True, display_id=self.table_id)

    def _sync_current(self) -> None:
        """Copy the chart's latest values into the current run's summary."""
        view = self.view
        if view is None or not self.runs or self.runs[-1].run_id != view.run_id:
            return
        self.runs[-1].take(view.latest())

    # -- final output ---------------------------------------------------------------------
    def finalize(self) -> None:
        """Replace the live view by the static one (kept in the saved notebook)."""
        from IPython.display import display, update_display

        with self._lock:
            if self.finalized:
                return
            self.finalized = True
        for writer in self._writers.values():
            writer.flush()  # every point of every run has reached the chart or its summary
        view = self.view
        if view is not None:
            view.stop()
        with self._lock:
            self._sync_current()
            for summary in self.runs:
                self._unroute(summary.run_id)
            bundles = self._final_bundles(view)
        if self.widget and view is not None:
            chart, table = bundles
            update_display(chart, raw=True, display_id=self.chart_id)
            if self._table_shown:
                update_display(table, raw=True, display_id=self.table_id)
            elif table:
                display(table, raw=True)
            if view.figure is not None:
                close_replaced_widget(view.figure)
                view.figure = None
            return
        for bundle in bundles:
            if bundle:
                display(bundle, raw=True)

    def _final_bundles(self, view: LiveView | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(chart, table) bundles; an empty dict when there is nothing to show there."""
        if len(self.runs) == 1 and view is not None:
            bundle = view.static_bundle()
            # Headless, a run without metrics outputs nothing (as before sweeps were
            # grouped); in a widget front end its status line becomes its summary line.
            if not self.widget and not view.series:
                return {}, {}
            return bundle, {}
        spec = sweep_figure(self.runs)
        text = headline(self.runs)
        if spec is None:  # no metrics in any run: the table says it all, no empty chart
            chart: dict[str, Any] = {"text/plain": text} if self.widget else {}
        else:
            chart = {PLOTLY_MIME: spec, "text/plain": text}
        return chart, table_bundle(self.runs)
