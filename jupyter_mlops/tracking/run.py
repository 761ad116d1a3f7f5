"""Run objects: ``ActiveRun`` (being logged to) and ``Run`` (read back from the store)."""

from __future__ import annotations

import ast
import json
import operator
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidParameterError
from ..store.ids import now_ms
from ..store.ops import (
    ARTIFACT,
    CELL,
    PARAMS,
    POINT,
    TAGS,
    UPDATE,
    Artifact,
    Cell,
    Params,
    RunUpdate,
    Tags,
)
from ..store.schema import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH
from .capture import format_traceback

if TYPE_CHECKING:
    import pandas as pd

    from ..store import RunRecord, Store
    from ..store.writer import PointSeries

_pack_point = POINT.pack  # (step, value, timestamp): one metric point, 24 bytes

FINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


def validate_key(key: Any, what: str = "Key") -> str:
    if not isinstance(key, str) or not key:
        raise InvalidParameterError(f"{what} must be a non-empty string, got {key!r}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"{what} {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}."
        )
    if "\x00" in key:  # PostgreSQL text cannot hold it; refused on every store alike
        raise InvalidParameterError(f"{what} {key!r} contains a NUL character.")
    return key


# Parameter values: one rule for `%%track --param`, `jupyter mlops run -p` and `log_param`.
#
# 1. Text typed on a command line (``--param k=v``, ``-p k=v``, ``-p k v``) is read as a Python
#    literal when it is one that papermill can inject: a number, a quoted string, True/False/
#    None (also true/false/none/null), or a list/dict of those. Anything else stays the text
#    as typed: ``name=big model``, ``path=/data/x.csv``, ``day=2020-01-01`` are strings.
# 2. A value is stored as text: a string as it is, a list/dict/tuple as JSON, anything else
#    as ``str(value)``. So ``--param lr=0.10``, ``-p lr=0.1`` and ``log_param("lr", 0.1)``
#    all store ``'0.1'``.
# 3. A param is immutable, but logging it again with an equal value is not a change: values
#    compare as what they parse to, so ``'1'`` (typed) and ``1.0`` (logged) are one value.


def parse_param_value(raw: str) -> Any:
    """The value of command-line text ``raw`` under the parameter rule (see above)."""
    try:
        value: Any = ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        lowered = raw.strip().lower()
        value = {"true": True, "false": False, "none": None, "null": None}.get(lowered, raw)
    if not injectable_value(value):
        # papermill injects str, numbers, bools, None, lists and dicts; a tuple became the
        # text of the tuple, and a set or bytes failed the run after it had started.
        value = raw
    return value


def injectable_value(value: Any) -> bool:
    """True for the values papermill can write into a notebook (and ``--bind`` assigns)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(injectable_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and injectable_value(v) for k, v in value.items())
    return False


def param_text(key: str, value: Any) -> str:
    """The stored text of param ``key`` (rule 2 above), checked against the store's limits."""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, default=str)
        if isinstance(value, (list, dict, tuple))
        else str(value)
    )
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameterError(
            f"Param {key!r} value is {len(text)} characters; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH}. Log large values as an artifact (mlops.log_artifact) "
            "or a tag."
        )
    if "\x00" in text:
        raise InvalidParameterError(f"Param {key!r} value contains a NUL character.")
    return text


def same_param_value(a: str, b: str) -> bool:
    """Whether two stored param texts are one value (rule 3 above): ``'1'`` and ``'1.0'`` are,
    ``'1'`` and ``'True'`` are not (a bool is not a number here)."""
    if a == b:
        return True

    def comparable(text: str) -> Any:
        value = parse_param_value(text)
        if isinstance(value, bool) or value is None:
            return ("const", value)
        if isinstance(value, (int, float)):
            return ("number", float(value))
        return ("text", json.dumps(value, sort_keys=True) if not isinstance(value, str) else value)

    return comparable(a) == comparable(b)


