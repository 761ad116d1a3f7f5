"""The chart of a run's metrics, as plain Plotly figure dicts (shared by live and static views).

One trace per metric key. Up to ``MAX_ROWS`` keys get a row (own y axis) each, since metrics
of different scales (loss, accuracy) share no axis well; more keys share one axis and the
legend is the selector (keys beyond the first rows start hidden).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Collection, Mapping
from typing import Any, Literal

import numpy as np

from .controls import add_scale_controls, add_smoothing
from .decimate import SeriesBuffer

MAX_ROWS = 6
ROW_HEIGHT = 170
STATUS_COLORS = {
    "RUNNING": "#1f77b4",
    "FINISHED": "#2ca02c",
    "FAILED": "#d62728",
    "KILLED": "#ff7f0e",
}


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def status_line(
    name: str,
    status: str,
    started: float,
    ended: float | None,
    series: Mapping[str, SeriesBuffer],
    first: Collection[str] = (),
) -> str:
    """``name · status · elapsed · key=latest, ...``: up to 6 keys, those in ``first`` first."""
    elapsed = (ended or time.time()) - started
    keys = sorted(series, key=lambda k: (k not in first, k))[:6]
    latest = ", ".join(f"{k}={format_value(series[k].last)}" for k in keys)
    more = " ..." if len(series) > 6 else ""
    return f"{name} · {status} · {elapsed:.1f}s" + (f" · {latest}{more}" if latest else "")


# The chart is drawn by a renderer that knows nothing of JupyterLab's theme, and is saved in
# the notebook, where a reader may use any theme: a transparent background, and text and grid
# in greys that read on light and dark backgrounds alike, so it sits in either.
INK = "#8a8a8a"
GRID = "rgba(138, 138, 138, 0.25)"
AXIS_LINE = "rgba(138, 138, 138, 0.6)"
TRANSPARENT = "rgba(0, 0, 0, 0)"


def axis_style(**extra: Any) -> dict[str, Any]:
    return {"gridcolor": GRID, "zerolinecolor": AXIS_LINE, "linecolor": AXIS_LINE, **extra}


def layout(keys: list[str], title_html: str) -> dict[str, Any]:
    rows = len(keys) if 0 < len(keys) <= MAX_ROWS else 1
    gap = 0.06 if rows > 1 else 0.0
    height = 120 + ROW_HEIGHT * rows
    out: dict[str, Any] = {
        "title": {"text": title_html, "x": 0.01, "font": {"size": 13}},
        "height": height,
        # The width of the output area, as the static figure takes it (a widget would be 700 px).
        "autosize": True,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "showlegend": rows == 1 and len(keys) > 1,
        "hovermode": "x unified",
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": TRANSPARENT,
        "font": {"color": INK},
        # The unified hover box takes the paper's colour by default: transparent, unreadable.
        "hoverlabel": {"bgcolor": "#4d4d4d", "bordercolor": INK, "font": {"color": "#ffffff"}},
        "xaxis": axis_style(title={"text": "step"}),
    }
    if not keys:  # no chart is drawn without metrics (a status line stands in for it)
        return out
    if rows > 1:
        # The x axis (ticks and title) under the lowest row, not between the first two.
        out["xaxis"]["anchor"] = f"y{rows}"
        # One hover lists the values of every row at that step, not only the hovered row's.
        out["hoversubplots"] = "axis"
        span = (1.0 - gap * (rows - 1)) / rows
        for i, key in enumerate(keys):
            top = 1.0 - i * (span + gap)
            axis = "yaxis" if i == 0 else f"yaxis{i + 1}"
            out[axis] = axis_style(
                domain=[max(top - span, 0.0), top], title={"text": key}, anchor="x"
            )
    elif keys:
        out["yaxis"] = axis_style(title={"text": keys[0] if len(keys) == 1 else "value"})
    return out


def traces(series: Mapping[str, SeriesBuffer], arrays: bool = False) -> list[dict[str, Any]]:
    """Trace dicts; ``arrays`` keeps numpy arrays (fast for FigureWidget: plotly validates them
    without a per-element walk and sends them as binary buffers) instead of JSON lists."""
    keys = sorted(series)
    rows = len(keys) <= MAX_ROWS
    out = []
    for i, key in enumerate(keys):
        x, y = series[key].points()
        out.append(
            {
                "type": "scattergl" if len(x) > 5000 else "scatter",
                "mode": "lines+markers" if len(x) < 50 else "lines",
                "name": key,
                "x": x.astype(np.int64) if arrays else _json_list(x, integral=True),
                "y": y.copy() if arrays else _json_list(y),
                "yaxis": ("y" if i == 0 else f"y{i + 1}") if rows else "y",
                "visible": True if rows or i < MAX_ROWS else "legendonly",
                "hovertemplate": f"{key}=%{{y:.4g}}<extra></extra>",
                "legendgroup": key,  # the metric (its smoothed twin joins the group)
            }
        )
    return out


def _json_list(values: np.ndarray, integral: bool = False) -> list[Any]:
    if integral:
        return [int(v) for v in values]
    # JSON has no NaN: a gap in the line is the honest picture of a NaN value.
    return [None if not math.isfinite(v) else float(v) for v in values.tolist()]


def figure_dict(
    name: str,
    status: str,
    started: float,
    ended: float | None,
    series: Mapping[str, SeriesBuffer],
    arrays: bool = False,
    controls: Literal["live", "final"] | None = None,
) -> dict[str, Any]:
    """The run's chart; ``controls``: the live chart's scale buttons, or the final figure's
    (with outlier clipping and a smoothing slider)."""
    # A metric logged once is a value, not one dot on a chart row: the final figure names
    # it in its title line instead (while the run goes on, a first point may have company).
    single = {k for k, b in series.items() if b.total == 1} if controls == "final" else set()
    drawn = {k: b for k, b in series.items() if k not in single}
    color = STATUS_COLORS.get(status, "#333")
    title = f"<span style='color:{color}'>●</span> " + status_line(
        name, status, started, ended, series, first=single
    )
    spec = {"data": traces(drawn, arrays), "layout": layout(sorted(drawn), title)}
    if controls is not None and spec["data"]:
        add_scale_controls(spec, clip=controls == "final")
        if controls == "final":
            add_smoothing(spec)
    return spec


def status_bundle(
    name: str,
    status: str,
    started: float,
    ended: float | None,
    series: Mapping[str, SeriesBuffer],
) -> dict[str, str]:
    """The one-line view of a run with no metrics yet (no chart, no widget)."""
    color = STATUS_COLORS.get(status, "#333")
    line = status_line(name, status, started, ended, series)
    waiting = " · waiting for metrics…" if status == "RUNNING" and not series else ""
    return {
        "text/html": f"<div class='jupyter-mlops-status'><span style='color:{color}'>●</span> "
        f"{html.escape(line)}<span style='color:#888'>{waiting}</span></div>",
        "text/plain": line + waiting,
    }


def summary_text(
    name: str,
    run_id: str,
    status: str,
    started: float,
    ended: float | None,
    series: Mapping[str, SeriesBuffer],
) -> str:
    lines = [f"Run {name} ({run_id}): {status} in {((ended or time.time()) - started):.2f}s"]
    for key in sorted(series):
        buffer = series[key]
        lines.append(f"  {key} = {format_value(buffer.last)}  ({buffer.total} points)")
    if not series:
        lines.append("  no metrics logged")
    return "\n".join(lines)
