"""Bounded point buffers for charts: min/max decimation that keeps the newest points raw.

A chart of 1,000,000 logged points must cost the browser a few thousand points at most, yet
still show every spike: each bucket of old points is reduced to its minimum and its maximum
(in step order), and the newest ``tail`` points are kept as they are. Re-decimating already
decimated points keeps the extremes, so the buffer can compact itself incrementally in
O(capacity) work however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# ``store.ops.POINT`` (the writer's packed metric points) as a numpy dtype.
POINT_DTYPE = np.dtype([("step", "<i8"), ("value", "<f8"), ("timestamp", "<i8")])


def point_columns(data: bytes) -> np.ndarray:
    """Packed points (``ops.POINT`` records) as a structured array, without a copy."""
    return np.frombuffer(data, dtype=POINT_DTYPE)


def minmax_decimate(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce to at most ``2 * buckets`` points: the min and max of each bucket, in x order.

    NaN values are ignored when picking extremes (a bucket of only NaN keeps its first point).
    """
    n = len(x)
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    if n <= 2 * buckets:
        return x, y
    # Vectorized and O(n) (it runs in the writer thread, holding the GIL the cell needs):
    # buckets of equal size as rows of a matrix, the last one possibly shorter; argmin and
    # argmax of each row, NaN ignored (a row of only NaN keeps its first point: ties and
    # all-NaN rows resolve to the first index).
    size = -(-n // buckets)  # ceil: at most `buckets` buckets
    full = n // size
    main = full * size
    rows = y[:main].reshape(full, size)
    nan = np.isnan(rows)
    base = np.arange(full) * size
    lo = np.where(nan, np.inf, rows).argmin(axis=1) + base
    hi = np.where(nan, -np.inf, rows).argmax(axis=1) + base
    if main < n:  # the shorter last bucket
        rest = y[main:]
        rest_nan = np.isnan(rest)
        lo = np.append(lo, main + int(np.where(rest_nan, np.inf, rest).argmin()))
        hi = np.append(hi, main + int(np.where(rest_nan, -np.inf, rest).argmax()))
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    index = np.stack([first, second], axis=1).ravel()
    keep = np.ones(len(index), dtype=bool)
    keep[1::2] = second != first
    index = index[keep]
    return x[index], y[index]


class SeriesBuffer:
    """The points of one metric as a chart shows them, bounded to about ``capacity`` points."""

    def __init__(self, capacity: int = 2000, tail: int = 500) -> None:
        if tail >= capacity:
            raise ValueError("tail must be smaller than capacity")
        self.capacity = capacity
        self.tail = tail
        self._x = np.empty(0, dtype=np.float64)
        self._y = np.empty(0, dtype=np.float64)
        # Points not merged yet, as arrays: the writer hands over numpy columns (no Python
        # object per point), merged with one concatenate when the chart needs them.
        self._new_x: list[np.ndarray] = []
        self._new_y: list[np.ndarray] = []
        self._new_count = 0
        self.total = 0  # points ever added
        self.last: float | None = None
        self.version = 0  # bumps on every change, so views know when to redraw

    def extend(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> None:
        count = len(ys)
        if not count:
            return
        self._new_x.append(np.asarray(xs, dtype=np.float64))
        self._new_y.append(np.asarray(ys, dtype=np.float64))
        self._new_count += count
        self.total += count
        self.last = float(ys[-1])
        self.version += 1
        if self._new_count > self.capacity:
            self._compact()

    def _merge(self) -> None:
        if self._new_x:
            self._x = np.concatenate([self._x, *self._new_x])
            self._y = np.concatenate([self._y, *self._new_y])
            self._new_x, self._new_y, self._new_count = [], [], 0

    def _compact(self) -> None:
        self._merge()
        if len(self._x) <= self.capacity:
            return
        old = len(self._x) - self.tail
        buckets = (self.capacity - self.tail) // 4  # leave room before the next compaction
        ox, oy = minmax_decimate(self._x[:old], self._y[:old], max(buckets, 1))
        self._x = np.concatenate([ox, self._x[old:]])
        self._y = np.concatenate([oy, self._y[old:]])

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The points to draw (at most ``capacity``), in step order."""
        self._merge()
        if len(self._x) > self.capacity:
            self._compact()
        return self._x, self._y

    def __len__(self) -> int:
        return len(self._x) + self._new_count
