"""Bounded chart buffers: min/max decimation keeps extremes, the newest points stay raw."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mlops.store.ops import POINT
from jupyter_mlops.widgets.decimate import POINT_DTYPE, SeriesBuffer, minmax_decimate, point_columns


def test_minmax_keeps_every_extreme_and_order() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(100_000, dtype=float)
    y = rng.normal(size=x.size)
    y[12_345] = 50.0  # a spike must survive
    y[77_777] = -50.0
    dx, dy = minmax_decimate(x, y, 500)
    assert len(dx) <= 1000
    assert np.all(np.diff(dx) > 0)
    assert dy.max() == 50.0 and dy.min() == -50.0
    assert 12_345 in dx and 77_777 in dx


def test_minmax_small_input_unchanged_and_nan_tolerated() -> None:
    x = np.arange(10, dtype=float)
    y = np.full(10, np.nan)
    assert minmax_decimate(x, y, 10)[0] is x
    dx, _ = minmax_decimate(np.arange(1000.0), np.full(1000, np.nan), 10)
    assert 1 <= len(dx) <= 20
    with pytest.raises(ValueError):
        minmax_decimate(x, y, 0)


def test_buffer_stays_bounded_for_a_million_points() -> None:
    buffer = SeriesBuffer(capacity=2000, tail=500)
    values = np.sin(np.arange(1_000_000) / 1000.0)
    values[400_000] = 9.0
    for start in range(0, 1_000_000, 10_000):
        chunk = range(start, start + 10_000)
        buffer.extend([float(i) for i in chunk], values[start : start + 10_000].tolist())
        assert len(buffer) <= 2 * buffer.capacity
    x, y = buffer.points()
    assert len(x) <= buffer.capacity
    assert buffer.total == 1_000_000
    assert y.max() == 9.0  # the spike is kept through repeated compaction
    assert x[-1] == 999_999 and np.all(np.diff(x[-500:]) == 1)  # newest raw
    assert np.all(np.diff(x) > 0)
    assert buffer.last == values[-1]


def test_buffer_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        SeriesBuffer(capacity=100, tail=100)


def test_point_columns_reads_the_writers_packed_points() -> None:
    data = POINT.pack(-(2**63), math.nan, 1) + POINT.pack(2**63 - 1, -math.inf, 2)
    points = point_columns(data)
    assert POINT_DTYPE.itemsize == POINT.size
    assert list(points["step"]) == [-(2**63), 2**63 - 1]
    assert math.isnan(points["value"][0]) and points["value"][1] == -math.inf
    assert list(points["timestamp"]) == [1, 2]


def test_series_buffer_takes_numpy_columns_and_lists_alike() -> None:
    buffer = SeriesBuffer(capacity=100, tail=20)
    points = point_columns(b"".join(POINT.pack(i, i / 2, 0) for i in range(150)))
    buffer.extend(points["step"], points["value"])
    buffer.extend([150, 151], [75.0, 75.5])
    buffer.extend([], [])
    x, y = buffer.points()
    assert buffer.total == 152 and buffer.last == 75.5 and len(buffer) == len(x) <= 100
    assert x[0] == 0 and x[-1] == 151 and list(y[-3:]) == [74.5, 75.0, 75.5]
