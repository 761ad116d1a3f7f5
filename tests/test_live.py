"""Live views: throttled updates, the final static figure, and the headless fallback."""

from __future__ import annotations

import json
import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mlops.store.ops import POINT
from jupyter_mlops.widgets import figure
from jupyter_mlops.widgets.controls import SMOOTHED
from jupyter_mlops.widgets.live import PLOTLY_MIME, WIDGET_MIME, LiveView


def curves(spec: dict) -> list[dict]:
    """The logged curves of a figure, without the smoothed twins a final figure adds."""
    return [t for t in spec["data"] if t.get("meta") != SMOOTHED]


def test_updates_are_throttled_whatever_the_logging_rate(monkeypatch) -> None:
    view = LiveView("r" * 32, "throttle", widget=True, interval=0.2)
    view.feed([("loss", 0, 1.0)])  # with a point to draw, show() makes the chart at once
    view.show()  # a real FigureWidget (no front end: plotly uses a dummy comm)
    sent = []
    original = view.figure._send_update_msg

    def counting(*args, **kwargs):  # each update is what reaches the front end
        sent.append(time.monotonic())
        return original(*args, **kwargs)

    monkeypatch.setattr(view.figure, "_send_update_msg", counting)
    stop = time.monotonic() + 1.5
    step = 0
    while time.monotonic() < stop:  # a tight loop of many thousand points per second
        view.feed([("loss", step, 1.0 / (step + 1)), ("acc", step, step / 1e6)])
        step += 1
    view.finish("FINISHED")
    assert step > 10_000
    assert len(sent) <= 1.5 / 0.2 + 2  # never more than the interval allows
    assert len(sent) >= 2  # and it did keep updating during the loop
    assert view.updates_sent >= len(sent)
    x, _ = view.series["loss"].points()
    assert len(x) <= view.capacity


def test_final_bundle_is_static_plotly_with_summary() -> None:
    view = LiveView("a" * 32, "final", widget=False)
    view.feed([("loss", i, 1.0 / (i + 1)) for i in range(5000)] + [("nan", 0, float("nan"))] * 2)
    view.status = "FAILED"
    bundle = view.static_bundle()
    assert set(bundle) == {PLOTLY_MIME, "text/plain"}
    spec = bundle[PLOTLY_MIME]
    assert [t["name"] for t in curves(spec)] == ["loss", "nan"]
    assert len(spec["data"][0]["x"]) <= view.capacity
    assert spec["data"][1]["y"] == [None, None]  # NaN is a gap, JSON-safe
    assert figure.STATUS_COLORS["FAILED"] in spec["layout"]["title"]["text"]
    assert "loss = 0.0002" in bundle["text/plain"] and "5000 points" in bundle["text/plain"]


def test_many_keys_share_one_axis_with_legend_selector() -> None:
    view = LiveView("b" * 32, "many", widget=False)
    view.feed([(f"m{i:02d}", step, float(i)) for i in range(10) for step in (0, 1)])
    spec = view.static_bundle()[PLOTLY_MIME]
    assert spec["layout"]["showlegend"] is True
    hidden = [t["name"] for t in spec["data"] if t["visible"] == "legendonly"]
    assert hidden == [f"m{i:02d}" for i in range(figure.MAX_ROWS, 10)]


