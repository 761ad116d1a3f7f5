"""Operations -> SQL: one transaction's worth of queued operations, in multi-row statements.

Operations are the NamedTuples of ``ops.py``, one per kind. They arrive here as plain tuples
(the writer queues them so, and the journal reads them back so), in these layouts:

  ("run", row, params, tags, experiment)   insert a run (``row``: the runs columns) with its
                                           initial params/tags [(k, v)]; when
                                           ``row["experiment_id"]`` is None (offline logging)
                                           the experiment named ``experiment`` is used,
                                           created if needed
  ("update", run_id, values)               update run columns (``values["git_diff"]``:
                                           (digest, text) of a git diff to store once,
                                           ``diffs.py``)
  ("params", run_id, [(k, v)])             insert/replace params
  ("tags", run_id, [(k, v)])               insert/replace tags
  ("points", run_id, key, data)            metric points of one series (``ops.POINT``
                                           records: step, value, ts)
  ("m", run_id, key, value, ts, step)      one metric point (journal format version 1)
  ("cell", run_id, row)                    one executed cell of a run
  ("artifact", run_id, path, size, ts)     one stored artifact file

All rows of a kind go in one multi-row statement per chunk, so 10,000 short runs are a few
dozen statements rather than 60,000. Within a batch: experiments, runs, params and tags,
cells, artifacts, run updates (merged per run, in order; a run created in the same batch is
inserted with them), metric points and the latest value of each series, then
``last_update_time`` of every run touched.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import isnan
from typing import Any

from sqlalchemy import Connection, select

from .dialect import in_chunks, insert_flat, insert_rows, last_per_key, update_rows
from .diffs import UPDATE_KEY as GIT_DIFF
from .ops import (
    ARTIFACT,
    CELL,
    METRIC,
    PARAMS,
    POINT,
    POINTS,
    RUN,
    TAGS,
    UPDATE,
    MetricPoint,
    unpack_points,
)
from .schema import experiments, metric_series

_CELL_COLUMNS = (
    "run_id",
    "position",
    "execution_count",
    "cell_id",
    "source",
    "start_time",
    "duration_ms",
    "status",
    "error",
)


@dataclass
class ApplyState:
    """What the writer remembers between transactions (cleared when one rolls back)."""

    series: dict[tuple[str, str], int] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)
    # Runs whose points ``apply`` returns for live charts: {(run_id, key): data}, ``data``
    # being ``ops.POINT`` records (a Points operation's bytes, joined: no object per point).
    watched: set[str] = field(default_factory=set)

    def forget(self) -> None:
        """Ids handed out in a transaction that rolled back no longer exist."""
        self.series.clear()
        self.experiments.clear()


@dataclass
class Applied:
    """What one applied batch changed: the runs it touched and the points of watched runs."""

    runs: set[str]
    points: dict[tuple[str, str], bytes]


def apply(
    conn: Connection, ops: Sequence[tuple[Any, ...]], state: ApplyState, stamp: int
) -> Applied:
    """Apply ``ops`` inside the caller's transaction. Raises on any refused operation (the
    writer then isolates it)."""
    new_runs: list[tuple[dict[str, Any], str | None]] = []
    params_rows: list[tuple[str, str, str]] = []
    tag_rows: list[tuple[str, str, str]] = []
    cell_rows: list[tuple[Any, ...]] = []
    artifact_rows: list[tuple[str, str, int, int]] = []
    updates: dict[str, dict[str, Any]] = {}
    diff_rows: list[tuple[str, str]] = []
    touched: set[str] = set()
    # PostgreSQL refuses NUL in text: captured output or source holding one (a binary print)
    # would fail the operation and lose it. Keys and names are refused up front.
    no_nul = conn.dialect.name == "postgresql"
    points = [op for op in ops if op[0] in (POINTS, METRIC)]
    for op in ops if len(points) < len(ops) else ():
        kind = op[0]
        if kind in (POINTS, METRIC):
            continue
        if no_nul:
            op = without_nul(op)
        if kind == RUN:
            row = op[1]
            new_runs.append((row, op[4] if len(op) > 4 else None))
            run_id = row["run_id"]
            params_rows.extend((run_id, k, v) for k, v in op[2])
            tag_rows.extend((run_id, k, v) for k, v in op[3])
            continue
        run_id = op[1]
        touched.add(run_id)
        if kind == UPDATE:
            values = op[2]
            if GIT_DIFF in values:  # a diff's text, sent with the first run that has it
                diff_rows.append(values[GIT_DIFF])
                values = {k: v for k, v in values.items() if k != GIT_DIFF}
            updates.setdefault(run_id, {}).update(values)
        elif kind == PARAMS:
            params_rows.extend((run_id, k, v) for k, v in op[2])
        elif kind == TAGS:
            tag_rows.extend((run_id, k, v) for k, v in op[2])
        elif kind == CELL:
            row = {"run_id": run_id, **op[2]}
            cell_rows.append(tuple(row.get(c) for c in _CELL_COLUMNS))
        elif kind == ARTIFACT:
            artifact_rows.append((run_id, op[2], op[3], op[4]))
        else:
            raise ValueError(f"unknown writer operation {kind!r}")
    if diff_rows:
        insert_rows(
            conn, "git_diffs", ("digest", "diff"), last_per_key(diff_rows, 1),
            conflict=("digest",), update=(),
        )  # fmt: skip
    if new_runs and updates:
        # A run created and changed in the same batch (a short run ended, a sweep's capture)
        # is inserted as it ends up: one INSERT, no UPDATE of each row after it. The op's
        # row is not modified (a batch may be applied again, halved, after a refusal).
        folded = []
        for row, name in new_runs:
            values = updates.pop(row["run_id"], None)
            if values is not None:
                row = {**row, **values, "last_update_time": stamp}
            folded.append((row, name))
        new_runs = folded
    if new_runs:
        _insert_runs(conn, new_runs, state)
    if params_rows:
        insert_rows(
            conn, "params", ("run_id", "key", "value"), last_per_key(params_rows, 2),
            conflict=("run_id", "key"),
        )  # fmt: skip
    if tag_rows:
        insert_rows(
            conn, "tags", ("run_id", "key", "value"), last_per_key(tag_rows, 2),
            conflict=("run_id", "key"),
        )  # fmt: skip
    if cell_rows:
        insert_rows(conn, "run_cells", _CELL_COLUMNS, cell_rows)
    if artifact_rows:
        insert_rows(
            conn, "artifacts", ("run_id", "path", "size", "logged_time"),
            last_per_key(artifact_rows, 2), conflict=("run_id", "path"),
        )  # fmt: skip
    captured: dict[tuple[str, str], bytes] = {}
    if points:
        touched.update(_write_points(conn, points, state, captured))
    inserted = {row["run_id"] for row, _ in new_runs}
    # Every run changed here gets the commit stamp: in its update when it has one, else alone.
    for run_id in touched:
        if run_id not in inserted and run_id not in updates:
            updates[run_id] = {}
    if updates:
        _update_runs(conn, updates, stamp)
    return Applied(touched | inserted, captured)


def _insert_runs(
    conn: Connection,
    new_runs: list[tuple[dict[str, Any], str | None]],
    state: ApplyState,
) -> None:
    unresolved = {name for row, name in new_runs if row.get("experiment_id") is None and name}
    if unresolved:
        _resolve_experiments(conn, unresolved, state)
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row, name in new_runs:
        if row.get("experiment_id") is None:
            if not name:
                raise ValueError(f"run {row.get('run_id')!r} has no experiment")
            row = {**row, "experiment_id": state.experiments[name]}
        # the values in the keys' order, taken in C (23 columns a run)
        by_columns.setdefault(tuple(row), []).append(tuple(row.values()))
    for columns, rows in by_columns.items():
        insert_rows(conn, "runs", columns, rows)


def _resolve_experiments(conn: Connection, names: set[str], state: ApplyState) -> None:
    """Ids of experiments named in offline runs, created when missing (another process may
    create the same one at once: ON CONFLICT DO NOTHING, then read back)."""
    from .ids import now_ms

    missing = [n for n in names if n not in state.experiments]
    if not missing:
        return
    insert_rows(
        conn,
        "experiments",
        ("experiment_id", "name", "creation_time"),
        [(uuid.uuid4().hex, name, now_ms()) for name in missing],
        conflict=("name",),
        update=(),
    )
    query = select(experiments.c.name, experiments.c.experiment_id).where(
        experiments.c.name.in_(missing)
    )
    for name, experiment_id in conn.execute(query):
        state.experiments[name] = experiment_id


def _update_runs(conn: Connection, updates: dict[str, dict[str, Any]], stamp: int) -> None:
    """One executemany per set of changed columns (a batch of ended runs is one statement)."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for run_id, values in updates.items():
        columns = tuple(sorted(c for c in values if c != "last_update_time"))
        groups.setdefault(columns, []).append((*(values[c] for c in columns), stamp, run_id))
    for columns, rows in groups.items():
        update_rows(conn, "runs", (*columns, "last_update_time"), "run_id", rows)


