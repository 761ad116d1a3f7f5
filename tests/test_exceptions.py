"""The error boundary: each MLOpsError carries its HTTP status and CLI exit code, the table in
docs/errors.md says the same, and every public Store method turns driver errors into them."""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops import exceptions
from jupyter_mlops.cli.main import main
from jupyter_mlops.exceptions import (
    MLOpsError,
    RunLifecycleError,
    RunNotFoundError,
    StoreOfflineError,
    StoreRefusedError,
    StoreUnreachableError,
)
from jupyter_mlops.store import Store
from jupyter_mlops.store.store import NO_DATABASE

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def _error_classes() -> list[type[MLOpsError]]:
    return [
        cls
        for _, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, MLOpsError)
    ]


def test_every_error_carries_a_status_and_an_exit_code() -> None:
    for cls in _error_classes():
        assert 400 <= cls.http_status <= 599, cls
        assert cls.exit_code in (1, 2, 3), cls
    assert (RunNotFoundError.http_status, RunLifecycleError.http_status) == (404, 409)
    assert (StoreUnreachableError.http_status, StoreUnreachableError.exit_code) == (503, 3)
    assert (StoreRefusedError.http_status, StoreRefusedError.exit_code) == (400, 2)


def test_the_documented_table_is_the_code() -> None:
    rows = {
        m.group(1): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(r"^\| `(\w+)` \| (\d{3}) \| (\d) \|", DOC.read_text(), re.M)
    }
    actual = {cls.__name__: (cls.http_status, cls.exit_code) for cls in _error_classes()}
    assert rows == actual


def test_the_cli_exits_with_the_errors_code(tmp_store: str, capsys: Any) -> None:
    # A store URL that cannot be used is the command line's fault: 2; a missing run too.
    assert main(["--store", "sqlite://", "runs", "list"]) == 2
    assert main(["runs", "show", "0123abcd"]) == 2
    assert "jupyter mlops: error:" in capsys.readouterr().err


def test_the_cli_exits_3_when_the_store_is_unavailable(
    tmp_path: Path, tmp_store: str, capsys: Any
) -> None:
    broken = tmp_path / "not-a-database.db"
    broken.write_bytes(b"this is not SQLite" * 100)
    assert main(["--store", str(broken), "runs", "list"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "jupyter mlops: error:" in err


# -- Store: one place for driver errors ---------------------------------------------------------


@pytest.fixture
def store(tmp_store: str):
    s = Store(tmp_store)
    yield s
    s.close()


def _calls(store: Store, run_id: str) -> dict[str, Callable[[], Any]]:
    return {
        "archive_runs": lambda: store.archive_runs([run_id]),
        "delete_tags": lambda: store.delete_tags(run_id, ["a"]),
        "experiment_id": lambda: store.experiment_id("new"),
        "get_run": lambda: store.get_run(run_id),
        "list_experiments": lambda: store.list_experiments(),
        "metric_histories": lambda: store.metric_histories([run_id], "loss"),
        "metric_history": lambda: store.metric_history(run_id, "loss"),
        "metric_point_counts": lambda: store.metric_point_counts([run_id]),
        "metric_points_after": lambda: store.metric_points_after(run_id),
        "purge_runs": lambda: store.purge_runs([run_id]),
        "reap_dead_runs": lambda: store.reap_dead_runs(),
        "rename_run": lambda: store.rename_run(run_id, "x"),
        "resolve_run_id": lambda: store.resolve_run_id(run_id[:16]),
        "resolve_run_ids": lambda: store.resolve_run_ids([run_id, run_id[:16]]),
        "restore_runs": lambda: store.restore_runs([run_id]),
        "run_exists": lambda: store.run_exists(run_id),
        "run_status": lambda: store.run_status(run_id),
        "run_summaries": lambda: store.run_summaries([run_id]),
        "runs_updated_since": lambda: store.runs_updated_since(0),
        "search_runs": lambda: store.search_runs(),
        "set_note": lambda: store.set_note(run_id, "n"),
        "set_tags": lambda: store.set_tags(run_id, {"a": "b"}),
    }


def _public_database_methods() -> set[str]:
    return {
        name
        for name in dir(Store)
        if not name.startswith("_")
        and name not in NO_DATABASE
        and inspect.isfunction(inspect.getattr_static(Store, name))
    }


def test_every_public_store_method_types_driver_errors(store: Store, tmp_path: Path) -> None:
    with mlops.start_run("before") as run:
        pass
    calls = _calls(store, run.run_id)
    # A new public method must be listed here (and so checked), or said not to touch the
    # database (NO_DATABASE).
    assert set(calls) == _public_database_methods()
    for name in calls:
        assert getattr(getattr(Store, name), "database_errors_typed", False), name
    good = store.engine
    # The database becomes unreachable (a server down, a volume unmounted):
    store.engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    try:
        for name, call in calls.items():
            with pytest.raises(StoreUnreachableError, match="is unavailable") as info:
                call()
            assert "SELECT" not in str(info.value), name
    finally:
        store.engine.dispose()
        store.engine = good


def test_a_refusal_by_the_database_is_a_store_refused_error(store: Store) -> None:
    with mlops.start_run("guarded") as run:
        pass
    mlops.flush()
    path = sa.engine.make_url(store.url).database
    conn = sqlite3.connect(path)
    try:  # a rule of the database's own (a DBA's trigger): tags are read-only here
        conn.execute(
            "CREATE TRIGGER no_tags BEFORE INSERT ON tags "
            "BEGIN SELECT RAISE(ABORT, 'tags are read-only here'); END"
        )
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(StoreRefusedError, match="read-only here") as info:
        store.set_tags(run.run_id, {"a": "b"})
    assert info.value.http_status == 400
    assert "INSERT" not in str(info.value)


def test_an_offline_store_refuses_every_read(tmp_store: str) -> None:
    offline = Store(tmp_store, offline=True)
    try:
        for _name, call in _calls(offline, "0" * 32).items():
            with pytest.raises(StoreOfflineError):
                call()
        offline.flush()  # NO_DATABASE methods work offline
    finally:
        offline.close()
