"""The Store: one object per store URL, holding the engine, the writer and the queries.

Reads flush this process's pending writes first, so a process always reads its own writes.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import func, literal, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)

from ..config import (
    OFFLINE_ENV,
    env_flag,
    mask_url,
    resolve_artifacts_url,
    resolve_store_url,
    tunables,
)
from ..exceptions import (
    InvalidParameterError,
    RunNotFoundError,
    StoreOfflineError,
    StoreRefusedError,
    StoreTimeoutError,
    StoreUnreachableError,
)
from . import history, reaper
from .artifacts import ArtifactStore
from .dialect import in_chunks
from .diffs import with_diff
from .engine import WRITE, create_store_engine, ensure_schema
from .filters import compile_filter, compile_order_by, search_condition
from .fork import register_fork_handler
from .ids import new_run_id, now_ms
from .journal import journal_root
from .mutations import RunMutations, lifecycle_condition
from .records import CellRecord, RunRecord, load_json
from .schema import experiments, metric_series, params, run_cells, runs, tags
from .validation import check_max_points, check_page, check_statuses, validate_name
from .writer import Writer

if TYPE_CHECKING:
    from traitlets.config import Config

DEFAULT_EXPERIMENT = "Default"
# How long a read waits for this process's own logged operations to reach the database.
READ_FLUSH_TIMEOUT_S = 60.0

P = ParamSpec("P")
R = TypeVar("R")


# Public Store methods that never touch the database themselves (or are offline-aware):
# every other public method goes through ``_database_errors_typed`` (see ``_guarded``).
NO_DATABASE = frozenset({"close", "flush", "new_run_row", "experiment_id_for_logging"})


def _database_errors_typed(
    method: Callable[Concatenate[Store, P], R],
) -> Callable[Concatenate[Store, P], R]:
    """The one place a Store method's database errors become typed errors.

    A database that went away (or stayed locked past the busy timeout) after the store was
    opened is a StoreUnreachableError naming the masked URL, as at opening, not a raw
    SQLAlchemy OperationalError with its SQL. A value, constraint or comparison the database
    refuses (DataError, IntegrityError, ProgrammingError) is a StoreRefusedError. An offline
    store has no database to read."""

    @functools.wraps(method)
    def wrapper(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.offline:
            raise StoreOfflineError(
                f"Store {self.display_url!r} is offline ({OFFLINE_ENV}=1): runs are logged to "
                f"the journal in {self.journal_root} and cannot be read until `jupyter mlops "
                "sync` writes them to the store."
            )
        try:
            return method(self, *args, **kwargs)
        except (DataError, IntegrityError, ProgrammingError, NotSupportedError) as exc:
            raise StoreRefusedError(
                f"Store {self.display_url!r} refused the request: {_driver_reason(exc)}"
            ) from None
        except (DBAPIError, DisconnectionError) as exc:  # locked, gone, not a database
            raise StoreUnreachableError(
                f"Store {self.display_url!r} is unavailable: {_driver_reason(exc)}"
            ) from None

    wrapper.database_errors_typed = True  # type: ignore[attr-defined]
    return wrapper


def _driver_reason(exc: Exception) -> str:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return reason[0] if reason else type(exc).__name__


StoreT = TypeVar("StoreT", bound=type)


def _guarded(cls: StoreT) -> StoreT:
    """Wrap every public method of ``cls`` (its bases' included, such as the mutations) but
    those in NO_DATABASE, so no method can be added that lets a driver error out raw."""
    for name in dir(cls):
        if name.startswith("_") or name in NO_DATABASE:
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            setattr(cls, name, _database_errors_typed(attr))
    return cls


def offline_from_env() -> bool:
    return env_flag(OFFLINE_ENV) is True


@_guarded
class Store(RunMutations):
    """A run store at a SQLAlchemy URL (see ``config.resolve_store_url``)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        reap: bool = True,
        config: Config | None = None,
        offline: bool | None = None,
        replay: bool = True,
    ) -> None:
        """``config``: extra traitlets config with ``c.MLOps`` settings (the server's).
        ``offline`` (default: ``JUPYTER_MLOPS_OFFLINE``): log to the journal only, never
        touching the database. ``replay``: apply journals that dead processes left behind."""
        self.url = resolve_store_url(url, config)
        self.offline = offline_from_env() if offline is None else offline
        self.journal_root = journal_root(self.url)
        self.sqlite_path = _sqlite_file(self.url)
        self.artifacts = ArtifactStore(resolve_artifacts_url(self.url, config))
        self._experiment_ids: dict[str, str] = {}
        settings = tunables(config)
        interval, batch_size = settings.writer_interval, settings.writer_batch_size
        if self.offline:
            # No database: every method that would use the engine raises StoreOfflineError
            # first (``_database_errors_typed``), so code past that check types it as present.
            self.engine = None  # type: ignore[assignment]
            self.writer = Writer(
                None,
                journal_root=self.journal_root,
                store_url=self.url,
                offline=True,
                interval=interval,
                batch_size=batch_size,
            )
            register_fork_handler(self.writer)
            return
        self.engine = create_store_engine(self.url)
        ensure_schema(self.engine, self.url)
        self.writer = Writer(
            self.engine,
            journal_root=self.journal_root,
            store_url=self.url,
            sqlite_path=self.sqlite_path,
            on_store_replaced=lambda: ensure_schema(self.engine, self.url),
            interval=interval,
            batch_size=batch_size,
        )
        register_fork_handler(self.writer)
        if replay:
            from .replay import replay_orphans

            replay_orphans(self)
        if reap:
            self.reap_dead_runs()

    def __repr__(self) -> str:
        return f"Store({mask_url(self.url)!r})"

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    def close(self) -> None:
        self.writer.close()
        if self.engine is not None:
            self.engine.dispose()

    def flush(self, timeout: float | None = READ_FLUSH_TIMEOUT_S) -> None:
        """Wait until this process's logged operations are in the database (so a read sees
        them). Raises at once when the store is not accepting them right now, and
        StoreTimeoutError when they are not written within ``timeout``: a read must not
        silently miss what this process logged."""
        writer = self.writer
        if writer.offline:
            return
        if writer.problem is not None and writer.pending():
            raise StoreUnreachableError(self._not_written_message(writer.problem))
        if not writer.flush(timeout):
            raise StoreTimeoutError(
                self._not_written_message(
                    writer.problem or f"not written within {timeout} s (locked by another process?)"
                )
            )

    def _not_written_message(self, why: str) -> str:
        where = self.writer.journal_path or self.journal_root
        return (
            f"Store {self.display_url!r} is not accepting writes ({why}). "
            f"{self.writer.pending()} logged operations are kept in the journal {where}; "
            "they will be written when the store is back (or by `jupyter mlops sync`)."
        )

    # -- experiments -----------------------------------------------------------------------
    def experiment_id_for_logging(self, name: str) -> str | None:
        """The id of experiment ``name`` for a new run, or None when the database cannot be
        asked now (offline, or unavailable): the run then carries the name, and the writer
        resolves it when the run reaches the store."""
        name = validate_name(name, "Experiment name")
        cached = self._experiment_ids.get(name)
        if cached or self.offline:
            return cached
        try:
            return self.experiment_id(name)
        except StoreUnreachableError:
            return None

    def experiment_id(self, name: str, create: bool = True) -> str:
        """Id of the experiment called ``name``, created on first use."""
        name = validate_name(name, "Experiment name")
        cached = self._experiment_ids.get(name)
        if cached:
            return cached
        query = select(experiments.c.experiment_id).where(experiments.c.name == name)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        if found is None:
            if not create:
                raise InvalidParameterError(f"No experiment named {name!r}.")
            try:
                with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    found = conn.execute(query).scalar()
                    if found is None:
                        found = uuid.uuid4().hex
                        conn.execute(
                            experiments.insert().values(
                                experiment_id=found, name=name, creation_time=now_ms()
                            )
                        )
            except IntegrityError:
                # Another process created it between our read and insert (PostgreSQL reads
                # committed data, so two first runs of a new experiment can race): use theirs.
                with self.engine.connect() as conn:
                    found = conn.execute(query).scalar()
                if found is None:
                    raise
        self._experiment_ids[name] = found
        return found

    def list_experiments(self) -> list[dict[str, Any]]:
        self.flush()
        count = (
            select(runs.c.experiment_id, func.count().label("n"))
            .group_by(runs.c.experiment_id)
            .subquery()
        )
        query = (
            select(experiments, func.coalesce(count.c.n, 0).label("run_count"))
            .outerjoin(count, count.c.experiment_id == experiments.c.experiment_id)
            .order_by(experiments.c.name)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- runs ------------------------------------------------------------------------------
    def new_run_row(
        self,
        *,
        name: str,
        experiment_id: str | None,
        kind: str,
        parent_run_id: str | None = None,
        run_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        if run_id is None:
            run_id, stamp = new_run_id()
        else:
            stamp = now_ms()
        row = {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "name": name,
            "kind": kind,
            "status": "RUNNING",
            "start_time": stamp,
            "end_time": None,
            "last_update_time": stamp,
            "heartbeat": stamp,
            "parent_run_id": parent_run_id,
            "user": USER,
            "host": reaper.HOST,
            "pid": os.getpid(),
            "notebook_path": None,
            "execution_count": None,
            "cell_id": None,
            "source": None,
            "stdout": None,
            "error": None,
            "git": None,
            "environment": None,
            "artifact_uri": self.artifacts.run_uri(run_id),
        }
        row.update(extra)
        return row

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - MLflow's name
        order_by: str | Iterable[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        statuses: Sequence[str] | None = None,
        parent_run_id: str | None = None,
        top_level_only: bool = False,
        count: bool = True,
        lifecycle: str | None = "active",
    ) -> tuple[list[RunRecord], int]:
        """Runs matching the criteria (one page) and the total count (-1 when ``count`` is
        False: the count is a second query that callers without paging don't need).
        ``lifecycle``: "active" (default: archived runs are hidden), "deleted" or "all"."""
        self.flush()
        conditions = compile_filter(filter) + lifecycle_condition(lifecycle)
        if experiment_ids is not None:
            conditions.append(runs.c.experiment_id.in_(list(experiment_ids)))
        if statuses:
            conditions.append(runs.c.status.in_(check_statuses(statuses)))
        if search:
            conditions.append(search_condition(search))
        if parent_run_id:
            conditions.append(runs.c.parent_run_id == parent_run_id)
        elif top_level_only:
            conditions.append(runs.c.parent_run_id.is_(None))
        limit, offset = check_page(limit, offset)
        query = select(runs.c.run_id).where(*conditions)
        page = query.order_by(*compile_order_by(order_by)).offset(offset)
        if limit is not None:
            page = page.limit(limit)
        with self.engine.connect() as conn:
            ids = [row[0] for row in conn.execute(page)]
            if limit is None and offset == 0:
                total = len(ids)
            elif not count:
                total = -1
            else:
                total = (
                    conn.execute(select(func.count()).select_from(runs).where(*conditions)).scalar()
                    or 0
                )
            records = self._records(conn, ids)
        return records, total

    def _records(self, conn: Any, ids: list[str]) -> list[RunRecord]:
        if not ids:
            return []
        by_id: dict[str, RunRecord] = {}
        names = {
            e["experiment_id"]: e["name"]
            for e in (dict(r._mapping) for r in conn.execute(select(experiments)))
        }
        # Chunk IN lists: SQLite caps bound parameters.
        for chunk in in_chunks(ids):
            rows = conn.execute(select(runs).where(runs.c.run_id.in_(chunk)))
            for row in rows:
                m = row._mapping
                by_id[m["run_id"]] = RunRecord(
                    run_id=m["run_id"],
                    name=m["name"],
                    experiment_id=m["experiment_id"],
                    experiment=names.get(m["experiment_id"], ""),
                    kind=m["kind"],
                    status=m["status"],
                    start_time=m["start_time"],
                    end_time=m["end_time"],
                    last_update_time=m["last_update_time"],
                    heartbeat=m["heartbeat"],
                    parent_run_id=m["parent_run_id"],
                    user=m["user"],
                    host=m["host"],
                    pid=m["pid"],
                    notebook_path=m["notebook_path"],
                    execution_count=m["execution_count"],
                    cell_id=m["cell_id"],
                    artifact_uri=m["artifact_uri"],
                    lifecycle_stage=m["lifecycle_stage"],
                    note=m["note"],
                )
            for run_id, key, value in conn.execute(
                select(params.c.run_id, params.c.key, params.c.value).where(
                    params.c.run_id.in_(chunk)
                )
            ):
                by_id[run_id].params[key] = value
            for run_id, key, value in conn.execute(
                select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(chunk))
            ):
                by_id[run_id].tags[key] = value
            for run_id, key, value in conn.execute(
                select(
                    metric_series.c.run_id, metric_series.c.key, metric_series.c.latest_value
                ).where(metric_series.c.run_id.in_(chunk))
            ):
                by_id[run_id].metrics[key] = math.nan if value is None else value
        return [by_id[i] for i in ids if i in by_id]

    def get_run(self, run_id: str) -> RunRecord:
        """A run with everything captured (source, cells, git, environment, artifacts)."""
        self.flush()
        if not isinstance(run_id, str) or not run_id:
            raise RunNotFoundError(f"No run with id {run_id!r}.")
        with self.engine.connect() as conn:
            found = self._records(conn, [run_id])
            if not found:
                raise RunNotFoundError(f"No run with id {run_id!r} in store {self.display_url}.")
            record = found[0]
            row = conn.execute(
                select(
                    runs.c.source, runs.c.stdout, runs.c.error, runs.c.git, runs.c.environment
                ).where(runs.c.run_id == run_id)
            ).one()
            record.source, record.stdout, record.error = row.source, row.stdout, row.error
            record.git = with_diff(conn, load_json(row.git))
            record.environment = load_json(row.environment)
            record.cells = [
                CellRecord(**dict(r._mapping))
                for r in conn.execute(
                    select(
                        run_cells.c.position,
                        run_cells.c.execution_count,
                        run_cells.c.cell_id,
                        run_cells.c.source,
                        run_cells.c.start_time,
                        run_cells.c.duration_ms,
                        run_cells.c.status,
                        run_cells.c.error,
                    )
                    .where(run_cells.c.run_id == run_id)
                    .order_by(run_cells.c.position)
                )
            ]
            record.children = [
                r[0]
                for r in conn.execute(
                    select(runs.c.run_id)
                    .where(runs.c.parent_run_id == run_id)
                    .order_by(runs.c.start_time, runs.c.run_id)
                )
            ]  # creation order (new_run_id)
        record.artifacts = self.artifacts.list(run_id)
        return record

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of the run that ``run_id`` names: the one rule for run ids everywhere
        (Python, CLI, REST). Surrounding whitespace is ignored; an exact id is taken as is,
        else ``run_id`` is read as a case-insensitive unique prefix of one (git-style)."""
        return self.resolve_run_ids([run_id])[0]

    def resolve_run_ids(self, run_ids: Sequence[str]) -> list[str]:
        """``resolve_run_id`` of each (in order): exact ids in one query, prefixes one by one."""
        self.flush()
        texts = []
        for given in run_ids:
            text = given.strip() if isinstance(given, str) else ""
            if not text:
                raise RunNotFoundError(f"{given!r} is not a run id.")
            texts.append(text)
        exact: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in in_chunks(list(dict.fromkeys(texts))):
                query = select(runs.c.run_id).where(runs.c.run_id.in_(chunk))
                exact.update(r[0] for r in conn.execute(query))
            return [
                text if text in exact else self._by_prefix(conn, given, text)
                for given, text in zip(run_ids, texts, strict=True)
            ]

    def _by_prefix(self, conn: Any, given: str, text: str) -> str:
        prefix = text.lower()
        if not all(c in "0123456789abcdef" for c in prefix):
            raise RunNotFoundError(
                f"{given!r} is not a run id of store {self.display_url} (run ids are 32 hex "
                "characters; a unique prefix of one will do)."
            )
        found = [
            r[0]
            for r in conn.execute(
                select(runs.c.run_id).where(runs.c.run_id.like(f"{prefix}%")).limit(2)
            )
        ]
        if not found:
            raise RunNotFoundError(f"No run with id {given!r} in store {self.display_url}.")
        if len(found) > 1:
            # Ids start with their creation time (new_run_id): runs of the same minute share
            # 8 characters, and only the 16th on tells runs of one process apart.
            raise RunNotFoundError(
                f"Run id prefix {given!r} is ambiguous (ids start with their creation time); "
                "give more characters, 16 or more usually suffice."
            )
        return found[0]

    def run_summaries(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """Runs by full id, in the order given, as a runs listing holds them (params, tags,
        latest metrics; not the captured source, git, environment, cells or artifacts that
        ``get_run`` adds): a few queries for them all. An unknown id is a RunNotFoundError."""
        self.flush()
        ids = list(dict.fromkeys(run_ids))
        with self.engine.connect() as conn:
            records = self._records(conn, ids)
        if len(records) != len(ids):
            found = {r.run_id for r in records}
            missing = next(i for i in ids if i not in found)
            raise RunNotFoundError(f"No run with id {missing!r} in store {self.display_url}.")
        return records

    def run_exists(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(literal(1)).where(runs.c.run_id == run_id)).first() is not None
            )

    def runs_updated_since(self, since_ms: int, limit: int = 1000) -> list[RunRecord]:
        """Runs whose row changed after ``since_ms`` (for the live event stream)."""
        with self.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(runs.c.run_id)
                    .where(runs.c.last_update_time > since_ms)
                    .order_by(runs.c.last_update_time)
                    .limit(limit)
                )
            ]
            return self._records(conn, ids)

    def metric_point_counts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{run_id: {metric key: number of points}}`` (the event stream's change detector)."""
        out: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        with self.engine.connect() as conn:
            for chunk in in_chunks(list(run_ids)):
                for run_id, key, count in conn.execute(
                    select(
                        metric_series.c.run_id, metric_series.c.key, metric_series.c.point_count
                    ).where(metric_series.c.run_id.in_(chunk))
                ):
                    out[run_id][key] = int(count or 0)
        return out

    # -- metric history --------------------------------------------------------------------
    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        """Points of one metric as numpy arrays ``step``, ``timestamp``, ``value``.

        With ``max_points``, at most that many points evenly spaced by step (first and last
        kept), found by index seeks in SQL so a 1,000,000-point history is never loaded.
        """
        self.flush()
        max_points = check_max_points(max_points)
        with self.engine.connect() as conn:
            return history.metric_history(conn, run_id, key, max_points)

    def metric_histories(
        self, run_ids: Sequence[str], key: str, max_points: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """``metric_history`` of one metric for several runs (full run ids), in one
        connection and after one flush: run id -> arrays, in the order given. A run without
        the metric gets empty arrays; an unknown run is a RunNotFoundError."""
        self.flush()
        max_points = check_max_points(max_points)
        with self.engine.connect() as conn:
            return history.metric_histories(conn, list(dict.fromkeys(run_ids)), key, max_points)

    def metric_points_after(
        self, run_id: str, after_id: int = 0, limit: int = 50_000
    ) -> list[tuple[int, str, int, int, float]]:
        """Points of a run logged after point id ``after_id`` (id, key, step, timestamp,
        value), oldest first: lets a viewer follow a run another process is logging."""
        with self.engine.connect() as conn:
            return history.metric_points_after(conn, run_id, after_id, limit)

    def run_status(self, run_id: str) -> str:
        with self.engine.connect() as conn:
            status = conn.execute(select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
        if status is None:
            raise RunNotFoundError(f"No run with id {run_id!r}.")
        return status

    # -- housekeeping ----------------------------------------------------------------------
    def reap_dead_runs(self) -> list[str]:
        """Mark RUNNING runs whose process is gone (or heartbeat stale) as KILLED (not this
        process's own runs). Returns their ids."""
        return reaper.reap_dead_runs(self.engine, self.writer.active_runs)


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return None


USER = _user()  # once per process, like HOST: every run start reads it


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite store URL (None for other stores)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database.startswith("file:"):
        return None
    return database
