"""Run management: tags, notes, renames, archive/restore (a soft delete) and purge.

These are edits a user makes to runs after the fact (from the sidebar, the CLI or Python), not
logging: each call is one synchronous transaction, done when it returns, and never goes
through the writer's queue. Every change bumps ``runs.last_update_time``, so the live event
stream shows it everywhere. Archiving sets MLflow's lifecycle stage ``deleted``; searches hide
such runs unless asked (``lifecycle="deleted"`` or ``"all"``). Only an archived run can be
purged, which is the one operation that destroys data: that second, explicit step is the
guard.

``Store`` inherits these methods (``store.archive_runs(...)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, select, update

from ..exceptions import InvalidParameterError, RunLifecycleError, RunNotFoundError
from .dialect import in_chunks
from .diffs import digests_of, drop_unreferenced
from .engine import WRITE
from .ids import now_ms
from .schema import (
    LIFECYCLE_ACTIVE,
    LIFECYCLE_DELETED,
    LIFECYCLE_STAGES,
    MAX_NOTE_LENGTH,
    artifacts,
    metric_series,
    metrics,
    params,
    run_cells,
    runs,
    tags,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from .artifacts import ArtifactStore

# What searches may ask for: one stage, or every run.
LIFECYCLE_CHOICES = (*LIFECYCLE_STAGES, "all")
MAX_BULK = 100_000


def lifecycle_condition(lifecycle: str | None) -> list[ColumnElement[bool]]:
    """Conditions on ``runs`` selecting a lifecycle stage (``None`` or ``"all"``: every run)."""
    if lifecycle is None:
        return []
    if not isinstance(lifecycle, str) or lifecycle.lower() not in LIFECYCLE_CHOICES:
        raise InvalidParameterError(
            f"Unknown lifecycle {lifecycle!r}; use one of {', '.join(LIFECYCLE_CHOICES)}."
        )
    lifecycle = lifecycle.lower()
    return [] if lifecycle == "all" else [runs.c.lifecycle_stage == lifecycle]


def run_ids_arg(run_ids: str | Iterable[str]) -> list[str]:
    """One id or several, deduplicated in order; refuses empty input and non-strings."""
    items = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    if not items:
        raise InvalidParameterError("No run ids given.")
    if len(items) > MAX_BULK:
        raise InvalidParameterError(f"At most {MAX_BULK} runs at once, got {len(items)}.")
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidParameterError(f"A run id must be a non-empty string, got {item!r}.")
    return list(dict.fromkeys(item.strip() for item in items))


class RunMutations:
    """User edits of existing runs; mixed into ``Store``."""

    if TYPE_CHECKING:
        engine: Engine
        artifacts: ArtifactStore

        @property
        def display_url(self) -> str: ...

        def flush(self) -> None: ...

    # -- one run ---------------------------------------------------------------------------
    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set (insert or replace) tags on a run, finished or not."""
        from ..tracking.run import tag_text, validate_key

        if not isinstance(values, Mapping):
            raise InvalidParameterError(f"Tags must be a mapping, got {values!r}.")
        rows = [(validate_key(k, "Tag key"), tag_text(k, v)) for k, v in values.items()]
        with self._edit(run_id) as conn:
            for key, value in rows:
                conn.execute(delete(tags).where(tags.c.run_id == run_id, tags.c.key == key))
                conn.execute(tags.insert().values(run_id=run_id, key=key, value=value))

    def delete_tags(self, run_id: str, keys: Iterable[str]) -> None:
        """Remove tags from a run; a key the run does not have is ignored."""
        from ..tracking.run import validate_key

        names = [validate_key(k, "Tag key") for k in ([keys] if isinstance(keys, str) else keys)]
        with self._edit(run_id) as conn:
            if names:
                conn.execute(delete(tags).where(tags.c.run_id == run_id, tags.c.key.in_(names)))

    def set_note(self, run_id: str, note: str | None) -> None:
        """Set a run's Markdown note; ``None`` or ``""`` clears it."""
        if note is not None and not isinstance(note, str):
            raise InvalidParameterError(f"A note must be a string, got {type(note).__name__}.")
        if note and len(note) > MAX_NOTE_LENGTH:
            raise InvalidParameterError(
                f"The note is {len(note)} characters; the limit is {MAX_NOTE_LENGTH}."
            )
        if note and "\x00" in note:
            raise InvalidParameterError("The note contains a NUL character.")
        with self._edit(run_id, note=note or None):
            pass

    def rename_run(self, run_id: str, name: str) -> str:
        """Rename a run; returns the name as stored (surrounding spaces removed)."""
        from .validation import validate_name

        name = validate_name(name, "Run name")
        with self._edit(run_id, name=name):
            pass
        return name

    # -- many runs -------------------------------------------------------------------------
    def archive_runs(self, run_ids: str | Iterable[str], children: bool = True) -> list[str]:
        """Archive runs (lifecycle stage ``deleted``), with their descendants unless
        ``children`` is False. Returns every run archived now. Nothing is destroyed."""
        return self._set_stage(run_ids, LIFECYCLE_DELETED, children)

    def restore_runs(self, run_ids: str | Iterable[str], children: bool = True) -> list[str]:
        """Restore archived runs (and their descendants); returns every run restored now."""
        return self._set_stage(run_ids, LIFECYCLE_ACTIVE, children)

    def purge_runs(self, run_ids: str | Iterable[str]) -> list[str]:
        """Delete archived runs for good, with their descendants: rows, metric points and
        artifact files. Every run concerned must be archived first (RunLifecycleError
        otherwise, and nothing is deleted). Returns the ids deleted."""
        ids = run_ids_arg(run_ids)
        self.flush()
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            self._require(conn, ids)
            every = self._with_descendants(conn, ids)
            stages = dict(
                conn.execute(
                    select(runs.c.run_id, runs.c.lifecycle_stage).where(runs.c.run_id.in_(every))
                ).all()
            )
            active = [run_id for run_id in every if stages.get(run_id) != LIFECYCLE_DELETED]
            if active:
                which = "is" if len(active) == 1 else "are"
                raise RunLifecycleError(
                    f"Only archived runs can be purged; {len(active)} "
                    f"{'run' if len(active) == 1 else 'runs'} {which} not archived "
                    f"(first: {active[0]}). Archive them first."
                )
            diffs = set()
            for chunk in in_chunks(every):
                diffs |= digests_of(conn, chunk)
                series = select(metric_series.c.series_id).where(metric_series.c.run_id.in_(chunk))
                conn.execute(delete(metrics).where(metrics.c.series_id.in_(series)))
                for table in (metric_series, params, tags, run_cells, artifacts):
                    conn.execute(delete(table).where(table.c.run_id.in_(chunk)))
                conn.execute(delete(runs).where(runs.c.run_id.in_(chunk)))
            drop_unreferenced(conn, diffs)  # a diff no other run shares goes with them
        for run_id in every:  # after commit: a failed transaction leaves the files alone
            self.artifacts.delete_run(run_id)
        return every

    # -- plumbing --------------------------------------------------------------------------
    def _set_stage(self, run_ids: str | Iterable[str], stage: str, children: bool) -> list[str]:
        ids = run_ids_arg(run_ids)
        self.flush()
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            self._require(conn, ids)
            every = self._with_descendants(conn, ids) if children else ids
            differ: set[str] = set()
            for chunk in in_chunks(every):
                differ.update(
                    r[0]
                    for r in conn.execute(
                        select(runs.c.run_id).where(
                            runs.c.run_id.in_(chunk), runs.c.lifecycle_stage != stage
                        )
                    )
                )
            changed = [run_id for run_id in every if run_id in differ]  # in the given order
            stamp = now_ms()
            for chunk in in_chunks(changed):
                conn.execute(
                    update(runs)
                    .where(runs.c.run_id.in_(chunk))
                    .values(lifecycle_stage=stage, last_update_time=stamp)
                )
        return changed

    @contextmanager
    def _edit(self, run_id: str, **values: Any) -> Iterator[Connection]:
        """A write transaction on one existing run whose row gets ``values`` and a new
        ``last_update_time`` (so live views see the change)."""
        if not isinstance(run_id, str) or not run_id:
            raise RunNotFoundError(f"No run with id {run_id!r}.")
        self.flush()  # the run may still be in this process's queue
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            self._require(conn, [run_id])
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(last_update_time=now_ms(), **values)
            )
            yield conn

    def _require(self, conn: Connection, ids: list[str]) -> None:
        found: set[str] = set()
        for chunk in in_chunks(ids):
            found.update(
                r[0] for r in conn.execute(select(runs.c.run_id).where(runs.c.run_id.in_(chunk)))
            )
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise RunNotFoundError(f"No run with id {missing[0]!r} in store {self.display_url}.")

    def _with_descendants(self, conn: Connection, ids: list[str]) -> list[str]:
        """``ids`` followed by all their descendants (children, grandchildren...), once each."""
        every = list(ids)
        seen = set(ids)
        frontier = list(ids)
        while frontier:
            found = []
            for chunk in in_chunks(frontier):
                found += [
                    r[0]
                    for r in conn.execute(
                        select(runs.c.run_id).where(runs.c.parent_run_id.in_(chunk))
                    )
                    if r[0] not in seen
                ]
            seen.update(found)
            every += found
            frontier = found
        return every
