"""Run management in the store (store/mutations.py) and its Python face (tracking/manage.py):
tags on finished runs, notes, renames, archive/restore as a soft delete, purge of archived runs
only, and the 0003 migration of an older store."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import (
    InvalidParameterError,
    RunLifecycleError,
    RunNotFoundError,
)


def make_tree(tmp_path: Path) -> dict[str, str]:
    """parent (with an artifact) > child > grandchild, and a separate run."""
    artifact = tmp_path / "weights.txt"
    artifact.write_text("w")
    with mlops.start_run("parent", params={"lr": 0.1}) as parent:
        mlops.log_metric("loss", 1.0)
        mlops.log_artifact(artifact)
        with mlops.start_run("child") as child, mlops.start_run("grandchild") as grandchild:
            mlops.log_metric("loss", 0.5)
    with mlops.start_run("other", tags={"keep": "1"}) as other:
        pass
    return {
        "parent": parent.run_id,
        "child": child.run_id,
        "grandchild": grandchild.run_id,
        "other": other.run_id,
    }


def names(**kwargs: object) -> set[str]:
    records, _ = mlops.get_store().search_runs(**kwargs)  # type: ignore[arg-type]
    return {r.name for r in records}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def any_store(request: pytest.FixtureRequest, tmp_store: str) -> str:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_store_url")
        mlops.set_store(url)
        return url
    mlops.set_store(tmp_store)
    return tmp_store


def test_archive_restore_purge(any_store: str, tmp_path: Path) -> None:
    runs = make_tree(tmp_path)
    store = mlops.get_store()
    before = store.get_run(runs["parent"]).last_update_time
    archived = mlops.archive_run(runs["parent"])
    assert archived == [runs["parent"], runs["child"], runs["grandchild"]]
    assert names() == {"other"}  # hidden by default, from mlops.runs() too
    assert set(mlops.runs()["name"]) == {"other"}
    assert names(lifecycle="deleted") == {"parent", "child", "grandchild"}
    assert names(lifecycle="all") == {"parent", "child", "grandchild", "other"}
    record = store.get_run(runs["parent"])
    assert record.lifecycle_stage == "deleted"
    assert record.last_update_time >= before  # the event stream sees the change
    assert mlops.archive_run(runs["parent"]) == []  # already archived
    # restore without children: the parent only
    assert mlops.restore_run(runs["parent"], children=False) == [runs["parent"]]
    assert names() == {"parent", "other"}
    # nothing is destroyed in one step
    with pytest.raises(RunLifecycleError, match="archive"):
        mlops.purge_run(runs["parent"])
    with pytest.raises(RunLifecycleError):
        mlops.purge_run(runs["other"])
    assert store.get_run(runs["parent"]).artifacts == [("weights.txt", 1)]
    mlops.archive_run(runs["parent"])
    assert mlops.purge_run(runs["parent"]) == [runs["parent"], runs["child"], runs["grandchild"]]
    for key in ("parent", "child", "grandchild"):
        with pytest.raises(RunNotFoundError):
            store.get_run(runs[key])
    assert names(lifecycle="all") == {"other"}
    assert store.artifacts.list(runs["parent"]) == []
    with store.engine.connect() as conn:  # no orphan rows left behind
        for table in ("params", "tags", "metric_series", "artifacts", "run_cells"):
            count = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE run_id = :r"), {"r": runs["parent"]}
            ).scalar()
            assert count == 0, table
        assert conn.execute(sa.text("SELECT count(*) FROM metrics")).scalar() == 0


def test_purge_refuses_a_tree_with_an_active_descendant(tmp_store: str, tmp_path: Path) -> None:
    runs = make_tree(tmp_path)
    mlops.archive_run(runs["parent"])
    mlops.restore_run(runs["grandchild"])
    with pytest.raises(RunLifecycleError, match=runs["grandchild"]):
        mlops.purge_run(runs["parent"])
    assert names(lifecycle="all") >= {"parent", "child", "grandchild"}  # nothing deleted


def test_edits_on_a_finished_run(any_store: str, tmp_path: Path) -> None:
    runs = make_tree(tmp_path)
    run_id = runs["other"]
    mlops.set_tag("reviewed", True, run_id=run_id)
    mlops.set_tags({"owner": "ana", "keep": "2"}, run_id=run_id)
    assert mlops.get_run(run_id).tags == {"keep": "2", "owner": "ana", "reviewed": "True"}
    mlops.delete_tag(run_id, "owner")
    mlops.delete_tag(run_id, "never-set")  # nothing to do, not an error
    assert mlops.get_run(run_id).tags == {"keep": "2", "reviewed": "True"}
    mlops.set_note(run_id, "## Why\nbest *so far*")
    assert mlops.get_run(run_id).note == "## Why\nbest *so far*"
    mlops.set_note(run_id, "")
    assert mlops.get_run(run_id).note is None
    assert mlops.rename_run(run_id[:20], "  renamed  ") == "renamed"  # a prefix works
    assert mlops.get_run(run_id).name == "renamed"
    assert names(filter="tags.reviewed = 'True'") == {"renamed"}


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda r: mlops.rename_run(r, ""), InvalidParameterError),
        (lambda r: mlops.rename_run(r, "x" * 300), InvalidParameterError),
        (lambda r: mlops.rename_run(r, None), InvalidParameterError),
        (lambda r: mlops.set_note(r, 5), InvalidParameterError),
        (lambda r: mlops.set_note(r, "x" * 100_001), InvalidParameterError),
        (lambda r: mlops.set_tag("", "v", run_id=r), InvalidParameterError),
        (lambda r: mlops.set_tags(["a"], run_id=r), InvalidParameterError),
        (lambda r: mlops.archive_run([]), InvalidParameterError),
        (lambda r: mlops.archive_run(5), InvalidParameterError),
        (lambda r: mlops.archive_run([r, "f" * 32]), RunNotFoundError),
        (lambda r: mlops.set_note("f" * 32, "x"), RunNotFoundError),
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(
    tmp_store: str, tmp_path: Path, call: object, error: type[Exception]
) -> None:
    runs = make_tree(tmp_path)
    with pytest.raises(error):
        call(runs["other"])  # type: ignore[operator]
    record = mlops.get_store().get_run(runs["other"])
    assert (record.name, record.note, record.lifecycle_stage) == ("other", None, "active")
    assert record.tags == {"keep": "1"}


def test_lifecycle_search_argument_checked(tmp_store: str) -> None:
    with pytest.raises(InvalidParameterError, match="lifecycle"):
        mlops.get_store().search_runs(lifecycle="gone")


def test_a_0002_store_is_upgraded_and_its_runs_are_active(tmp_path: Path) -> None:
    """Stores written before 0003 keep every run, all active, none with a note."""
    from alembic import command
    from alembic.config import Config

    from jupyter_mlops.store import Store
    from jupyter_mlops.store.engine import WRITE, _migrations_dir, create_store_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(url)
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        cfg = Config()
        cfg.set_main_option("script_location", str(_migrations_dir()))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(sa.text("INSERT INTO experiments VALUES ('e1', 'old', 1)"))
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, experiment_id, name, kind, status, start_time, "
                "last_update_time, heartbeat) VALUES ('r1', 'e1', 'kept', 'api', 'FINISHED', "
                "1, 1, 1)"
            )
        )
    engine.dispose()
    store = Store(url, reap=False)
    try:
        record = store.get_run("r1")
        assert (record.name, record.lifecycle_stage, record.note) == ("kept", "active", None)
        assert [r.run_id for r in store.search_runs()[0]] == ["r1"]
    finally:
        store.close()
