"""The module-level tracking API (``import jupyter_mlops as mlops``), MLflow-style.

State is per process: the store in use, the experiment set by ``set_experiment`` and the stack
of active runs (a run started while another is active becomes its child).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..config import EXPERIMENT_ENV, PARENT_RUN_ENV, STORE_ENV, env, normalize_store_url
from ..exceptions import (
    InvalidFilterError,
    InvalidParameterError,
    NoActiveRunError,
    StoreTimeoutError,
)
from ..store import DEFAULT_EXPERIMENT, Store
from ..store.diffs import UPDATE_KEY as GIT_DIFF_KEY
from ..store.diffs import git_columns
from ..store.fork import in_multiprocessing_child
from ..store.ops import RUN, RunCreated
from ..store.validation import check_run_columns, validate_name, validate_run_id
from ..store.writer import Writer
from .capture import GIT_CACHE_S, environment_info, git_info
from .filter_hints import with_hint
from .run import ActiveRun, Run, param_text, tag_text, validate_key

if TYPE_CHECKING:
    import pandas as pd  # imported lazily: pandas costs ~0.4 s at kernel start


_lock = threading.RLock()
_store: Store | None = None
_store_url: str | None = None
_store_offline: bool | None = None
# Why the last set_store failed: until a store is set again, tracking calls raise this
# rather than quietly falling back to another store.
_store_error: Exception | None = None
_experiment: str | None = None
_run_stack: list[ActiveRun] = []  # every active run of the process, in start order
# The active runs of each thread (by thread ident), innermost last. Logging calls go to the
# calling thread's own innermost run: four threads each inside `with start_run()` must not
# log into each other's runs or become each other's children. A thread without a run of
# its own (a data loader, a callback thread) logs into the main thread's run (the cell's).
_thread_stacks: dict[int, list[ActiveRun]] = {}
_get_ident = threading.get_ident
# Environment values as they were before set_store / set_experiment exported theirs.
_UNSET = object()
_saved_env: dict[str, Any] = {}
# Hooks for front ends (the live widget), called with each new ActiveRun and its options.
run_started_hooks: list[Callable[[ActiveRun, dict[str, Any]], None]] = []


def get_store() -> Store:
    """The store in use, opened on first use (see ``set_store`` for the resolution order)."""
    global _store
    store = _store
    if store is not None:
        return store
    with _lock:
        if _store is None:
            if _store_error is not None:
                raise type(_store_error)(
                    f"{_store_error} (set_store failed; no store is in use until "
                    "mlops.set_store succeeds)"
                ) from None
            _store = Store(_store_url, offline=_store_offline)
            _exit_with_multiprocessing_children()
        return _store


def set_store(url: str | os.PathLike[str] | None, *, offline: bool | None = None) -> Store:
    """Use the store at ``url`` (SQLAlchemy URL or file path) from now on in this process.

    ``None`` goes back to the environment/config/default resolution. The store is opened (and
    created or upgraded) at once, so a bad URL fails here, naming it; until a later
    ``set_store`` succeeds, tracking calls raise too (they never fall back to another store).
    ``offline=True`` (default: ``JUPYTER_MLOPS_OFFLINE``) logs to the local journal only,
    without touching the database; ``jupyter mlops sync`` writes it later.
    """
    global _store, _store_url, _store_offline, _store_error
    with _lock:
        if _run_stack:
            raise InvalidParameterError(
                "Cannot switch stores while a run is active; end it first (mlops.end_run())."
            )
        if url is None:
            _export(STORE_ENV, None)  # the environment as it was, before resolving with it
        try:
            # Normalized here, so "" or a non-string is an error rather than "the default".
            new = Store(normalize_store_url(url) if url is not None else None, offline=offline)
        except Exception as exc:
            old, _store, _store_error = _store, None, exc
            if old is not None:
                old.close()
            raise
        _exit_with_multiprocessing_children()
        _store_error, _store_offline = None, offline
        old, _store, _store_url = _store, new, new.url if url is not None else None
        if url is not None:
            # Exported, as MLflow's set_tracking_uri does: processes this one starts (spawned
            # or forkserver multiprocessing workers, subprocesses) log to the same store.
            _export(STORE_ENV, new.url)
    if old is not None and old.url != new.url:
        old.close()
    return new


def reset() -> None:
    """End active runs, close the store and forget the experiment (a fresh process state)."""
    global _store, _store_url, _experiment, _store_error, _store_offline
    with _lock:
        for run in list(reversed(_run_stack)):
            run.end("KILLED", error="tracking state was reset")
        _run_stack.clear()
        _thread_stacks.clear()
        if _store is not None:
            _store.close()
        _store, _store_url, _experiment = None, None, None
        _store_error = _store_offline = None
        for variable in list(_saved_env):
            _export(variable, None)


def set_experiment(name: str) -> str | None:
    """Make ``name`` the experiment of new runs (created when first used). Returns its id
    (None when logging offline: the experiment is created when the runs are synced)."""
    global _experiment
    name = validate_name(name, "Experiment name")
    # None offline (or while the store is unavailable): created when the runs reach it.
    experiment_id = get_store().experiment_id_for_logging(name)
    _experiment = name
    _export(EXPERIMENT_ENV, name)  # for child processes, as set_store does
    return experiment_id


def _export(variable: str, value: str | None) -> None:
    """Set ``variable`` for child processes, or (None) put back what it was before."""
    with _lock:
        if value is not None:
            _saved_env.setdefault(variable, os.environ.get(variable, _UNSET))
            os.environ[variable] = value
            return
        previous = _saved_env.pop(variable, None)
        if previous is None:
            return
        if previous is _UNSET:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous


def active_experiment() -> str | None:
    """The experiment set in this process, or inherited through the environment (a child
    process); None when neither names one."""
    return _experiment or env(EXPERIMENT_ENV) or None


def current_experiment() -> str:
    return active_experiment() or DEFAULT_EXPERIMENT


def active_runs() -> list[ActiveRun]:
    """The active runs of this process, outermost first."""
    return list(_run_stack)


def _enclosing_run() -> ActiveRun | None:
    """The run a new run of this thread nests in: this thread's innermost, else the main
    thread's (a worker of a tracked cell), never another worker thread's."""
    stack = _thread_stacks.get(threading.get_ident()) or _thread_stacks.get(
        threading.main_thread().ident or 0
    )
    return stack[-1] if stack else None


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread; in a thread without runs of its own, the main
    thread's, or the one thread's that has runs; None when no run is active (or it would be
    a guess between several threads' runs)."""
    if not _run_stack:
        return None
    run = _enclosing_run()
    if run is None:
        stacks = [stack for stack in list(_thread_stacks.values()) if stack]
        if len(stacks) == 1:
            run = stacks[0][-1]
    return run


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise NoActiveRunError(
            "No active run: use `with mlops.start_run():`, `%%track` or `%track start` first."
        )
    return run


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    parent: str | ActiveRun | Run | None = None,
    kind: str = "api",
    live: bool | None = None,
    capture: bool = True,
    **columns: Any,
) -> ActiveRun:
    """Start a run; use as ``with mlops.start_run(...) as run:`` or end it with ``end_run``.

    A run started while another is active becomes its child. ``live`` shows the live metrics
    view under the cell (default: on in widget-capable front ends).
    """
    if columns:
        unknown = sorted(set(columns) - RUN_COLUMNS)
        if unknown:
            # Extra keywords become run columns; SQLAlchemy ignores keys that are not, so a
            # typo (start_run(param={...}), tag=...) would silently lose what it carried.
            raise InvalidParameterError(
                f"start_run() got an unexpected keyword argument {unknown[0]!r}; "
                "use params={...} and tags={...}."
            )
    # Check everything the caller gave before touching the store: a bad param must not
    # leave a new experiment (or anything else) behind.
    run_params = {}
    if params and not isinstance(params, Mapping):
        raise InvalidParameterError(f"params must be a dict, got {type(params).__name__}.")
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidParameterError(f"tags must be a dict, got {type(tags).__name__}.")
    for key, value in (params or {}).items():
        run_params[validate_key(key, "Param key")] = param_text(key, value)
    run_tags = [(validate_key(k, "Tag key"), tag_text(k, v)) for k, v in (tags or {}).items()]
    if name is not None:
        name = validate_name(name, "Run name")
    if parent is None or isinstance(parent, str):
        parent_id = parent or None
    elif isinstance(getattr(parent, "run_id", None), str):  # an ActiveRun or a Run read back
        parent_id = parent.run_id
    else:
        # It would reach the database as the parent id and fail there, losing the run.
        raise InvalidParameterError(
            f"parent must be a run or a run id, got {type(parent).__name__} {parent!r}."
        )
    if parent_id is not None:
        parent_id = validate_run_id(parent_id, "parent")
    if "run_id" in columns:
        columns["run_id"] = validate_run_id(columns["run_id"], "run_id")
    check_run_columns(columns)
    store = get_store()
    experiment_name = experiment if experiment is not None else current_experiment()
    experiment_name = validate_name(experiment_name, "Experiment name")
    experiment_id = store.experiment_id_for_logging(experiment_name)
    if parent_id is None:
        enclosing = _enclosing_run()
        parent_id = enclosing.run_id if enclosing is not None else None
    if parent_id is None:
        # `jupyter mlops run` (and pipelines) make the notebook's own runs its children.
        parent_id = env(PARENT_RUN_ENV) or None
    row = store.new_run_row(
        name=name or "", experiment_id=experiment_id, kind=kind, parent_run_id=parent_id, **columns
    )
    if not name:
        # The id's tail: its head is a timestamp, shared by every run of the same minute.
        row["name"] = f"run-{row['run_id'][-8:]}"
    run = ActiveRun(store, row, on_end=_pop)
    run.params.update(run_params)
    writer = store.writer
    writer.submit(RunCreated(RUN, row, list(run_params.items()), run_tags, experiment_name))
    writer.active_runs.add(run.run_id)
    if capture:
        notebook = row.get("notebook_path")
        writer.submit_batched("capture", _capture_runs, (run.run_id, notebook, writer))
    with _lock:
        _run_stack.append(run)
        _thread_stacks.setdefault(threading.get_ident(), []).append(run)
    for hook in list(run_started_hooks):
        hook(run, {"live": live})
    return run


