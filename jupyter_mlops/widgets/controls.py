"""Chart controls under the cell, as Plotly layout: they work in the browser with no kernel.

The charts under a cell are drawn by Plotly's own renderers (the widget while the cell runs,
the MIME renderer once it ended and in the saved notebook), so their controls are what Plotly
can do client-side: buttons for the y scale (linear, log, linear with outliers clipped) and,
on the final figure, a smoothing slider whose steps are precomputed frames. Drag to zoom and
double-click to reset are Plotly's own. The smoothing and the outlier rule are the sidebar's
(TensorBoard's debiased moving average; Tukey's fences), so a curve reads the same in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SMOOTHING_LEVELS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
# Values the smoothed frames of one figure may carry (all levels, all curves): a saved
# notebook stays small. Each smoothed curve is drawn from at most this share of points.
SMOOTHED_VALUES_BUDGET = 15_000
MIN_SMOOTHED_POINTS = 200
RAW_WHEN_SMOOTHED = 0.3  # opacity of the raw curve under its smoothed one
SMOOTHED = "smoothed"  # the ``meta`` of a smoothed twin: readers of a figure tell it apart
BUTTON_STYLE = {
    "bgcolor": "rgba(138, 138, 138, 0.15)",
    "bordercolor": "rgba(138, 138, 138, 0.5)",
    "font": {"size": 11, "color": "#8a8a8a"},
}


def ema_smooth(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start; a
    non-finite value stays a gap and does not enter the average."""
    if not weight > 0:
        return y.astype(np.float64, copy=True)
    w = min(weight, 0.999)
    out = np.full(len(y), np.nan)
    last, power = 0.0, 1.0
    for i, value in enumerate(y.tolist()):
        if not math.isfinite(value):
            continue
        last = last * w + (1 - w) * value
        power *= w
        out[i] = last / (1 - power)
    return out


