"""The chart controls under the cell (widgets/controls.py): scale buttons, outlier clipping
and the smoothing slider, as the Plotly layout that both renderers play client-side."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jupyter_mlops.widgets.controls import (
    RAW_WHEN_SMOOTHED,
    SMOOTHED_VALUES_BUDGET,
    SMOOTHING_LEVELS,
    add_time_axes,
    clipped_extent,
    ema_smooth,
)
from jupyter_mlops.widgets.decimate import SeriesBuffer
from jupyter_mlops.widgets.figure import figure_dict
from jupyter_mlops.widgets.live import PLOTLY_MIME
from jupyter_mlops.widgets.sweep import RunSummary, sweep_figure


def series(**curves: list[float]) -> dict[str, SeriesBuffer]:
    out = {}
    for key, values in curves.items():
        buffer = SeriesBuffer()
        buffer.extend(list(range(len(values))), values)
        out[key] = buffer
    return out


def test_smoothing_is_tensorboards_debiased_moving_average_with_gaps_kept() -> None:
    # by hand: 0.5, then 0.5*0.5 + 0.5*2 = 1.25, then 0.625 + 1.5 = 2.125; debiased by
    # 1 - 0.5, 1 - 0.25, 1 - 0.125
    smoothed = ema_smooth(np.array([1.0, 2.0, math.nan, 3.0]), 0.5)
    assert smoothed[0] == pytest.approx(1.0)
    assert smoothed[1] == pytest.approx(1.25 / 0.75)
    assert math.isnan(smoothed[2])  # a NaN stays a gap and does not enter the average
    assert smoothed[3] == pytest.approx(2.125 / 0.875)
    assert list(ema_smooth(np.array([1.0, 5.0]), 0.0)) == [1.0, 5.0]


def test_clipping_drops_a_diverged_tail_but_keeps_ordinary_data() -> None:
    curve = np.concatenate([np.linspace(1.0, 0.1, 90), np.full(10, 1e6), [np.inf, np.nan]])
    low, high = clipped_extent(curve)
    assert low == pytest.approx(0.1) and high < 2
    assert clipped_extent(np.array([3.0, 1.0, 2.0])) == (1.0, 3.0)  # few values: the extent
    assert clipped_extent(np.array([np.nan])) is None


def test_the_final_chart_has_scale_buttons_clipping_and_a_smoothing_slider() -> None:
    loss = [1 / (i + 1) for i in range(300)]
    loss[150] = 1e9  # one diverged point
    spec = figure_dict(
        "fit", "FINISHED", 0.0, 1.0, series(loss=loss, acc=[0.5] * 300), controls="final"
    )
    (menu,) = spec["layout"]["updatemenus"]
    labels = [button["label"] for button in menu["buttons"]]
    assert labels == ["linear", "log", "clip outliers"]
    log = menu["buttons"][1]["args"][0]
    assert log == {
        "yaxis.type": "log",
        "yaxis.autorange": True,
        "yaxis2.type": "log",
        "yaxis2.autorange": True,
    }
    clip = menu["buttons"][2]["args"][0]
    low, high = clip["yaxis2.range"]  # keys sorted: acc on yaxis, loss on yaxis2
    assert high < 10 and low < 0.01  # the spike is out, the curve is in

    # a smoothed twin per curve, hidden at level 0; one frame per level
    raw, twins = spec["data"][:2], spec["data"][2:]
    assert [t["name"] for t in twins] == ["acc (smoothed)", "loss (smoothed)"]
    assert [t["meta"] for t in twins] == ["smoothed", "smoothed"]
    assert all(t["visible"] is False for t in twins)
    assert [t["line"]["color"] for t in twins] == [t["line"]["color"] for t in raw]
    assert [f["name"] for f in spec["frames"]] == [f"smoothing {w}" for w in SMOOTHING_LEVELS]
    still, strong = spec["frames"][0], spec["frames"][-1]
    assert still["data"][:2] == [{"opacity": 1.0}, {"opacity": 1.0}]
    assert strong["data"][:2] == [{"opacity": RAW_WHEN_SMOOTHED}] * 2
    smoothed_loss = strong["data"][3]["y"]
    assert strong["data"][3]["visible"] is True
    assert len(smoothed_loss) == len(twins[1]["x"])
    # smoothed from every point: its last value is the average's, not the raw value
    expected = ema_smooth(np.array(loss), SMOOTHING_LEVELS[-1])[-1]
    assert smoothed_loss[-1] == pytest.approx(expected, rel=1e-5)
    steps = spec["layout"]["sliders"][0]["steps"]
    assert [s["args"][0] for s in steps] == [[f["name"]] for f in spec["frames"]]
    json.dumps(spec, allow_nan=False)  # what the MIME bundle carries is strict JSON


def test_smoothed_frames_stay_within_their_budget() -> None:
    keys = {f"m{i}": list(np.random.default_rng(i).random(2000)) for i in range(6)}
    spec = figure_dict("big", "FINISHED", 0.0, 1.0, series(**keys), controls="final")
    carried = sum(len(d.get("y", [])) for f in spec["frames"] for d in f["data"])
    assert carried <= SMOOTHED_VALUES_BUDGET


def test_the_live_chart_has_scale_buttons_only() -> None:
    spec = figure_dict("fit", "RUNNING", 0.0, None, series(loss=[1.0, 0.5, 0.2]), controls="live")
    (menu,) = spec["layout"]["updatemenus"]
    assert [b["label"] for b in menu["buttons"]] == ["linear", "log"]  # its data moves on
    assert "frames" not in spec and "sliders" not in spec["layout"]
    # no controls asked, none given; no metrics, no controls
    assert "updatemenus" not in figure_dict("x", "RUNNING", 0.0, None, series(a=[1.0]))["layout"]
    empty = figure_dict("x", "RUNNING", 0.0, None, {}, controls="final")
    assert "updatemenus" not in empty["layout"]


def test_the_sweep_chart_clips_a_diverged_run() -> None:
    runs = []
    for i in range(20):
        last = {"loss": 1e12 if i == 7 else 1.0 - i / 40}
        runs.append(RunSummary(f"r{i}", f"run {i}", 0.0, {"lr": str(i)}, "FINISHED", 1.0, last))
    spec = sweep_figure(runs)
    assert spec is not None
    clip = spec["layout"]["updatemenus"][0]["buttons"][2]["args"][0]
    assert clip["yaxis.range"][1] < 2


def test_the_final_figure_offers_x_by_step_wall_time_and_relative_time(tmp_store: str) -> None:
    import jupyter_mlops as mlops
    from jupyter_mlops.widgets.live import LiveView

    with mlops.start_run("timed", capture=False) as run:
        for step in range(30):
            mlops.log_metric("loss", 1 / (step + 1), step=step)
    mlops.flush()
    stored = mlops.get_run(run.run_id).history("loss")
    view = LiveView(
        run.run_id, "timed", widget=False, started=run.start_time / 1000, store=run.store
    )
    view.feed([("loss", step, 1 / (step + 1)) for step in range(30)])
    view.status = "FINISHED"
    spec = view.static_bundle()[PLOTLY_MIME]
    (axis_menu,) = [m for m in spec["layout"]["updatemenus"] if m["buttons"][0]["label"] == "step"]
    by_step, wall, relative = axis_menu["buttons"]
    assert [b["label"] for b in axis_menu["buttons"]] == ["step", "wall time", "relative"]
    assert wall["args"][1]["xaxis.type"] == "date"
    # every point of a short run is read: each drawn point gets its own logging time
    logged_ms = [int(t.timestamp() * 1000) for t in stored["timestamp"]]
    assert wall["args"][0]["x"][0] == logged_ms
    assert relative["args"][0]["x"][0] == [round((t - run.start_time) / 1000, 3) for t in logged_ms]
    assert by_step["args"][0]["x"][0] == list(range(30))
    # one x per trace, smoothed twins included (the buttons move them together)
    assert len(wall["args"][0]["x"]) == len(spec["data"]) == 2


def test_without_a_store_or_stored_times_there_are_no_time_axes() -> None:
    spec = figure_dict("fit", "FINISHED", 0.0, 1.0, series(loss=[3.0, 2.0, 1.0]), controls="final")
    labels = [m["buttons"][0]["label"] for m in spec["layout"]["updatemenus"]]
    assert labels == ["linear"]  # the scale buttons only
    add_time_axes(spec, {"other": (np.array([0]), np.array([5]))}, 0.0)
    assert len(spec["layout"]["updatemenus"]) == 1  # a curve without times: none, not wrong
