"""Live views: throttled updates, the final static figure, and the headless fallback."""

from __future__ import annotations

import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mlops.widgets import figure
from jupyter_mlops.widgets.live import PLOTLY_MIME, WIDGET_MIME, LiveView


def test_updates_are_throttled_whatever_the_logging_rate(monkeypatch) -> None:
    view = LiveView("r" * 32, "throttle", widget=True, interval=0.2)
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
    view.feed([("loss", i, 1.0 / (i + 1)) for i in range(5000)] + [("nan", 0, float("nan"))])
    view.status = "FAILED"
    bundle = view.static_bundle()
    assert set(bundle) == {PLOTLY_MIME, "text/plain"}
    spec = bundle[PLOTLY_MIME]
    assert [t["name"] for t in spec["data"]] == ["loss", "nan"]
    assert len(spec["data"][0]["x"]) <= view.capacity
    assert spec["data"][1]["y"] == [None]  # NaN is a gap, JSON-safe
    assert figure.STATUS_COLORS["FAILED"] in spec["layout"]["title"]["text"]
    assert "loss = 0.0002" in bundle["text/plain"] and "5000 points" in bundle["text/plain"]


def test_many_keys_share_one_axis_with_legend_selector() -> None:
    view = LiveView("b" * 32, "many", widget=False)
    view.feed([(f"m{i:02d}", 0, float(i)) for i in range(10)])
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
            "for i in range(3000):\n    mlops.log_metric('loss', 1 / (i + 1))"),
        nbformat.v4.new_code_cell(
            "import jupyter_mlops as mlops\nwith mlops.start_run('api'):\n"
            "    mlops.log_metric('acc', 0.5)"),
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
    assert any(PLOTLY_MIME in o.get("data", {}) for o in outputs[2])
    assert not any(PLOTLY_MIME in o.get("data", {}) for o in outputs[3])


def test_live_follows_a_run_logged_by_another_process(tmp_store, monkeypatch) -> None:
    import subprocess
    import sys

    import jupyter_mlops as mlops

    monkeypatch.setenv("JUPYTER_MLOPS_LIVE", "1")  # as in a widget-capable front end
    writer = subprocess.Popen([sys.executable, "-c", (
        "import time, jupyter_mlops as mlops\n"
        "with mlops.start_run('elsewhere') as run:\n"
        "    print(run.run_id, flush=True)\n"
        "    for i in range(40):\n"
        "        mlops.log_metric('loss', 1 / (i + 1)); time.sleep(0.05)\n")],
        stdout=subprocess.PIPE, text=True)
    run_id = writer.stdout.readline().strip()
    deadline = time.monotonic() + 30
    while not mlops.get_store().run_exists(run_id):  # the writer commits within ~0.2 s
        assert time.monotonic() < deadline
        time.sleep(0.05)
    view = mlops.live(run_id)
    assert view.widget and view.figure is not None
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