def clipped_extent(values: np.ndarray) -> tuple[float, float] | None:
    """The range without outliers: Tukey's fences (1.5 interquartile ranges beyond the
    quartiles), kept within the data; few values or no spread: the data's extent."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    low, high = float(finite.min()), float(finite.max())
    if len(finite) < 10:
        return low, high
    q1, q3 = np.quantile(finite, [0.25, 0.75])
    iqr = float(q3 - q1)
    if not iqr > 0:
        return low, high
    return max(low, float(q1) - 1.5 * iqr), min(high, float(q3) + 1.5 * iqr)


def _padded(extent: tuple[float, float]) -> list[float]:
    low, high = extent
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return [low - pad, high + pad]


def scale_buttons(axes: Sequence[str], values: Sequence[np.ndarray] | None) -> dict[str, Any]:
    """An updatemenu of y-scale buttons for ``axes`` (layout names: yaxis, yaxis2, ...).

    ``values``: each axis's values, for the "clip outliers" button; None leaves it out (the
    live chart, whose data moves on after the buttons were made)."""

    def every(**attrs: Any) -> dict[str, Any]:
        return {f"{axis}.{k}": v for axis in axes for k, v in attrs.items()}

    buttons = [
        {"label": "linear", "method": "relayout", "args": [every(type="linear", autorange=True)]},
        {"label": "log", "method": "relayout", "args": [every(type="log", autorange=True)]},
    ]
    if values is not None:
        clipped: dict[str, Any] = {}
        for axis, axis_values in zip(axes, values, strict=True):
            extent = clipped_extent(axis_values)
            clipped[f"{axis}.type"] = "linear"
            if extent is None:
                clipped[f"{axis}.autorange"] = True
            else:
                clipped[f"{axis}.range"] = _padded(extent)
        buttons.append({"label": "clip outliers", "method": "relayout", "args": [clipped]})
    return button_row(buttons, above=True)


def button_row(buttons: list[dict[str, Any]], above: bool) -> dict[str, Any]:
    """An updatemenu of ``buttons`` in a row at the right, above the plot or below its axis;
    the first is active."""
    return {
        "type": "buttons",
        "direction": "right",
        "active": 0,
        "showactive": True,
        "buttons": buttons,
        "x": 1.0,
        "xanchor": "right",
        "y": 1.0 if above else 0.0,
        "yanchor": "bottom" if above else "top",
        "pad": {"b": 4} if above else {"t": 45},
        **BUTTON_STYLE,
    }


def add_scale_controls(spec: dict[str, Any], clip: bool) -> None:
    """Scale buttons for every y axis of a figure dict (in place); with ``clip``, the clip
    button, from the y values drawn on each axis."""
    layout = spec["layout"]
    axes = sorted((k for k in layout if k.startswith("yaxis")), key=_axis_number)
    if not axes:
        return
    values = None
    if clip:
        by_axis: dict[str, list[np.ndarray]] = {axis: [] for axis in axes}
        for trace in spec["data"]:
            axis = "yaxis" + str(trace.get("yaxis", "y"))[1:]
            if axis in by_axis and trace.get("visible", True) is True:
                by_axis[axis].append(np.asarray(trace["y"], dtype=np.float64))
        values = [np.concatenate(v) if v else np.empty(0) for v in by_axis.values()]
    layout["updatemenus"] = [scale_buttons(axes, values)]
    layout["margin"]["t"] = max(layout["margin"].get("t", 0), 60)


def _axis_number(axis: str) -> int:
    return int(axis[5:] or 1)


def add_smoothing(spec: dict[str, Any]) -> None:
    """A smoothing slider for a final figure (in place): a smoothed twin of each visible
    curve, one frame per level (Plotly's MIME renderer plays frames; widgets have none).

    Level 0 shows the raw curves; above it the raw curve stays faint under its smoothed one.
    """
    raw = [i for i, t in enumerate(spec["data"]) if t.get("visible", True) is True]
    curves = [(i, spec["data"][i]) for i in raw if len(spec["data"][i]["y"]) > 2]
    if not curves:
        return
    levels = SMOOTHING_LEVELS[1:]
    per_curve = SMOOTHED_VALUES_BUDGET // (len(levels) * len(curves))
    points = max(MIN_SMOOTHED_POINTS, per_curve)
    palette = spec["layout"].setdefault("colorway", COLORWAY)
    twins: list[int] = []
    smoothed: list[list[list[float | None]]] = []
    for index, trace in curves:
        color = palette[index % len(palette)]
        trace.setdefault("line", {})["color"] = color
        trace.setdefault("marker", {})["color"] = color
        x = np.asarray(trace["x"], dtype=np.float64)
        y = np.asarray([np.nan if v is None else v for v in trace["y"]], dtype=np.float64)
        # Smoothed over every drawn point, then thinned: the average sees the whole curve.
        keep = np.unique(np.linspace(0, len(x) - 1, min(points, len(x))).astype(np.int64))
        curves_y = [_json_floats(ema_smooth(y, level)[keep]) for level in levels]
        smoothed.append(curves_y)
        twins.append(len(spec["data"]))
        spec["data"].append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{trace['name']} (smoothed)",
                "meta": SMOOTHED,
                "legendgroup": trace.get("legendgroup", trace["name"]),
                "x": _json_x(x[keep]),  # fixed: the frames change only y
                "y": [],
                "yaxis": trace.get("yaxis", "y"),
                "visible": False,
                "showlegend": False,
                "line": {"color": color, "width": 2},
                "hovertemplate": f"{trace['name']} smoothed=%{{y:.4g}}<extra></extra>",
            }
        )
    indices = [i for i, _ in curves] + twins
    frames = []
    for level_index, level in enumerate(SMOOTHING_LEVELS):
        faint = 1.0 if level == 0 else RAW_WHEN_SMOOTHED
        data: list[dict[str, Any]] = [{"opacity": faint} for _ in curves]
        for curves_y in smoothed:
            if level == 0:
                data.append({"visible": False})
            else:
                data.append({"visible": True, "y": curves_y[level_index - 1]})
        frames.append({"name": f"smoothing {level}", "data": data, "traces": indices})
    spec["frames"] = frames
    spec["layout"]["sliders"] = [
        {
            "active": 0,
            "currentvalue": {"prefix": "smoothing ", "font": {"size": 11}},
            "steps": [
                {
                    "label": str(level),
                    "method": "animate",
                    "args": [
                        [f"smoothing {level}"],
                        {
                            "mode": "immediate",
                            "frame": {"duration": 0, "redraw": True},
                            "transition": {"duration": 0},
                        },
                    ],
                }
                for level in SMOOTHING_LEVELS
            ],
            "x": 0.0,
            "len": 0.45,
            "y": 0.0,
            "yanchor": "top",
            "pad": {"t": 45},
            "font": {"size": 10},
            "bgcolor": "rgba(138, 138, 138, 0.3)",
            "bordercolor": "rgba(138, 138, 138, 0.5)",
            "activebgcolor": "#8a8a8a",
        }
    ]
    spec["layout"]["margin"]["b"] = max(spec["layout"]["margin"].get("b", 0), 110)
    spec["layout"]["height"] += 70


# Plotly's default colours, made explicit: a smoothed twin takes its raw curve's colour.
COLORWAY = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in values.tolist()]


def _json_x(values: np.ndarray) -> list[Any]:
    return [int(v) if float(v).is_integer() else float(v) for v in values.tolist()]


def add_time_axes(
    spec: dict[str, Any],
    times: dict[str, tuple[np.ndarray, np.ndarray]],
    started_ms: float,
) -> None:
    """Buttons for the x axis of a final run figure (in place): by step, by wall time, or by
    time since the run started.

    ``times``: per metric (a trace's ``legendgroup``), stored steps and their logging times
    (ms). A drawn point gets its step's time; between stored points (a long run is read
    downsampled), the time is interpolated from its neighbours' steps.
    """
    if not times:
        return
    wall: list[list[float]] = []
    for trace in spec["data"]:
        steps, stamps = times.get(trace.get("legendgroup", ""), (np.empty(0), np.empty(0)))
        x = np.asarray(trace["x"], dtype=np.float64)
        if not len(steps) or not len(x):
            return  # a curve with no stored times: no time axes rather than a wrong one
        order = np.argsort(steps, kind="stable")
        wall.append(np.interp(x, steps[order], stamps[order]).round().tolist())
    relative = [[round((t - started_ms) / 1000.0, 3) for t in xs] for xs in wall]
    steps_x = [trace["x"] for trace in spec["data"]]
    layout = spec["layout"]
    title = layout["xaxis"].get("title", {}).get("text", "step")

    def button(label: str, x: list[Any], axis_type: str, axis_title: str) -> dict[str, Any]:
        return {
            "label": label,
            "method": "update",
            "args": [
                {"x": x},
                {"xaxis.type": axis_type, "xaxis.autorange": True, "xaxis.title.text": axis_title},
            ],
        }

    buttons = [
        button("step", steps_x, "linear", title),
        button("wall time", wall, "date", "wall time (UTC)"),
        button("relative", relative, "linear", "seconds since the run started"),
    ]
    layout.setdefault("updatemenus", []).append(button_row(buttons, above=False))
    if layout["margin"].get("b", 0) < 110:  # room under the axis (the slider's, or its own)
        layout["margin"]["b"] = 110
        layout["height"] += 70