def test_feed_is_thread_safe() -> None:
    view = LiveView("c" * 32, "threads", widget=False, capacity=1000)

    def produce(key: str) -> None:
        for i in range(20_000):
            view.feed([(key, i, float(i))])

    threads = [threading.Thread(target=produce, args=(f"k{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(view.series[f"k{i}"].total == 20_000 for i in range(4))


@pytest.mark.slow
def test_headless_execution_outputs_static_figure_not_widget(tmp_store) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell(
            "%%track train\nimport jupyter_mlops as mlops\n"
            "for i in range(3000):\n    mlops.log_metric('loss', 1 / (i + 1))"
        ),
        nbformat.v4.new_code_cell(
            "import jupyter_mlops as mlops\nwith mlops.start_run('api'):\n"
            "    mlops.log_metric('acc', 0.5)"
        ),
        nbformat.v4.new_code_cell("%%track quiet --no-live\nmlops.log_metric('x', 1)"),
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    outputs = [[o for o in cell.outputs] for cell in nb.cells]
    for cell_outputs in outputs:
        for output in cell_outputs:
            assert WIDGET_MIME not in output.get("data", {})
    train = [o for o in outputs[1] if PLOTLY_MIME in o.get("data", {})]
    assert len(train) == 1
    trace = train[0]["data"][PLOTLY_MIME]["data"][0]
    assert trace["name"] == "loss" and 0 < len(trace["x"]) <= 2000
    assert "FINISHED" in train[0]["data"]["text/plain"]
    assert "3000 points" in train[0]["data"]["text/plain"]
    # a metric logged once is its value, not a one-dot chart
    assert not any(PLOTLY_MIME in o.get("data", {}) for o in outputs[2])
    assert any("acc = 0.5" in o.get("data", {}).get("text/plain", "") for o in outputs[2])
    assert not any(PLOTLY_MIME in o.get("data", {}) for o in outputs[3])


def test_live_follows_a_run_logged_by_another_process(tmp_store, monkeypatch) -> None:
    import subprocess
    import sys

    import jupyter_mlops as mlops

    monkeypatch.setenv("JUPYTER_MLOPS_LIVE", "1")  # as in a widget-capable front end
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import time, jupyter_mlops as mlops\n"
                "with mlops.start_run('elsewhere') as run:\n"
                "    print(run.run_id, flush=True)\n"
                "    for i in range(40):\n"
                "        mlops.log_metric('loss', 1 / (i + 1)); time.sleep(0.05)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    run_id = writer.stdout.readline().strip()
    deadline = time.monotonic() + 30
    while not mlops.get_store().run_exists(run_id):  # the writer commits within ~0.2 s
        assert time.monotonic() < deadline
        time.sleep(0.05)
    view = mlops.live(run_id)
    assert view.widget and view.shown
    assert writer.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while view.status == "RUNNING":
        assert time.monotonic() < deadline, "the follower never saw the run end"
        time.sleep(0.1)
    assert view.status == "FINISHED"
    assert view.series["loss"].total == 40


def test_live_of_a_finished_run_is_static(tmp_store) -> None:
    import jupyter_mlops as mlops

    with mlops.start_run("done") as run:
        mlops.log_metrics({"a": 1.0, "b": 2.0})
    view = mlops.live(run.run_id[:10])  # a unique prefix is enough
    assert view.status == "FINISHED" and not view.widget
    # The run's own duration, not the time from its start to this call.
    record = mlops.get_store().get_run(run.run_id)
    assert view.ended == record.end_time / 1000.0
    assert set(view.series) == {"a", "b"}
    with pytest.raises(mlops.RunNotFoundError):
        mlops.live("f" * 32)


def test_live_default_follows_env_and_config(tmp_path, monkeypatch) -> None:
    from jupyter_mlops.widgets import manager

    monkeypatch.delenv("JUPYTER_MLOPS_LIVE", raising=False)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    assert manager._live_default() is True
    (tmp_path / "jupyter_mlops_config.json").write_text('{"MLOps": {"live": false}}')
    assert manager._live_default() is False
    monkeypatch.setenv("JUPYTER_MLOPS_LIVE", "1")
    assert manager._live_default() is True
    monkeypatch.setenv("JUPYTER_MLOPS_LIVE", "off")
    assert manager._live_default() is False
    assert manager.frontend_renders_widgets() is False


# -- many runs in one cell (a sweep): one view, bounded outputs --------------------------------

SWEEP = """import jupyter_mlops as mlops
for i in range({runs}):
    with mlops.start_run(params={{"lr": i / 1000, "batch": 32}}):
        {body}
"""


def _bundles(outputs: list) -> list[dict]:
    return [o.get("data", {}) for o in outputs if o.get("output_type") == "display_data"]


@pytest.mark.slow
def test_headless_sweep_of_1000_runs_outputs_one_figure_and_one_table(tmp_store) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            SWEEP.format(
                runs=1000, body="mlops.log_metrics({'loss': 1 / (i + 1), 'acc': i / 1000})"
            )
        ),
        nbformat.v4.new_code_cell(SWEEP.format(runs=1000, body="pass")),
        nbformat.v4.new_code_cell(
            "with mlops.start_run('alone'):\n"
            "    for s in range(50):\n        mlops.log_metric('loss', 1 / (s + 1))\n"
            "print('after')"
        ),
        nbformat.v4.new_code_cell(
            SWEEP.format(runs=50, body="mlops.log_metric('x', 1)").replace(
                "start_run(", "start_run(live=False, "
            )
        ),
    ]
    NotebookClient(nb, kernel_name="python3", timeout=300).execute()
    sweep, quiet, alone, off = (_bundles(cell.outputs) for cell in nb.cells)
    assert off == []  # live=False: no view at all

    assert len(sweep) == 2, [list(b) for b in sweep]  # one figure, one table: not 1,000 charts
    figure_bundle, table = sweep
    spec = figure_bundle[PLOTLY_MIME]
    assert [t["name"] for t in spec["data"]] == ["acc", "loss"]
    assert all(len(t["y"]) == 1000 for t in spec["data"])  # the latest value of every run
    assert spec["data"][1]["y"][-1] == pytest.approx(1 / 1000)
    assert "1000 runs in this cell: 1000 FINISHED" in table["text/plain"]
    assert table["text/plain"].count("\n") < 30  # bounded rows, whatever the number of runs
    assert "980 more runs not shown" in table["text/plain"]
    assert "lr" in table["text/html"] and "0.999" in table["text/plain"]  # the varying param
    assert len(json.dumps([o for o in nb.cells[0].outputs])) < 300_000

    # Runs without metrics: a table, no empty chart, no 1,000 status lines.
    assert len(quiet) == 1 and PLOTLY_MIME not in quiet[0]
    assert "1000 runs in this cell: 1000 FINISHED" in quiet[0]["text/plain"]

    # One run in a cell keeps its own chart, as before.
    assert len(alone) == 1
    assert [t["name"] for t in curves(alone[0][PLOTLY_MIME])] == ["loss"]
    assert len(alone[0][PLOTLY_MIME]["data"][0]["x"]) == 50


def _execute_collecting(kc, code: str) -> list[dict]:
    msg_id = kc.execute(code)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages


@pytest.mark.slow
def test_live_sweep_shows_one_chart_and_one_table_then_static(tmp_store) -> None:
    import os

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, JUPYTER_MLOPS_LIVE="1")  # as in a widget-capable front end
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        messages = _execute_collecting(
            kc,
            SWEEP.format(
                runs=300,
                body=(
                    "for s in range(20):\n"
                    "            mlops.log_metrics({'loss': 1 / (s + 1 + i), 'acc': s / 20})"
                ),
            ),
        )
        failing = _execute_collecting(
            kc,
            SWEEP.format(
                runs=3,
                body=("mlops.log_metric('loss', 1.0)\n        if i == 1:\n            break"),
            )
            + "with mlops.start_run('bad'):\n    1 / 0\n",
        )
        quiet = _execute_collecting(kc, SWEEP.format(runs=50, body="pass"))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    def kinds(msgs: list[dict], kind: str) -> list[dict]:
        return [m for m in msgs if m["msg_type"] == kind]

    opened = [
        m["content"]["data"]["state"].get("_model_name") for m in kinds(messages, "comm_open")
    ]
    # At most one FigureWidget (anywidget, ~5 MB of plotly.js each) for 300 runs; it is made
    # only once a run's points arrive while that run is still the newest.
    assert opened in ([], ["AnyModel"]), opened
    displays = kinds(messages, "display_data")
    assert len(displays) == 2  # the chart, then (from the second run on) the table
    chart_id = displays[0]["content"]["transient"]["display_id"]
    table_id = displays[1]["content"]["transient"]["display_id"]
    assert set(displays[0]["content"]["data"]) & {WIDGET_MIME, "text/html"}
    updates = kinds(messages, "update_display_data")
    final_chart = [m for m in updates if m["content"]["transient"]["display_id"] == chart_id][-1]
    final_table = [m for m in updates if m["content"]["transient"]["display_id"] == table_id][-1]
    assert PLOTLY_MIME in final_chart["content"]["data"]  # static: readable without a kernel
    assert "300 runs in this cell: 300 FINISHED" in final_table["content"]["data"]["text/plain"]
    assert len(updates) < 100  # throttled: not one update per run

    # A failing run ends the cell: the view still turns final, with the failure in red.
    final = kinds(failing, "update_display_data")
    table = [m for m in final if "text/html" in m["content"]["data"]][-1]["content"]["data"]
    assert "3 runs in this cell: 2 FINISHED, 1 FAILED" in table["text/plain"]
    assert figure.STATUS_COLORS["FAILED"] in table["text/html"]
    assert kinds(failing, "error")

    # Runs without metrics: one status line (no chart widget), then a line and the table.
    assert len(kinds(quiet, "display_data")) == 2
    assert not kinds(quiet, "comm_open")  # no metrics, no chart widget (nor its 5 MB of JS)
    final = kinds(quiet, "update_display_data")
    assert not any(PLOTLY_MIME in m["content"]["data"] for m in final)
    assert any(
        "50 runs in this cell: 50 FINISHED" in m["content"]["data"].get("text/plain", "")
        for m in final
    )


