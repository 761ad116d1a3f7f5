"""What a cell that starts many runs shows: one figure and one table, however many runs.

A hyper-parameter sweep (``for lr in grid: with mlops.start_run(...)``) must not print one
chart per run. The runs of one cell execution are summarized instead: a figure of each run's
latest metric values against the run's number in the cell (hover names the run and its
params), and a table with bounded rows (the first and the newest runs). Both stay small for
10,000 runs, so papermill/nbclient outputs and saved notebooks stay small too.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .controls import add_scale_controls
from .figure import MAX_ROWS, STATUS_COLORS, format_value, layout

# Table rows kept in a finished cell's output: the first HEAD and the last TAIL runs.
HEAD_ROWS = 10
TAIL_ROWS = 10
# While the sweep runs, the table shows the newest runs only.
LIVE_ROWS = 8
MAX_FAILED_ROWS = 10
BAD = ("FAILED", "KILLED")
MAX_PARAM_COLUMNS = 4
MAX_METRIC_COLUMNS = 6
# Past this many runs the figure drops its per-point hover labels (run name and params),
# which would otherwise dominate the output's size.
MAX_LABELLED_RUNS = 2000


@dataclass
class RunSummary:
    """One run of a cell as the sweep view shows it: status, params and latest values.

    It also takes the run's points that the writer commits after the chart moved on to the
    next run (``feed_columns``), so the latest values stay right without keeping the points.
    """

    run_id: str
    name: str
    started: float
    params: dict[str, str] = field(default_factory=dict)
    status: str = "RUNNING"
    ended: float | None = None
    last: dict[str, float] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)

    def feed_columns(self, key: str, steps: Sequence[float], values: Sequence[float]) -> None:
        if len(values):
            self.last[key] = float(values[-1])
            self.points[key] = self.points.get(key, 0) + len(values)

    def take(self, latest: dict[str, tuple[float | None, int]]) -> None:
        """Latest values and point counts from the chart that followed this run."""
        for key, (last, total) in latest.items():
            if last is not None:
                self.last[key] = last
            self.points[key] = total

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


def _metric_keys(runs: list[RunSummary]) -> list[str]:
    keys: set[str] = set()
    for run in runs:
        keys.update(run.last)
    return sorted(keys)


def _param_columns(runs: list[RunSummary]) -> list[str]:
    """Params worth a column: those that differ between runs first (what the sweep varies)."""
    keys = sorted({k for run in runs for k in run.params})
    varying = [k for k in keys if len({run.params.get(k) for run in runs}) > 1]
    constant = [k for k in keys if k not in varying]
    return (varying + constant)[:MAX_PARAM_COLUMNS]


def _params_text(run: RunSummary, limit: int = 60) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(run.params.items()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_counts(runs: list[RunSummary]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    order = ["RUNNING", "FINISHED", "FAILED", "KILLED"]
    return ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))


def headline(runs: list[RunSummary]) -> str:
    noun = "run" if len(runs) == 1 else "runs"
    return f"{len(runs)} {noun} in this cell: {status_counts(runs)}"


def sweep_figure(runs: list[RunSummary]) -> dict[str, Any] | None:
    """Latest value of each metric per run, x = the run's number in the cell; None without
    metrics (no empty chart)."""
    keys = _metric_keys(runs)
    if not keys:
        return None
    x = list(range(1, len(runs) + 1))
    labelled = len(runs) <= MAX_LABELLED_RUNS
    labels = [f"{run.name} · {_params_text(run)}".rstrip(" ·") for run in runs]
    rows = len(keys) <= MAX_ROWS
    data = []
    for i, key in enumerate(keys):
        y = [_json_value(run.last.get(key)) for run in runs]
        trace: dict[str, Any] = {
            "type": "scattergl" if len(runs) > 5000 else "scatter",
            "mode": "lines+markers" if len(runs) <= 200 else "markers",
            "name": key,
            "x": x,
            "y": y,
            "yaxis": ("y" if i == 0 else f"y{i + 1}") if rows else "y",
            "visible": True if rows or i < MAX_ROWS else "legendonly",
            "hovertemplate": f"{key}=%{{y:.4g}}<extra></extra>",
        }
        # Unified hover lists every trace at one x: the run's name and params once is enough.
        if i == 0 and labelled:
            trace["text"] = labels
            trace["hovertemplate"] = f"%{{text}}<br>{key}=%{{y:.4g}}<extra></extra>"
        data.append(trace)
    title = f"<b>{html.escape(headline(runs))}</b> · latest value of each metric per run"
    spec_layout = layout(keys, title)
    spec_layout["xaxis"]["title"] = {"text": "run # in this cell"}
    for run_index, run in enumerate(runs, start=1):  # failed runs stand out on the x axis
        if run.status in BAD and run_index <= MAX_LABELLED_RUNS:
            spec_layout.setdefault("shapes", []).append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": run_index,
                    "x1": run_index,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": STATUS_COLORS[run.status], "width": 1, "dash": "dot"},
                }
            )
    spec = {"data": data, "layout": spec_layout}
    add_scale_controls(spec, clip=True)
    return spec


def _json_value(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _rows(runs: list[RunSummary], live: bool) -> list[tuple[int, RunSummary] | None]:
    """Numbered runs to show, in order; None marks a gap of runs left out.

    Finished: the first HEAD_ROWS and last TAIL_ROWS runs, plus up to MAX_FAILED_ROWS failed
    or killed runs between them (a failure is what a sweep's reader looks for). Live: the
    newest LIVE_ROWS runs, plus the failures so far.
    """
    count = len(runs)
    if live:
        keep = set(range(max(count - LIVE_ROWS, 0), count))
    else:
        keep = set(range(min(HEAD_ROWS, count))) | set(range(max(count - TAIL_ROWS, 0), count))
    failed = [i for i, run in enumerate(runs) if i not in keep and run.status in BAD]
    keep.update(failed[:MAX_FAILED_ROWS])
    out: list[tuple[int, RunSummary] | None] = []
    previous = -1
    for i in sorted(keep):
        if i != previous + 1:
            out.append(None)
        out.append((i + 1, runs[i]))
        previous = i
    return out


def _duration(run: RunSummary) -> str:
    seconds = run.seconds
    return "-" if seconds is None else f"{seconds:.2f}s"


def table_text(runs: list[RunSummary], live: bool = False) -> str:
    params = _param_columns(runs)
    metrics = _metric_keys(runs)[:MAX_METRIC_COLUMNS]
    header = ["#", "run", "status", "time", *params, *metrics]
    body: list[list[str]] = []
    for row in _rows(runs, live):
        if row is None:
            body.append(["…"] + [""] * (len(header) - 1))
            continue
        number, run = row
        body.append(
            [
                str(number),
                run.name,
                run.status,
                _duration(run),
                *(run.params.get(k, "-") for k in params),
                *(format_value(run.last.get(k)) for k in metrics),
            ]
        )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [headline(runs)]
    lines += [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]
    lines.append(_footer(runs, live))
    return "\n".join(lines)


def _footer(runs: list[RunSummary], live: bool) -> str:
    shown = sum(1 for row in _rows(runs, live) if row is not None)
    more = f"{len(runs) - shown} more runs not shown; " if len(runs) > shown else ""
    return f"  ({more}mlops.runs() lists every run, mlops.live(run_id) shows one run's chart)"


def table_html(runs: list[RunSummary], live: bool = False) -> str:
    params = _param_columns(runs)
    metrics = _metric_keys(runs)[:MAX_METRIC_COLUMNS]
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in ["#", "run", "status", "time", *params, *metrics])
    body = []
    for row in _rows(runs, live):
        if row is None:
            body.append(f"<tr><td colspan='{4 + len(params) + len(metrics)}'>…</td></tr>")
            continue
        number, run = row
        color = STATUS_COLORS.get(run.status, "#333")
        cells = [
            str(number),
            esc(run.name),
            f"<span style='color:{color}'>●</span> {esc(run.status)}",
            _duration(run),
            *(esc(run.params.get(k, "-")) for k in params),
            *(format_value(run.last.get(k)) for k in metrics),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        f"<div class='jupyter-mlops-sweep'><b>{esc(headline(runs))}</b>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<small>{esc(_footer(runs, live).strip())}</small></div>"
    )


def table_bundle(runs: list[RunSummary], live: bool = False) -> dict[str, str]:
    return {"text/html": table_html(runs, live), "text/plain": table_text(runs, live)}
