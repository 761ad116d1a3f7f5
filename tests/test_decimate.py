"""Bounded chart buffers: min/max decimation keeps extremes, the newest points stay raw."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlops.widgets.decimate import SeriesBuffer, minmax_decimate


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
