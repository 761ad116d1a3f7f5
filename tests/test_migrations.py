"""Stores made by earlier schema revisions, with data, are upgraded in place with nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import jupyter_mlops as mlops
from jupyter_mlops.store import Store
from jupyter_mlops.store.engine import _migrations_dir
from jupyter_mlops.store.schema import SCHEMA_HEAD

RUN_ID = "0190c0ffee00700080000000000000aa"


def _revisions() -> list[str]:
    script = ScriptDirectory(str(_migrations_dir()))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _store_at(url: str, revision: str) -> None:
    """A store created by the migrations up to ``revision`` only: what an older jupyter-mlops
    left on disk."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(_migrations_dir()))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _seed(url: str) -> None:
    """A finished run with params, tags, points, a cell and an artifact row, in the oldest
    schema's columns (raw SQL, as that version wrote them)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO experiments (experiment_id, name, creation_time) "
                    "VALUES ('e1', 'old-exp', 1700000000000)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO runs (run_id, experiment_id, name, kind, status, start_time, "
                    "end_time, last_update_time, heartbeat, source) VALUES (:id, 'e1', "
                    "'old-run', 'cell', 'FINISHED', 1700000000000, 1700000001000, "
                    "1700000001000, 1700000001000, 'print(1)')"
                ),
                {"id": RUN_ID},
            )
            conn.execute(
                sa.text("INSERT INTO params (run_id, key, value) VALUES (:id, 'lr', '0.1')"),
                {"id": RUN_ID},
            )
            conn.execute(
                sa.text("INSERT INTO tags (run_id, key, value) VALUES (:id, 'team', 'vision')"),
                {"id": RUN_ID},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO metric_series (run_id, key, latest_value, latest_step, "
                    "latest_timestamp, point_count) VALUES (:id, 'loss', 0.25, 2, 3, 3)"
                ),
                {"id": RUN_ID},
            )
            sid = conn.execute(sa.text("SELECT series_id FROM metric_series")).scalar()
            for step, value in enumerate((1.0, 0.5, 0.25)):
                conn.execute(
                    sa.text(
                        "INSERT INTO metrics (series_id, step, timestamp, value) "
                        "VALUES (:sid, :step, :step, :value)"
                    ),
                    {"sid": sid, "step": step, "value": value},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO run_cells (run_id, position, execution_count, source, "
                    "start_time, duration_ms, status) VALUES (:id, 0, 3, 'print(1)', "
                    "1700000000000, 5.0, 'FINISHED')"
                ),
                {"id": RUN_ID},
            )
    finally:
        engine.dispose()


def _check_old_run_survived(store: Store) -> None:
    run = store.get_run(RUN_ID)
    assert (run.name, run.experiment, run.status) == ("old-run", "old-exp", "FINISHED")
    assert run.params == {"lr": "0.1"} and run.tags == {"team": "vision"}
    assert run.metrics == {"loss": 0.25} and run.source == "print(1)"
    assert list(store.metric_history(RUN_ID, "loss")["value"]) == [1.0, 0.5, 0.25]
    assert [c.source for c in run.cells] == ["print(1)"]


@pytest.mark.parametrize("revision", _revisions()[:-1])
def test_an_older_store_with_data_is_upgraded_with_nothing_lost(
    tmp_store: str, revision: str
) -> None:
    _store_at(tmp_store, revision)
    _seed(tmp_store)
    store = Store(tmp_store)  # opening upgrades it
    try:
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
                SCHEMA_HEAD
            )
        _check_old_run_survived(store)
        records, _ = store.search_runs(filter="params.lr = '0.1'")
        assert [r.run_id for r in records] == [RUN_ID]
    finally:
        store.close()
    # and the upgraded store takes new runs beside the old one
    with mlops.start_run("new-run") as run:
        mlops.log_metric("loss", 0.1)
    assert set(mlops.runs()["run_id"]) == {RUN_ID, run.run_id}


def test_every_revision_is_tested_from_the_first() -> None:
    revisions = _revisions()
    assert revisions[0] == "0001" and revisions[-1] == SCHEMA_HEAD
    assert len(revisions) == len(set(revisions)) >= 2


@pytest.mark.postgres
@pytest.mark.slow
def test_an_older_postgres_store_is_upgraded_with_nothing_lost(
    postgres_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(tmp_path / "journals"))
    _store_at(postgres_store_url, _revisions()[0])
    _seed(postgres_store_url)
    store = Store(postgres_store_url)
    try:
        _check_old_run_survived(store)
    finally:
        store.close()