def _write_points(
    conn: Connection,
    ops: list[tuple[Any, ...]],
    state: ApplyState,
    captured: dict[tuple[str, str], bytes],
) -> set[str]:
    """Points in multi-row INSERTs; each series' count and latest value in one upsert for
    all series of the batch (new ones created by it).

    The per-point work is done in C (memoryview casts, list slicing and slice assignment,
    max, sum), with no tuple per point: this runs in the writer thread while a cell may log
    in a tight loop, and every Python-level step per point is time taken from that cell
    (they share the GIL).
    """
    # Each series' packed points (ops.POINT records), in logging order.
    chunks: dict[tuple[str, str], list[bytes]] = {}
    for op in ops:
        series_key = (op[1], op[2])
        found = chunks.get(series_key)
        if found is None:
            found = chunks[series_key] = []
        if op[0] == POINTS:
            found.append(op[3])
        else:  # one MetricPoint
            found.append(POINT.pack(op[_STEP_AT], op[_VALUE_AT], op[_TIME_AT]))
    watched = state.watched
    summary = []
    columns: dict[tuple[str, str], tuple[list[int], list[int], list[float]]] = {}
    # Series in one order in every process: concurrent upserts of PostgreSQL then take
    # their row locks in the same order, and cannot deadlock.
    for series_key in sorted(chunks):
        run_id, key = series_key
        data = b"".join(chunks[series_key])
        if watched and run_id in watched:
            captured[series_key] = data
        steps, stamps, values = point_columns(data)
        latest = _latest(steps, stamps)
        value = values[latest]
        summary.append(
            (
                run_id,
                key,
                None if value != value else value,
                steps[latest],
                stamps[latest],
                len(steps),
            )
        )
        columns[series_key] = (steps, stamps, values)
    insert_rows(
        conn,
        "metric_series",
        ("run_id", "key", "latest_value", "latest_step", "latest_timestamp", "point_count"),
        summary,
        conflict=("run_id", "key"),
        update_sql=_MERGE_SERIES,
    )
    series = state.series
    missing = [series_key for series_key in columns if series_key not in series]
    if missing:
        _learn_series_ids(conn, missing, series)
    flat: list[Any] = []
    for series_key, (steps, stamps, floats) in columns.items():
        rows: list[Any] = [series[series_key]] * (4 * len(steps))
        rows[1::4], rows[2::4], rows[3::4] = steps, stamps, floats
        total = sum(floats)  # NaN when a value is NaN (or both infinities are there)
        if total != total and any(map(isnan, floats)):
            rows[3::4] = [None if v != v else v for v in floats]  # NaN -> NULL, as in SQLite
        flat += rows
    insert_flat(conn, "metrics", ("series_id", "step", "timestamp", "value"), flat)
    return {run_id for run_id, _ in columns}