def test_sweep_table_and_figure_stay_small_for_10000_runs() -> None:
    from jupyter_mlops.widgets.sweep import RunSummary, sweep_figure, table_bundle

    runs = []
    for i in range(10_000):
        run = RunSummary(
            f"{i:032x}",
            f"run-{i}",
            0.0,
            params={"lr": str(i), "seed": "0"},
            status="FAILED" if i == 5 else "FINISHED",
            ended=1.0,
        )
        run.feed_columns("loss", [0, 1], [2.0, 1.0 / (i + 1)])
        runs.append(run)
    spec = sweep_figure(runs)
    assert spec is not None and len(spec["data"][0]["y"]) == 10_000
    assert "text" not in spec["data"][0]  # past MAX_LABELLED_RUNS, no per-point labels
    assert len(json.dumps(spec)) < 400_000
    bundle = table_bundle(runs)
    assert len(bundle["text/html"]) < 10_000 and len(bundle["text/plain"]) < 5_000
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == "10000 runs in this cell: 9999 FINISHED, 1 FAILED"
    header = lines[1].split()
    assert header[:5] == ["#", "run", "status", "time", "lr"]  # varying params first
    assert "run-9999" in bundle["text/plain"] and "run-5000" not in bundle["text/plain"]
    assert sweep_figure([RunSummary("a" * 32, "quiet", 0.0)]) is None  # no empty chart