# Run columns a caller (the magics, headless notebooks) may set through start_run(**columns).
RUN_COLUMNS = frozenset(
    {
        "run_id",
        "notebook_path",
        "execution_count",
        "cell_id",
        "source",
        "stdout",
        "error",
        "git",
        "environment",
        "user",
        "host",
        "pid",
    }
)


# where -> (monotonic time, modules imported, cwd, git, environment JSON): the runs of a sweep
# share one capture for GIT_CACHE_S (git is read again after that, and the environment as
# soon as a module is imported), so a run costs dictionary lookups, not system calls.
_capture_cache: dict[str, tuple[float, int, str, dict[str, Any] | None, str]] = {}


def _capture_columns(notebook: str | None, writer: Writer) -> dict[str, Any]:
    import json
    import time

    cwd = os.getcwd()
    where = os.path.dirname(os.path.abspath(notebook)) if notebook else cwd
    now, modules = time.monotonic(), len(sys.modules)
    cached = _capture_cache.get(where)
    if cached is None or now - cached[0] >= GIT_CACHE_S or cached[1:3] != (modules, cwd):
        git = git_info(where)
        cached = (now, modules, cwd, git, json.dumps(environment_info()))
        _capture_cache[where] = cached
    return {**git_columns(cached[3], writer.git_diffs_sent), "environment": cached[4]}


