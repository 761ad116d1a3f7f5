"""The Store: schema and migrations, SQLite settings, queries, history downsampling, reaper."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from jupyter_mlops.exceptions import (
    InvalidFilterError,
    InvalidParameterError,
    RunNotFoundError,
    SchemaTooNewError,
    StoreError,
    StoreUnreachableError,
)
from jupyter_mlops.store import Store, reaper
from jupyter_mlops.store.engine import SQLITE_BUSY_TIMEOUT_S, _migrations_dir
from jupyter_mlops.store.ids import now_ms
from jupyter_mlops.store.schema import SCHEMA_HEAD, metadata


def _db_path(url: str) -> str:
    return sa.engine.make_url(url).database or ""


def _dump(path: str) -> list[str]:
    """Every schema object and row of a SQLite file, as SQL text."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _add_run(
    store: Store,
    name: str,
    *,
    status: str = "RUNNING",
    experiment: str = "Default",
    **columns: object,
) -> str:
    """Insert a run row straight through the writer (no ActiveRun, not in active_runs)."""
    row = store.new_run_row(
        name=name, experiment_id=store.experiment_id(experiment), kind="api", **columns
    )
    row["status"] = status
    if status != "RUNNING":
        row["end_time"] = row["start_time"] + 1
    store.writer.submit(("run", row, [], []))
    store.flush()
    return row["run_id"]


@pytest.fixture
def store(tmp_store: str):
    s = Store(tmp_store)
    yield s
    s.close()


# -- schema and migrations --------------------------------------------------------------


def test_schema_head_is_the_alembic_script_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(_migrations_dir()))
    assert script.get_heads() == [SCHEMA_HEAD]
    assert script.get_current_head() == SCHEMA_HEAD


def test_new_store_is_stamped_at_head(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
            SCHEMA_HEAD
        )