def test_sweep_table_lists_failed_runs_hidden_in_the_middle() -> None:
    from jupyter_mlops.widgets.sweep import RunSummary, table_text

    runs = [
        RunSummary(
            f"{i:032x}",
            f"run-{i}",
            0.0,
            ended=1.0,
            status="FAILED" if i in (40, 41) else "FINISHED",
        )
        for i in range(100)
    ]
    text = table_text(runs)
    assert "run-40 " in text and "run-41 " in text and "run-50 " not in text
    assert text.count("…") == 2  # a gap before and after the failures
    assert "78 more runs not shown" in text
    live = table_text(runs, live=True)  # the newest runs, and the failures so far
    assert "run-40 " in live and "run-99" in live and "run-0 " not in live


def test_step_axis_sits_under_the_lowest_row() -> None:
    from jupyter_mlops.widgets.sweep import RunSummary, sweep_figure

    view = LiveView("d" * 32, "rows", widget=False)
    view.feed([(key, step, 1.0) for key in ("a", "b", "c") for step in (0, 1)])
    spec = view.static_bundle()[PLOTLY_MIME]
    assert spec["layout"]["xaxis"]["anchor"] == "y3"  # not between the first two rows
    runs = [RunSummary(f"{i:032x}", f"r{i}", 0.0, last={"a": 1.0, "b": 2.0}) for i in range(3)]
    assert sweep_figure(runs)["layout"]["xaxis"]["anchor"] == "y2"