def tag_text(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterError(
            f"Tag {key!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}."
        )
    if "\x00" in text:
        raise InvalidParameterError(f"Tag {key!r} value contains a NUL character.")
    return text


def metric_value(key: str, value: Any) -> float:
    """A float for the store; NaN and inf are kept, anything non-numeric is refused."""
    if isinstance(value, float):
        return value
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidParameterError(
            f"Metric {key!r} must be a number, got {type(value).__name__} {value!r}."
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"Metric {key!r} must be a number, got {type(value).__name__} {value!r}."
        ) from None
    except OverflowError:  # an int beyond float's range: float() would raise a bare error
        raise InvalidParameterError(
            f"Metric {key!r} value {str(value)[:40]}... is too large for a float."
        ) from None


def metric_timestamp(key: str, timestamp: Any) -> int:
    """A point's timestamp in ms since the epoch, as an int (64 bits)."""
    number = _whole_number(timestamp)
    if number is None or not STEP_MIN <= number <= STEP_MAX:
        raise InvalidParameterError(
            f"Metric {key!r} timestamp must be an integer of ms since the epoch, got {timestamp!r}."
        )
    return number


# Steps are stored as 64-bit integers (BIGINT); a larger one would fail in the writer.
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1


def metric_step(key: str, step: Any) -> int:
    """An int step: ints, integer-valued floats and numpy integers (``np.arange`` loops) are
    accepted; bools, strings and out-of-range values are refused, naming the key."""
    number = _whole_number(step)
    if number is None:
        raise InvalidParameterError(f"Metric {key!r} step must be an integer, got {step!r}.")
    if not STEP_MIN <= number <= STEP_MAX:
        raise InvalidParameterError(
            f"Metric {key!r} step {number} is out of range; steps are 64-bit integers."
        )
    return number


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number: an int, a numpy integer, an integer-valued
    float (numpy's too); None for anything else, bools included."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return operator.index(value)  # int and numpy integer types
    except TypeError:
        pass
    if hasattr(value, "is_integer"):  # numpy floats
        try:
            return int(value) if value.is_integer() else None
        except (TypeError, ValueError, OverflowError):
            return None
    return None


class StoredPaths(list):
    """The artifact paths ``log_artifact`` stored: a list that a notebook does not display
    when a cell ends with the call (no stray ``Out[n]``); ``print`` or ``list`` shows it."""

    def _ipython_display_(self) -> None:
        return None


class ActiveRun:
    """A run being logged to. Used as a context manager by ``start_run``."""

    def __init__(
        self, store: Store, row: dict[str, Any], on_end: Callable[[ActiveRun], None] | None = None
    ) -> None:
        self.store = store
        self.run_id: str = row["run_id"]
        self.name: str = row["name"]
        self.experiment_id: str = row["experiment_id"]
        self.parent_run_id: str | None = row["parent_run_id"]
        self.start_time: int = row["start_time"]
        self.pid: int = row["pid"]  # the process that started it (see __exit__)
        self.status = "RUNNING"
        self.params: dict[str, str] = {}
        self.listeners: list[Callable[[ActiveRun], None]] = []  # called when the run ends
        self._steps: dict[str, int] = {}
        self._writer = store.writer
        # The points of each metric key not yet queued (writer.py's PointSeries), registered
        # with the writer at the first point; a fresh one after the run ended.
        self._series: PointSeries | None = None
        self._buffers: dict[str, bytearray] = {}
        self._on_end = on_end

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name!r} {self.run_id} {self.status}>"

    # context manager ----------------------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.status != "RUNNING" or self.pid != os.getpid():
            # A forked child leaving the parent's `with` block (sys.exit, an exception) must
            # not end the run the parent is still logging to.
            return
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("KILLED", error="KeyboardInterrupt")
        else:
            self.end("FAILED", error=format_traceback(exc, tb))

    # logging --------------------------------------------------------------------------------
    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: int | None = None
    ) -> None:
        # The hot path (a training loop's every step): no operation object is built; the
        # point is packed onto its series' buffer, which the writer queues (store/ops.py).
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._new_series(key)
        if type(value) is not float:
            value = metric_value(key, value)
        if step is None:
            step = self._steps.get(key, -1) + 1
        elif type(step) is not int or not STEP_MIN <= step <= STEP_MAX:
            step = metric_step(key, step)
        self._steps[key] = step
        now = time.time()
        if timestamp is None:
            buffer += _pack_point(step, value, int(now * 1000))
        else:
            buffer += _pack_point(step, value, metric_timestamp(key, timestamp))
        if now > self._writer.journal_due:
            self._writer.journal_overdue()

    def _new_series(self, key: str) -> bytearray:
        validate_key(key, "Metric key")
        if self._series is None:
            self._series = self._writer.point_series(self.run_id)
            self._buffers = self._series.buffers
        return self._writer.add_series(self._series, key)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise InvalidParameterError(
                f"log_metrics expects a dict, got {type(metrics).__name__}."
            )
        if step is not None and (type(step) is not int or not STEP_MIN <= step <= STEP_MAX):
            step = metric_step(next(iter(metrics), "?"), step)
        # Check every key and value before logging any: one bad value must not leave the
        # batch half logged (the first keys stored, the rest not).
        checked = []
        for key, value in metrics.items():
            if key not in self._buffers:
                validate_key(key, "Metric key")
            checked.append((key, value if type(value) is float else metric_value(key, value)))
        stamp = int(time.time() * 1000)
        for key, value in checked:
            self.log_metric(key, value, step, stamp)

    def log_params(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params, Mapping):
            raise InvalidParameterError(f"log_params expects a dict, got {type(params).__name__}.")
        items = []
        for key, value in params.items():
            validate_key(key, "Param key")
            text = param_text(key, value)
            previous = self.params.get(key)
            if previous is not None and same_param_value(previous, text):
                continue  # the same value again ('1' typed, 1.0 logged): nothing changes
            if previous is not None:
                raise InvalidParameterError(
                    f"Param {key!r} was already logged as {previous!r} in this run; params "
                    f"are immutable (got {text!r}). Use a metric or a tag for changing values."
                )
            items.append((key, text))
        for key, text in items:
            self.params[key] = text
        if items:
            self._writer.submit(Params(PARAMS, self.run_id, items))

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not isinstance(tags, Mapping):
            raise InvalidParameterError(f"set_tags expects a dict, got {type(tags).__name__}.")
        items = [(validate_key(k, "Tag key"), tag_text(k, v)) for k, v in tags.items()]
        if items:
            self._writer.submit(Tags(TAGS, self.run_id, items))

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> StoredPaths:
        stored = self.store.artifacts.put(self.run_id, local_path, artifact_path)
        stamp = now_ms()
        for relative, size in stored:
            self._writer.submit(Artifact(ARTIFACT, self.run_id, relative, size, stamp))
        return StoredPaths(relative for relative, _ in stored)

    def log_artifact_bytes(self, relative: str, data: bytes) -> str:
        path, size = self.store.artifacts.put_bytes(self.run_id, relative, data)
        self._writer.submit(Artifact(ARTIFACT, self.run_id, path, size, now_ms()))
        return path

    def record_cell(self, row: Mapping[str, Any]) -> None:
        """Add one executed cell (position, execution_count, cell_id, source, start_time,
        duration_ms, status, error) to the run's cell timeline."""
        self._writer.submit(Cell(CELL, self.run_id, dict(row)))

    def update(self, **values: Any) -> None:
        """Set captured run columns (source, stdout, notebook_path, ...)."""
        self._writer.submit(RunUpdate(UPDATE, self.run_id, values))

    def update_later(self, compute: Callable[[], dict[str, Any]]) -> None:
        """Set run columns that are slow to compute (package metadata, git) off the caller's
        thread, after the captures queued before (``flush`` waits for them)."""
        run_id = self.run_id
        self._writer.submit_call(lambda: (run_id, compute()))

    # ending ---------------------------------------------------------------------------------
    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        status = str(status).upper()
        if status not in FINAL_STATUSES:
            raise InvalidParameterError(
                f"end_run status must be one of {', '.join(FINAL_STATUSES)}, got {status!r}."
            )
        if self.status != "RUNNING":
            return
        self.status = status
        values: dict[str, Any] = {"status": status, "end_time": now_ms()}
        if error is not None:
            values["error"] = error
        self._writer.submit(RunUpdate(UPDATE, self.run_id, values))
        self._writer.active_runs.discard(self.run_id)
        if self._series is not None:
            # Points logged after the end (a reference kept) go to a series of their own.
            self._writer.retire(self._series)
            self._series, self._buffers = None, {}
        self._writer.wake()
        if self._writer.child_process:
            # A multiprocessing worker may be killed or os._exit right after
            # its task returns: make the ended run durable before returning (in the
            # journal is durable too, when the store is down: no worker waits a minute).
            self._writer.flush(journaled_is_enough=True)
        if self._on_end is not None:
            self._on_end(self)
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception:
                traceback.print_exc()

    # reading back ---------------------------------------------------------------------------
    def to_run(self) -> Run:
        return Run(self.store, self.store.get_run(self.run_id))

    @property
    def info(self) -> ActiveRun:  # MLflow compatibility: run.info.run_id
        return self


