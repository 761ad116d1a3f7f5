"""The operations the writer queues, journals and applies: one NamedTuple per kind.

Each operation is a tuple whose first element names its kind; its layout is the journal's
format (docs/journal.md, version 2), so a field is never reordered or removed. They are made
by the tracking API (``tracking/run.py``, ``tracking/fluent.py``), appended to the writer's
queue (``writer.py``), written to the journal (``journal.py``) and applied (``apply.py``).

Two rules keep logging cheap:

- ``log_metric`` is the hot path (about 0.5 us a call), so it builds no operation at all: it
  packs the point's step, value and timestamp (``POINT``, 24 bytes) onto a ``bytearray`` of
  its series, and the writer cuts what has accumulated into one ``Points`` operation per
  series each time it writes the journal. The journal then copies bytes rather than encoding
  an object per point (``marshal`` took ~70 ns a point, more than the rest of the journal's
  cost on a logging loop together), and ``apply.py`` unpacks them in C. ``MetricPoint``, one
  point per operation, is what journals of format version 1 hold, and what tests and tools
  may still queue.
- The writer queues every operation as a plain tuple (``Writer.submit`` converts the
  others, which are rare): ``marshal``, the journal's encoding, takes exact tuples only, and
  operations read back from a journal are plain tuples anyway. Readers index or unpack them
  by the layouts below.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

# What the writer queues and the journal holds: an operation as a plain tuple.
QueuedOp = tuple[Any, ...]

RUN, UPDATE, PARAMS, TAGS, METRIC, POINTS, CELL, ARTIFACT = (
    "run",
    "update",
    "params",
    "tags",
    "m",
    "points",
    "cell",
    "artifact",
)
KINDS = frozenset({RUN, UPDATE, PARAMS, TAGS, METRIC, POINTS, CELL, ARTIFACT})
# One metric point of a ``Points`` operation: step (int64), value (float64), timestamp (int64,
# ms since the epoch), little-endian.
POINT = struct.Struct("<qdq")


class RunCreated(NamedTuple):
    """A run to insert with its initial params and tags. When ``row["experiment_id"]`` is
    None (logged offline), the experiment named ``experiment`` is used, created if needed.
    Journals of older versions may hold it without ``experiment``."""

    kind: str  # RUN
    row: dict[str, Any]  # the runs columns
    params: list[tuple[str, str]]
    tags: list[tuple[str, str]]
    experiment: str | None = None


class RunUpdate(NamedTuple):
    """Run columns changed (the end of a run, captured source, git, environment...)."""

    kind: str  # UPDATE
    run_id: str
    values: dict[str, Any]


class Params(NamedTuple):
    """Params inserted (or replaced)."""

    kind: str  # PARAMS
    run_id: str
    items: list[tuple[str, str]]


class Tags(NamedTuple):
    """Tags inserted (or replaced)."""

    kind: str  # TAGS
    run_id: str
    items: list[tuple[str, str]]


class MetricPoint(NamedTuple):
    """One metric point. Built as a plain tuple on the hot path (see the module's doc)."""

    kind: str  # METRIC
    run_id: str
    key: str
    value: float
    timestamp: int  # ms since the epoch
    step: int


class Points(NamedTuple):
    """Metric points of one series, in logging order: ``data`` is ``POINT`` records one after
    the other (``unpack_points`` reads them)."""

    kind: str  # POINTS
    run_id: str
    key: str
    data: bytes


def unpack_points(data: bytes) -> list[tuple[int, float, int]]:
    """The ``(step, value, timestamp)`` of each point of a ``Points`` operation's data."""
    return list(POINT.iter_unpack(data))


def readable(op: QueuedOp) -> QueuedOp:
    """``op`` with a ``Points`` operation's bytes as ``[(step, value, timestamp), ...]`` (for
    the rejected-operations file, which people read)."""
    if op[0] == POINTS and len(op) == 4 and isinstance(op[3], bytes):
        return (POINTS, op[1], op[2], unpack_points(op[3]))
    return op


def ops_weight(ops: list[QueuedOp]) -> int:
    """How much writing ``ops`` is: one per operation, and one per point of ``Points``."""
    size = POINT.size
    return len(ops) + sum(len(op[3]) // size - 1 for op in ops if op[0] == POINTS)


def split_by_weight(ops: list[QueuedOp], limit: int) -> list[list[QueuedOp]]:
    """``ops`` in order, cut into runs of at most ``limit`` weight (an operation heavier than
    that alone): the records, and so the transactions, of the writer's batch size."""
    parts: list[list[QueuedOp]] = []
    start = weight = 0
    size = POINT.size
    for index, op in enumerate(ops):
        heavy = len(op[3]) // size if op[0] == POINTS else 1
        if weight and weight + heavy > limit:
            parts.append(ops[start:index])
            start, weight = index, 0
        weight += heavy
    parts.append(ops[start:])
    return parts


class Cell(NamedTuple):
    """One executed cell of a run: ``row`` holds position, execution_count, cell_id,
    source, start_time, duration_ms, status and error."""

    kind: str  # CELL
    run_id: str
    row: dict[str, Any]


class Artifact(NamedTuple):
    """One stored artifact file."""

    kind: str  # ARTIFACT
    run_id: str
    path: str
    size: int
    timestamp: int  # ms since the epoch


Op = RunCreated | RunUpdate | Params | Tags | MetricPoint | Points | Cell | Artifact

BY_KIND: dict[str, type[Op]] = {
    RUN: RunCreated,
    UPDATE: RunUpdate,
    PARAMS: Params,
    TAGS: Tags,
    METRIC: MetricPoint,
    POINTS: Points,
    CELL: Cell,
    ARTIFACT: Artifact,
}


def typed(op: QueuedOp) -> Op:
    """The NamedTuple of a queued (or journaled) operation, for reading it by field name.
    Raises KeyError for an unknown kind, TypeError for a wrong length."""
    return BY_KIND[op[0]](*op)


def op_run_id(op: QueuedOp) -> str | None:
    """The run an operation belongs to."""
    if op[0] == RUN:
        return op[1].get("run_id")
    return op[1] if isinstance(op[1], str) else None


def describe(op: QueuedOp) -> str:
    """The tracking call that made ``op``, for messages about a refused operation."""
    try:
        typed_op = typed(op)
    except (KeyError, TypeError, IndexError):
        return repr(op)[:200]
    match typed_op:
        case RunCreated(row=row):
            return (
                f"start_run(name={row.get('name')!r}, run_id={row.get('run_id')!r}, "
                f"parent={row.get('parent_run_id')!r})"
            )
        case MetricPoint(run_id=run_id, key=key, value=value, step=step):
            return f"log_metric({key!r}, {value!r}, step={step!r}) in run {run_id}"
        case Points(run_id=run_id, key=key, data=data):
            points = unpack_points(data)
            if not points:
                return f"no points of {key!r} in run {run_id}"
            steps = f"step {points[0][0]}" + (f" to {points[-1][0]}" if len(points) > 1 else "")
            return f"{len(points)} log_metric({key!r}, ...) calls, {steps}, in run {run_id}"
        case Params(run_id=run_id, items=items):
            return f"log_params({dict(items)!r}) in run {run_id}"
        case Tags(run_id=run_id, items=items):
            return f"set_tags({dict(items)!r}) in run {run_id}"
        case RunUpdate(run_id=run_id, values=values):
            shown = {
                k: (v if not isinstance(v, str) or len(v) < 80 else v[:77] + "...")
                for k, v in values.items()
            }
            return f"update of run {run_id}: {shown!r}"
        case Cell(run_id=run_id, row=row):
            return f"cell {row.get('position')!r} of run {run_id}"
        case Artifact(run_id=run_id, path=path):
            return f"log_artifact({path!r}) in run {run_id}"
    return repr(op)[:200]