def _capture_runs(
    items: list[tuple[str, str | None, Writer]],
) -> list[tuple[str, dict[str, Any]]]:
    """The capture of every run started since the capture thread last looked: one capture
    per notebook folder, taken now, after each of these runs started (as a capture of its
    own would be), not a system call per run."""
    updates = []
    shared: dict[str | None, dict[str, Any]] = {}
    for run_id, notebook, writer in items:
        columns = shared.get(notebook)
        if columns is None:
            columns = _capture_columns(notebook, writer)
            # The git diff's text goes with the first run only (store/diffs.py).
            shared[notebook] = {k: v for k, v in columns.items() if k != GIT_DIFF_KEY}
        else:
            columns = dict(columns)
        updates.append((run_id, columns))
    return updates


def _pop(run: ActiveRun) -> None:
    with _lock:
        if run in _run_stack:
            _run_stack.remove(run)
        # A run may be ended from another thread than the one that started it.
        for ident, stack in list(_thread_stacks.items()):
            if run in stack:
                stack.remove(run)
                if not stack:
                    del _thread_stacks[ident]


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run with ``status`` (FINISHED, FAILED or KILLED)."""
    run = _require_run()
    run.end(status)


def attach_run(run_id: str) -> ActiveRun:
    """Log into a run that another process started and will end; returns it, active here.

    A pipeline step's kernel does this: the pipeline process owns the step's run (status,
    duration, artifacts), and ``mlops.log_metric`` in the step's code lands in it. The run
    keeps its owner's pid, so ``with`` blocks and this process's exit leave it running;
    ``detach_run`` stops logging into it.
    """
    store = get_store()
    record = store.get_run(run_id)
    row = {
        "run_id": record.run_id,
        "name": record.name,
        "experiment_id": record.experiment_id,
        "parent_run_id": record.parent_run_id,
        "start_time": record.start_time,
        "pid": record.pid if record.pid is not None else -1,
    }
    run = ActiveRun(store, row, on_end=_pop)
    with _lock:
        _run_stack.append(run)
        _thread_stacks.setdefault(threading.get_ident(), []).append(run)
    return run


def detach_run(run: ActiveRun) -> None:
    """Stop logging into a run taken with ``attach_run``; it stays as its owner leaves it."""
    _pop(run)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric point; returns at once (the background writer stores it)."""
    stack = _thread_stacks.get(_get_ident())  # the hot path: one dict lookup
    (stack[-1] if stack else _require_run()).log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _require_run().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _require_run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_run().log_params(params)