class Run:
    """A run read from the store (``mlops.get_run``)."""

    def __init__(self, store: Store, record: RunRecord) -> None:
        self._store = store
        self.record = record

    def __repr__(self) -> str:
        r = self.record
        return f"<Run {r.name!r} {r.run_id} {r.status} metrics={r.metrics}>"

    def __getattr__(self, name: str) -> Any:
        if name == "record":  # not yet set during unpickling
            raise AttributeError(name)
        return getattr(self.record, name)

    @property
    def info(self) -> RunRecord:  # MLflow compatibility: run.info.run_id
        return self.record

    @property
    def cells(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [asdict(c) for c in self.record.cells or []],
            columns=[
                "position",
                "execution_count",
                "cell_id",
                "source",
                "start_time",
                "duration_ms",
                "status",
                "error",
            ],
        )

    @property
    def duration(self) -> float | None:
        r = self.record
        return None if r.end_time is None else (r.end_time - r.start_time) / 1000.0

    def history(self, key: str, max_points: int | None = None) -> pd.DataFrame:
        """The points of metric ``key`` (``step``, ``timestamp``, ``value``), by step.

        ``max_points`` downsamples in SQL to at most that many evenly spaced points.
        """
        import pandas as pd

        data = self._store.metric_history(self.record.run_id, key, max_points)
        frame = pd.DataFrame(
            {
                "step": data["step"],
                "value": data["value"],
                "timestamp": pd.to_datetime(data["timestamp"], unit="ms", utc=True),
            }
        )
        frame.attrs["total_points"] = data["total_points"]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data: the REST API's RunDetail (docs/rest-api.md)."""
        from ..wire import run_detail

        return run_detail(self.record)