def _capture_displays(monkeypatch) -> list[tuple[str, dict]]:
    """(display_id, bundle) of every display/update_display, instead of a front end."""
    import IPython.display

    shown: list[tuple[str, dict]] = []

    def record(obj, *args, display_id=None, **kwargs):
        shown.append((display_id, obj if isinstance(obj, dict) else {"widget": obj}))

    monkeypatch.setattr(IPython.display, "display", record)
    monkeypatch.setattr(IPython.display, "update_display", record)
    return shown


def test_status_line_follows_the_next_run_at_once(monkeypatch) -> None:
    shown = _capture_displays(monkeypatch)
    view = LiveView("e" * 32, "first", widget=True)
    view.show()
    view.stop()  # ticks are driven by hand below
    assert "first" in shown[-1][1]["text/plain"]
    view.restart("f" * 32, "second (run 2)", time.time())
    assert view.push() is True  # not a second later: the line named a run that had ended
    assert "second (run 2) · RUNNING" in shown[-1][1]["text/plain"]


class _FakeWriter:
    def __init__(self) -> None:
        self.watched_runs: set[str] = set()
        self.point_listeners: list = []

    def flush(self, timeout: float | None = None) -> bool:
        return True


class _FakeRun:
    def __init__(self, run_id: str, writer: _FakeWriter) -> None:
        self.run_id, self.name, self.status = run_id, f"run-{run_id[:4]}", "RUNNING"
        self.start_time, self.params, self.listeners = time.time() * 1000, {"lr": run_id[0]}, []
        self.store = type("S", (), {"writer": writer})()

    def end(self, status: str = "FINISHED") -> None:
        self.status = status
        for listener in self.listeners:
            listener(self)


def test_sweep_table_shows_points_that_arrive_after_a_run_left_the_chart(monkeypatch) -> None:
    from jupyter_mlops.widgets import cell, manager

    shown = _capture_displays(monkeypatch)
    monkeypatch.setattr(cell, "TABLE_REFRESH_S", 0.0)
    writer = _FakeWriter()
    group = cell.CellRuns(True, manager._route, manager._unroute)
    first, second = _FakeRun("1" * 32, writer), _FakeRun("2" * 32, writer)
    group.add(first)
    group.view.stop()  # ticks are driven by hand below
    first.end()
    group.add(second)  # the table appears, without run 1's metrics: none committed yet
    assert shown[-1][0] == group.table_id and "0.125" not in shown[-1][1]["text/plain"]
    # The writer commits run 1's points now: they reach its summary, and the next tick
    # shows them (runs neither started nor ended in between).
    manager._on_points({("1" * 32, "loss"): POINT.pack(0, 0.5, 1) + POINT.pack(1, 0.125, 2)})
    group._tick()
    assert shown[-1][0] == group.table_id and "0.125" in shown[-1][1]["text/plain"]
    second.end()
    group.end_of_cell()
    assert not any(run_id in manager._views for run_id in ("1" * 32, "2" * 32))


@pytest.mark.slow
def test_live_metrics_notebook_outputs_one_view_per_cell(tmp_store, tmp_path) -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "live-metrics.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    by_source = {
        cell.source.split("\n", 1)[0]: _bundles(cell.outputs)
        for cell in nb.cells
        if cell.cell_type == "code"
    }
    track = by_source["%%track sgd --param lr=0.1 --param epochs=40"]
    assert len(track) == 1 and "FINISHED" in track[0]["text/plain"]
    assert {t["name"] for t in curves(track[0][PLOTLY_MIME])} == {"accuracy", "loss"}
    sweep = by_source["def train(lr, epochs=10):"]
    assert len(sweep) == 2  # six runs: one figure, one table
    assert len(sweep[0][PLOTLY_MIME]["data"][0]["y"]) == 6
    assert "6 runs in this cell: 6 FINISHED" in sweep[1]["text/plain"]