def set_tag(key: str, value: Any, run_id: str | None = None) -> None:
    """Tag the active run, or any run (finished or not) given by ``run_id``."""
    set_tags({key: value}, run_id=run_id)


def set_tags(tags: Mapping[str, Any], run_id: str | None = None) -> None:
    """Tag the active run, or any run (finished or not) given by ``run_id``."""
    if run_id is not None:
        from .manage import set_run_tags

        set_run_tags(run_id, tags)
        return
    _require_run().set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Copy a file or directory into the active run's artifacts. Returns the stored paths."""
    return _require_run().log_artifact(local_path, artifact_path)


def flush(timeout: float | None = 60.0) -> None:
    """Wait until every logged value is committed to the store."""
    store = _store
    if store is not None and not store.writer.flush(timeout):
        # Locked by another process or unreachable: an MLOpsError like every store problem,
        # and still a TimeoutError for callers catching that.
        why = store.writer.problem or "locked by another process, or unreachable"
        where = store.writer.journal_path or store.journal_root
        raise StoreTimeoutError(
            f"Store {store.display_url!r} did not accept writes within {timeout} s ({why}). "
            f"{store.writer.pending()} logged operations are kept in the journal {where}; "
            "they will be written when the store is back (or by `jupyter mlops sync`)."
        )


def get_run(run_id: str) -> Run:
    """A run read back from the store, with ``.params``, ``.metrics``, ``.history(key)``..."""
    store = get_store()
    # The one rule for run ids (Store.resolve_run_id): an exact id, else a unique prefix.
    return Run(store, store.get_run(store.resolve_run_id(run_id)))


SUMMARY_COLUMNS = [
    "run_id",
    "name",
    "experiment",
    "status",
    "start_time",
    "end_time",
    "parent_run_id",
    "notebook_path",
]