def test_alembic_schema_matches_schema_module(store: Store) -> None:
    """The tables Alembic creates are exactly the ones ``store/schema.py`` describes."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    inspector = sa.inspect(store.engine)
    on_disk = set(inspector.get_table_names()) - {"alembic_version"}
    assert on_disk == set(metadata.tables)
    for name, table in metadata.tables.items():
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        assert list(columns) == [c.name for c in table.columns], name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
        assert {i["name"] for i in inspector.get_indexes(name)} == {
            i.name for i in table.indexes
        }, name
        assert set(inspector.get_pk_constraint(name)["constrained_columns"]) == {
            c.name for c in table.primary_key.columns
        }, name
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_reopening_keeps_data(tmp_store: str) -> None:
    first = Store(tmp_store)
    run_id = _add_run(first, "kept", status="FINISHED")
    first.close()
    second = Store(tmp_store)
    try:
        assert second.get_run(run_id).name == "kept"
    finally:
        second.close()


def test_schema_too_new_is_refused_and_nothing_is_written(tmp_store: str) -> None:
    import jupyter_mlops as mlops

    first = Store(tmp_store)
    run_id = _add_run(first, "old", status="RUNNING", pid=2**22 + 12345)  # a dead pid
    first.close()
    path = _db_path(tmp_store)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = _dump(path)
    mtime = Path(path).stat().st_mtime_ns

    with pytest.raises(SchemaTooNewError) as info:
        Store(tmp_store)
    message = str(info.value)
    assert "ffff_from_the_future" in message
    assert "newer" in message
    assert "nothing was written" in message
    # through the public API too
    with pytest.raises(SchemaTooNewError):
        mlops.set_store(tmp_store)
    with pytest.raises(SchemaTooNewError):
        mlops.start_run("new")

    assert _dump(path) == before  # the dead RUNNING run was not reaped, no run added
    assert Path(path).stat().st_mtime_ns == mtime
    assert any(run_id in line and "RUNNING" in line for line in before)


def test_store_upgrades_an_empty_database_beside_foreign_tables(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    store = Store(str(path))
    try:
        assert set(metadata.tables) <= set(sa.inspect(store.engine).get_table_names())
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    conn.close()


# -- SQLite settings ----------------------------------------------------------------------


def test_sqlite_uses_wal_and_busy_timeout(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(
            SQLITE_BUSY_TIMEOUT_S * 1000
        )


def test_writes_wait_for_another_writer_instead_of_failing(store: Store) -> None:
    """A second process holding the write lock makes writers wait, not 'database is locked'."""
    other = sqlite3.connect(_db_path(store.url), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO experiments VALUES ('x' , 'held', 0)")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.5)
        other.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release)
    thread.start()
    try:
        run_id = _add_run(store, "waited", status="FINISHED")
        assert released.is_set()
        assert store.get_run(run_id).name == "waited"
        assert {e["name"] for e in store.list_experiments()} >= {"held", "Default"}
    finally:
        thread.join()
        other.close()


# -- experiments and runs ---------------------------------------------------------------


def test_experiments_are_created_once(store: Store) -> None:
    first = store.experiment_id("exp")
    assert store.experiment_id("exp") == first
    assert store.experiment_id("  exp  ") == first
    with pytest.raises(InvalidParameterError):
        store.experiment_id("missing", create=False)
    with pytest.raises(InvalidParameterError, match="limit is 256"):
        store.experiment_id("x" * 300)
    with pytest.raises(InvalidParameterError):
        store.experiment_id("")
    _add_run(store, "r", experiment="exp", status="FINISHED")
    listed = {e["name"]: e["run_count"] for e in store.list_experiments()}
    assert listed["exp"] == 1


def test_run_row_records_who_and_where(store: Store) -> None:
    import os
    import socket

    run_id = _add_run(store, "who")
    record = store.get_run(run_id)
    assert record.status == "RUNNING"
    assert record.pid == os.getpid()
    assert record.host == socket.gethostname()
    assert record.heartbeat >= record.start_time
    assert record.end_time is None
    assert record.artifact_uri and record.artifact_uri.endswith(run_id)


def test_search_runs_paging_and_criteria(store: Store) -> None:
    ids = [_add_run(store, f"run-{i}", status="FINISHED" if i % 2 else "FAILED") for i in range(7)]
    parent = ids[0]
    child = _add_run(store, "child", status="FINISHED", parent_run_id=parent)

    page, total = store.search_runs(limit=3, offset=0)
    assert total == 8 and len(page) == 3
    rest, total = store.search_runs(limit=10, offset=3)
    assert total == 8 and len(rest) == 5
    assert {r.run_id for r in page} | {r.run_id for r in rest} == {*ids, child}

    failed, _ = store.search_runs(statuses=["failed"])
    assert {r.name for r in failed} == {"run-0", "run-2", "run-4", "run-6"}
    found, _ = store.search_runs(search="RUN-3")
    assert [r.name for r in found] == ["run-3"]
    # ids lead with their timestamp: 20 characters are past the per-process counter
    found, _ = store.search_runs(search=ids[5][:20])
    assert [r.run_id for r in found] == [ids[5]]
    children, _ = store.search_runs(parent_run_id=parent)
    assert [r.run_id for r in children] == [child]
    top, _ = store.search_runs(top_level_only=True)
    assert child not in {r.run_id for r in top}
    assert store.get_run(parent).children == [child]

    with pytest.raises(InvalidFilterError, match="Unknown status"):
        store.search_runs(statuses=["DONE"])
    with pytest.raises(InvalidParameterError):
        store.search_runs(limit=-1)
    with pytest.raises(InvalidParameterError):
        store.search_runs(offset=-5)


def test_resolve_run_id(store: Store) -> None:
    run_id = _add_run(store, "prefix")
    assert store.resolve_run_id(run_id[:8]) == run_id
    assert store.resolve_run_id(run_id.upper()) == run_id
    with pytest.raises(RunNotFoundError, match="not a run id"):
        store.resolve_run_id("not-hex!")
    with pytest.raises(RunNotFoundError, match="No run"):
        store.resolve_run_id("0" * 32 if not run_id.startswith("0") else "f" * 32)
    with pytest.raises(RunNotFoundError):
        store.get_run("nope")


def test_runs_updated_since(store: Store) -> None:
    stamp = now_ms()
    time.sleep(0.01)
    run_id = _add_run(store, "fresh")
    assert run_id in {r.run_id for r in store.runs_updated_since(stamp - 1)}
    assert store.runs_updated_since(now_ms() + 60_000) == []


# -- metric history ---------------------------------------------------------------------


def _log_points(store: Store, run_id: str, key: str, steps: list[int]) -> None:
    stamp = now_ms()
    for i, step in enumerate(steps):
        store.writer.queue.append(("m", run_id, key, float(i), stamp + i, step))
    store.flush()


def test_history_full_and_downsampled(store: Store) -> None:
    run_id = _add_run(store, "hist")
    _log_points(store, run_id, "loss", list(range(5000)))
    full = store.metric_history(run_id, "loss")
    assert full["total_points"] == 5000
    assert list(full["step"][:3]) == [0, 1, 2] and full["step"][-1] == 4999
    assert full["value"].dtype.kind == "f"

    sampled = store.metric_history(run_id, "loss", max_points=100)
    steps = list(sampled["step"])
    assert 2 <= len(steps) <= 100
    assert len(steps) >= 90  # evenly spaced, not a handful
    assert steps[0] == 0 and steps[-1] == 4999  # first and last kept
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    assert max(gaps) <= 2 * min(gaps) + 1
    assert sampled["total_points"] == 5000

    # fewer points than max_points: everything
    assert len(store.metric_history(run_id, "loss", max_points=10_000)["step"]) == 5000


def test_history_downsampling_with_repeated_steps(store: Store) -> None:
    run_id = _add_run(store, "repeated")
    _log_points(store, run_id, "x", [i // 100 for i in range(1000)])  # 10 steps, 1000 points
    sampled = store.metric_history(run_id, "x", max_points=50)
    assert 40 <= len(sampled["step"]) <= 50
    assert sampled["value"][0] == 0.0 and sampled["value"][-1] == 999.0


@pytest.mark.parametrize(
    ("points", "per_step", "max_points"),
    [(1000, 100, 2), (101, 10, 7), (5000, 1, 3), (37, 4, 10), (999, 3, 333), (64, 64, 5)],
)
def test_history_never_exceeds_max_points(
    store: Store, points: int, per_step: int, max_points: int
) -> None:
    run_id = _add_run(store, "bounded")
    _log_points(store, run_id, "v", [i // per_step for i in range(points)])
    sampled = store.metric_history(run_id, "v", max_points=max_points)
    assert 2 <= len(sampled["value"]) <= max_points
    assert sampled["value"][0] == 0.0  # first point kept
    assert sampled["step"][-1] == (points - 1) // per_step  # last step kept


def test_history_errors(store: Store) -> None:
    run_id = _add_run(store, "h")
    assert store.metric_history(run_id, "never-logged")["total_points"] == 0
    with pytest.raises(RunNotFoundError):
        store.metric_history("f" * 32, "loss")
    for bad in (1, 0, -3, 2.5, "10"):
        with pytest.raises(InvalidParameterError, match="max_points"):
            store.metric_history(run_id, "loss", max_points=bad)  # type: ignore[arg-type]


def test_histories_of_many_runs_equal_each_run_s_history(store: Store) -> None:
    """Store.metric_histories answers what metric_history answers run by run: whole,
    downsampled, few steps, absent, NaN (test_postgres covers its one query for every series
    returned whole, which SQLite reads series by series)."""
    ids = []
    for n, per_step in ((5, 1), (300, 1), (1000, 100), (0, 1)):
        run_id = _add_run(store, f"h{n}")
        if n:
            _log_points(store, run_id, "v", [i // per_step for i in range(n)])
        ids.append(run_id)
    store.writer.queue.append(("m", ids[0], "v", math.nan, now_ms(), 99))
    store.flush()
    for max_points in (None, 2, 10, 300, 5000):
        many = store.metric_histories(ids[::-1] + ids[:1], "v", max_points)
        assert list(many) == ids[::-1]  # the order asked, once each
        for run_id in ids:
            one = store.metric_history(run_id, "v", max_points)
            for column in ("step", "timestamp", "value"):
                assert np.array_equal(many[run_id][column], one[column], equal_nan=True)
            assert many[run_id]["total_points"] == one["total_points"]
    assert store.metric_histories(ids, "never", 10)[ids[1]]["total_points"] == 0
    with pytest.raises(RunNotFoundError):
        store.metric_histories([ids[0], "f" * 32], "v")


def test_latest_metric_is_the_highest_step(store: Store) -> None:
    run_id = _add_run(store, "latest")
    stamp = now_ms()
    for step, value in ((5, 0.5), (9, 0.9), (2, 0.2)):
        store.writer.queue.append(("m", run_id, "acc", value, stamp, step))
    store.flush()
    assert store.get_run(run_id).metrics == {"acc": 0.9}
    store.writer.queue.append(("m", run_id, "acc", math.nan, stamp + 1, 9))
    store.flush()
    assert math.isnan(store.get_run(run_id).metrics["acc"])


# -- reaper -------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_reaper_marks_runs_of_dead_processes_killed(tmp_store: str) -> None:
    store = Store(tmp_store)
    dead = _add_run(store, "dead", pid=_dead_pid())
    alive = _add_run(store, "alive")  # this process: alive
    long_ago = now_ms() - reaper.STALE_HEARTBEAT_MS - 60_000
    stale = _add_run(
        store, "stale", host="some-other-host", pid=1, heartbeat=long_ago, last_update_time=long_ago
    )
    # a heartbeat is old but the run wrote recently: still alive
    writing = _add_run(store, "writing", host="some-other-host", pid=1, heartbeat=long_ago)
    fresh = _add_run(store, "fresh", host="some-other-host", pid=1)
    store.close()

    untouched = Store(tmp_store, reap=False)
    assert untouched.get_run(dead).status == "RUNNING"
    untouched.close()

    reopened = Store(tmp_store)  # opening a store reaps
    try:
        killed = reopened.get_run(dead)
        assert killed.status == "KILLED"
        assert killed.end_time is not None and killed.end_time >= killed.start_time
        assert "died" in (killed.error or "")
        assert reopened.get_run(stale).status == "KILLED"
        assert reopened.get_run(stale).end_time == long_ago
        assert reopened.get_run(writing).status == "RUNNING"
        assert reopened.get_run(alive).status == "RUNNING"
        assert reopened.get_run(fresh).status == "RUNNING"
        assert reopened.reap_dead_runs() == []
    finally:
        reopened.close()


def test_reaper_keeps_finished_runs(store: Store) -> None:
    run_id = _add_run(store, "done", status="FINISHED", pid=_dead_pid())
    assert store.reap_dead_runs() == []
    assert store.get_run(run_id).status == "FINISHED"


# -- run ids and ordering ----------------------------------------------------------------


def test_runs_started_in_the_same_millisecond_list_in_creation_order(store: Store) -> None:
    created = [_add_run(store, f"r{i}", status="FINISHED") for i in range(200)]
    records, _ = store.search_runs()
    starts = [r.start_time for r in records]
    assert len(set(starts)) < len(starts), "no two runs shared a millisecond: test is moot"
    assert [r.run_id for r in records] == created[::-1]
    oldest_first, _ = store.search_runs(order_by="start_time ASC")
    assert [r.run_id for r in oldest_first] == created


def test_a_database_with_a_foreign_runs_table_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (x INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another application's database") as info:
        Store(str(path))
    assert "CREATE TABLE" not in str(info.value)


def test_numpy_integers_are_counts_and_bools_are_not(store: Store) -> None:
    np = pytest.importorskip("numpy")
    run_id = _add_run(store, "np")
    store.writer.submit(("m", run_id, "loss", 1.0, now_ms(), 0))
    store.writer.submit(("m", run_id, "loss", 2.0, now_ms(), 1))
    store.writer.submit(("m", run_id, "loss", 3.0, now_ms(), 2))
    store.flush()
    assert len(store.search_runs(limit=np.int64(1), offset=np.int32(0))[0]) == 1
    assert len(store.metric_history(run_id, "loss", max_points=np.int64(2))["step"]) == 2
    for bad in (True, False):
        with pytest.raises(InvalidParameterError, match="limit"):
            store.search_runs(limit=bad)
        with pytest.raises(InvalidParameterError, match="max_points"):
            store.metric_history(run_id, "loss", max_points=bad)


def test_search_is_free_text_not_a_like_pattern(store: Store) -> None:
    _add_run(store, "lr_0.1", status="FINISHED")
    _add_run(store, "lrx0.1", status="FINISHED")
    _add_run(store, "50% data", status="FINISHED")
    _add_run(store, "500 data", status="FINISHED")
    _add_run(store, "back\\slash", status="FINISHED")
    assert [r.name for r in store.search_runs(search="lr_0")[0]] == ["lr_0.1"]
    assert [r.name for r in store.search_runs(search="50%")[0]] == ["50% data"]
    assert [r.name for r in store.search_runs(search="k\\s")[0]] == ["back\\slash"]
    assert len(store.search_runs(search="data")[0]) == 2


def test_a_database_gone_after_opening_is_a_store_error(store: Store, tmp_path: Path) -> None:
    run_id = _add_run(store, "before")
    good = store.engine
    # The database becomes unreachable (a server down, a volume unmounted):
    store.engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    try:
        for call in (
            lambda: store.search_runs(),
            lambda: store.get_run(run_id),
            lambda: store.metric_history(run_id, "loss"),
            lambda: store.list_experiments(),
            lambda: store.experiment_id("new"),
            lambda: store.resolve_run_id(run_id[:16]),
        ):
            with pytest.raises(StoreUnreachableError, match="is unavailable") as info:
                call()
            assert "SELECT" not in str(info.value)
    finally:
        store.engine.dispose()
        store.engine = good