@pytest.mark.slow
def test_front_end_gets_at_most_10_messages_in_any_second(tmp_store) -> None:
    """A paced loop (no GIL contention slowing the timer) at full update rate: every second
    window of comm messages stays within budget. Load can only lower the rate."""
    import os

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, JUPYTER_MLOPS_LIVE="1")
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        _execute_collecting(kc, "import jupyter_mlops")
        messages = _execute_collecting(
            kc,
            (
                "import time, jupyter_mlops as mlops\n"
                "with mlops.start_run('paced'):\n"
                "    for i in range(300):\n"
                "        mlops.log_metric('loss', 1 / (i + 1)); time.sleep(0.01)\n"
            ),
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    times = sorted(
        m["header"]["date"].timestamp() for m in messages if m["msg_type"].startswith("comm_")
    )
    assert len(times) > 4  # the chart was updated while the loop ran
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 10, busiest


def _stream_text(messages: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("live", ["1", "0"])
def test_widget_code_is_preloaded_only_for_widget_front_ends(tmp_store, live: str) -> None:
    """Importing plotly's FigureWidget takes seconds; in a widget front end it starts in the
    background at import, so the first tracked cell does not pay for it. Headless, never."""
    import os

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, JUPYTER_MLOPS_LIVE=live)
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        _execute_collecting(kc, "import jupyter_mlops")
        probe = (
            "import sys, time\n"
            "deadline = time.monotonic() + 60\n"
            "while 'plotly.graph_objs._figurewidget' not in sys.modules and "
            "time.monotonic() < deadline and {wait}:\n"
            "    time.sleep(0.05)\n"
            "print('loaded' if 'plotly.graph_objs._figurewidget' in sys.modules else 'absent')\n"
        )
        # Headless: give a wrongly started preload the same chance to show up before asking.
        text = _stream_text(_execute_collecting(kc, probe.format(wait=live == "1")))
        if live == "0":
            time.sleep(3)
            text = _stream_text(_execute_collecting(kc, probe.format(wait=False)))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert text.strip() == ("loaded" if live == "1" else "absent")


def test_a_metric_logged_once_is_a_value_not_a_dot() -> None:
    view = LiveView("c" * 32, "fit", widget=False)
    view.feed([("loss", i, 1.0 / (i + 1)) for i in range(50)] + [("test_acc", 0, 0.9375)])
    view.status = "FINISHED"
    bundle = view.static_bundle()
    spec = bundle[PLOTLY_MIME]
    assert [t["name"] for t in curves(spec)] == ["loss"]  # one row: no test_acc row
    assert "test_acc=0.9375" in spec["layout"]["title"]["text"]
    assert "test_acc = 0.9375  (1 points)" in bundle["text/plain"]

    # only values: no chart at all, the values in the line (and the summary)
    once = LiveView("d" * 32, "eval", widget=False)
    once.feed([("acc", 0, 0.5), ("f1", 0, 0.25)])
    once.status = "FINISHED"
    bundle = once.static_bundle()
    assert PLOTLY_MIME not in bundle
    assert "acc=0.5, f1=0.25" in bundle["text/html"]
    assert "f1 = 0.25" in bundle["text/plain"]

    # while the run goes on, a first point is drawn: it may have company soon
    running = LiveView("e" * 32, "fit", widget=False)
    running.feed([("loss", 0, 1.0)])
    live = figure.figure_dict("fit", "RUNNING", 0.0, None, running.series, controls="live")
    assert [t["name"] for t in live["data"]] == ["loss"]


def test_late_deltas_of_a_replaced_widget_are_not_reported_but_other_comms_are(caplog) -> None:
    import logging

    from jupyter_mlops.widgets.live import close_replaced_widget

    class Widget:
        model_id = "f" * 32
        closed = False

        def close(self) -> None:
            self.closed = True

    widget = Widget()
    close_replaced_widget(widget)
    assert widget.closed  # at once: a later close would land in another cell's execution
    comm_log = logging.getLogger("Comm")
    with caplog.at_level(logging.WARNING, logger="Comm"):
        comm_log.warning("No such comm: %s", widget.model_id)  # what ipykernel logs
        comm_log.warning("No such comm: %s", "0" * 32)
    assert [r.getMessage() for r in caplog.records] == [f"No such comm: {'0' * 32}"]