def runs(
    experiment: str | list[str] | None = None,
    filter: str | None = None,  # noqa: A002
    order_by: str | list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame: one row per run, ``params.<k>``, ``metrics.<k>``, ``tags.<k>``.

    All experiments when none is given and none is active (``set_experiment``, or
    ``JUPYTER_MLOPS_EXPERIMENT``, which child processes inherit).
    """
    if (
        experiment is not None
        and not isinstance(experiment, str)
        and not (
            isinstance(experiment, (list, tuple, set))
            and all(isinstance(n, str) for n in experiment)
        )
    ):
        raise InvalidParameterError(
            f"experiment must be a name or a list of names, got {experiment!r}."
        )
    store = get_store()
    names = [experiment] if isinstance(experiment, str) else experiment
    active = active_experiment()
    if names is None and active:
        names = [active]
    experiment_ids = None
    if names is not None:
        known = {e["name"]: e["experiment_id"] for e in store.list_experiments()}
        experiment_ids = [known[n] for n in names if n in known]
    try:
        records, _ = store.search_runs(
            experiment_ids=experiment_ids,
            filter=filter,
            order_by=order_by,
            limit=limit,
            count=False,
        )
    except InvalidFilterError as exc:
        raise with_hint(exc, filter) from None  # an unquoted date: say to quote it
    return records_frame(records)


def records_frame(records: list[Any]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for r in records:
        row = {c: getattr(r, c) for c in SUMMARY_COLUMNS}
        row.update({f"params.{k}": v for k, v in r.params.items()})
        row.update({f"metrics.{k}": v for k, v in r.metrics.items()})
        row.update({f"tags.{k}": v for k, v in r.tags.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    ordered = (
        SUMMARY_COLUMNS
        + sorted(c for c in frame.columns if c.startswith("params."))
        + sorted(c for c in frame.columns if c.startswith("metrics."))
        + sorted(c for c in frame.columns if c.startswith("tags."))
    )
    return frame[ordered]


class _ExitHook:
    """multiprocessing keys after-fork callbacks by a weakly referenced object: this one."""


_exit_hook: _ExitHook | None = None


def _exit_with_multiprocessing_children() -> None:
    """multiprocessing's children leave through os._exit, skipping atexit: end their open
    runs from multiprocessing's exit finalizers instead, as ``_at_exit`` does at exit."""
    global _exit_hook
    if _exit_hook is not None:
        return
    import multiprocessing.util as mp_util

    _exit_hook = _ExitHook()

    def _in_child(_hook: _ExitHook) -> None:
        mp_util.Finalize(None, _at_exit, exitpriority=20)  # before the writer's own drain

    mp_util.register_after_fork(_exit_hook, _in_child)
    if in_multiprocessing_child():  # spawn / forkserver: this process is already a child
        _in_child(_exit_hook)


def _in_ipython() -> bool:
    shell_module = sys.modules.get("IPython")
    return shell_module is not None and shell_module.get_ipython() is not None


@atexit.register
def _at_exit() -> None:
    """Finish runs left open and drain the writer so nothing logged is lost.

    A script that dies of an uncaught exception ends its open runs FAILED (KILLED for
    Ctrl-C) with the traceback, not FINISHED: the interpreter leaves the exception in
    ``sys.last_value`` when it prints it. IPython sets that for every failed cell too, so
    in IPython the runs still left open are simply FINISHED.
    """
    status, error = "FINISHED", None
    fatal = getattr(sys, "last_value", None)
    if isinstance(fatal, BaseException) and not _in_ipython():
        status = "KILLED" if isinstance(fatal, KeyboardInterrupt) else "FAILED"
        error = "".join(traceback.format_exception(fatal))
    for run in list(reversed(_run_stack)):
        if run.pid != os.getpid():
            continue  # a forked child's copy of its parent's run: the parent ends it
        with contextlib.suppress(Exception):
            run.end(status, error=error)
    store = _store
    if store is not None:
        store.writer.close()
