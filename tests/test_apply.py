"""Operations -> SQL (store/apply.py): metric points as the writer queues them."""

from __future__ import annotations

import math

import jupyter_mlops as mlops
from jupyter_mlops.store.apply import point_columns
from jupyter_mlops.store.ops import POINT
from jupyter_mlops.tracking import fluent


def test_point_columns_reads_packed_points_exactly() -> None:
    points = [(-(2**63), math.inf, 0), (2**63 - 1, -0.0, 2**62), (7, 1e-308, -5)]
    steps, stamps, values = point_columns(b"".join(POINT.pack(*p) for p in points))
    assert steps == [p[0] for p in points] and stamps == [p[2] for p in points]
    assert values == [p[1] for p in points] and math.copysign(1, values[1]) == -1
    assert point_columns(b"") == ([], [], [])


def test_latest_value_is_the_highest_step_then_time_then_the_last_logged(
    tmp_store: str,
) -> None:
    mlops.set_store(tmp_store)
    with mlops.start_run("ties", capture=False, live=False) as run:
        for step, value, stamp in [(5, 1.0, 10), (5, 2.0, 10), (3, 3.0, 20), (5, 4.0, 9)]:
            run.log_metric("tie", value, step=step, timestamp=stamp)
        run.log_metric("single", 0.5, step=1, timestamp=1)
        run.log_metric("single", 0.25, step=0, timestamp=2)
    stored = mlops.get_run(run.run_id)
    assert stored.metrics == {"tie": 2.0, "single": 0.5}
    history = fluent.get_store().metric_history(run.run_id, "tie")
    rows = zip(history["step"], history["timestamp"], history["value"], strict=True)
    assert sorted(rows) == [
        (3, 20, 3.0),
        (5, 9, 4.0),
        (5, 10, 1.0),
        (5, 10, 2.0),
    ]


def test_nan_is_stored_as_null_and_infinities_are_kept(tmp_store: str) -> None:
    mlops.set_store(tmp_store)
    with mlops.start_run("edges", capture=False, live=False) as run:
        for value in (1.0, math.nan, math.inf, -math.inf, 2.0):
            mlops.log_metric("x", value)
        mlops.log_metric("both", math.inf)
        mlops.log_metric("both", -math.inf)  # sums to NaN: no NaN to store, though
    store = fluent.get_store()
    values = list(store.metric_history(run.run_id, "x")["value"])
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2:] == [math.inf, -math.inf, 2.0]
    assert list(store.metric_history(run.run_id, "both")["value"]) == [math.inf, -math.inf]
    with store.engine.connect() as conn:
        nulls = conn.exec_driver_sql("SELECT COUNT(*) FROM metrics WHERE value IS NULL").scalar()
    assert nulls == 1


def test_single_points_and_packed_points_of_one_series_keep_logging_order(
    tmp_store: str,
) -> None:
    mlops.set_store(tmp_store)
    with mlops.start_run("mixed", capture=False, live=False) as run:
        writer = fluent.get_store().writer
        mlops.log_metric("m", 0.0, step=0)
        writer.seal_points()
        writer.queue.append(("m", run.run_id, "m", 1.0, 5, 1))  # a version-1 journal's point
        mlops.log_metric("m", 2.0, step=2)
    assert mlops.get_run(run.run_id).metrics == {"m": 2.0}
    history = fluent.get_store().metric_history(run.run_id, "m")
    assert list(history["step"]) == [0, 1, 2] and list(history["value"]) == [0.0, 1.0, 2.0]