def point_columns(data: bytes) -> tuple[list[int], list[int], list[float]]:
    """The steps, timestamps and values of packed points (``ops.POINT`` records)."""
    if _LITTLE_ENDIAN:  # the records' byte order: read them as the machine's int64/float64
        view = memoryview(data)
        ints: list[int] = view.cast("q").tolist()
        floats: list[Any] = view.cast("d").tolist()
        return ints[0::3], ints[2::3], floats[1::3]
    unpacked = unpack_points(data)
    return [p[0] for p in unpacked], [p[2] for p in unpacked], [p[1] for p in unpacked]


def _latest(steps: list[int], stamps: list[int]) -> int:
    """The index of a series' latest point: the highest step, then the latest timestamp,
    then the last logged (what the series upsert also keeps)."""
    top = max(steps)
    if steps.count(top) == 1:  # the common case, in C
        return steps.index(top)
    return max(zip(steps, stamps, range(len(steps)), strict=True))[2]


# Fields of a MetricPoint operation (one point, a plain tuple in its layout).
_VALUE_AT, _TIME_AT, _STEP_AT = map(MetricPoint._fields.index, ("value", "timestamp", "step"))
_LITTLE_ENDIAN = sys.byteorder == "little"


# An existing series takes the batch's points: the count adds up, and the latest point is
# the batch's when its (step, timestamp) is not older. Every SET expression reads the row as
# it was before the update (SQLite and PostgreSQL alike).
_NEWER = (
    "(metric_series.latest_step < excluded.latest_step OR (metric_series.latest_step = "
    "excluded.latest_step AND metric_series.latest_timestamp <= excluded.latest_timestamp))"
)
_MERGE_SERIES = (
    "point_count = metric_series.point_count + excluded.point_count, "
    f"latest_value = CASE WHEN {_NEWER} THEN excluded.latest_value "
    "ELSE metric_series.latest_value END, "
    f"latest_timestamp = CASE WHEN {_NEWER} THEN excluded.latest_timestamp "
    "ELSE metric_series.latest_timestamp END, "
    f"latest_step = CASE WHEN {_NEWER} THEN excluded.latest_step "
    "ELSE metric_series.latest_step END"
)


def _learn_series_ids(
    conn: Connection, missing: list[tuple[str, str]], series: dict[tuple[str, str], int]
) -> None:
    ms = metric_series.c
    run_ids = sorted({run_id for run_id, _ in missing})
    for chunk in in_chunks(run_ids):
        # .all(): one fetch, not a fetchone per row (each hands the GIL over, and waits
        # for it again behind a busy logging thread)
        for sid, run_id, key in conn.execute(
            select(ms.series_id, ms.run_id, ms.key).where(ms.run_id.in_(chunk))
        ).all():
            series[(run_id, key)] = sid


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters in its strings replaced by U+FFFD (nested tuples, lists
    and dicts too); other values as they are."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, tuple):
        return tuple(without_nul(v) for v in value)
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: without_nul(v) for k, v in value.items()}
    return value
