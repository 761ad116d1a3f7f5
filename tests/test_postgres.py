"""The tracking API against a real PostgreSQL server (``postgresql+psycopg://``)."""

from __future__ import annotations

import math
import threading

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import SchemaTooNewError
from jupyter_mlops.store import Store
from jupyter_mlops.store.schema import SCHEMA_HEAD, metadata

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg(postgres_store_url: str, tmp_store: str) -> str:
    """The tracking API pointed at a fresh PostgreSQL database (artifacts in tmp_path)."""
    mlops.set_store(postgres_store_url)
    return postgres_store_url


def test_schema_is_created_by_alembic_and_matches(pg: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = mlops.get_store()
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
            SCHEMA_HEAD
        )
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert set(metadata.tables) <= set(sa.inspect(store.engine).get_table_names())


def test_runs_params_metrics_tags(pg: str) -> None:
    mlops.set_experiment("pg-exp")
    with mlops.start_run("parent", params={"lr": 0.1}, tags={"db": "pg"}) as parent:
        for step in range(100):
            mlops.log_metric("loss", 1.0 / (step + 1))
        mlops.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
        with mlops.start_run("child") as child:
            mlops.log_param("depth", 3)
    loaded = mlops.get_run(parent.run_id)
    assert loaded.status == "FINISHED"
    assert loaded.experiment == "pg-exp"
    assert loaded.params == {"lr": "0.1"}
    assert loaded.tags == {"db": "pg"}
    assert loaded.metrics["loss"] == pytest.approx(0.01)
    assert math.isnan(loaded.metrics["nan"])
    assert loaded.metrics["inf"] == math.inf and loaded.metrics["ninf"] == -math.inf
    assert loaded.children == [child.run_id]
    assert mlops.get_run(child.run_id).parent_run_id == parent.run_id

    frame = mlops.runs(order_by="name")
    assert list(frame["name"]) == ["child", "parent"]
    assert frame.loc[1, "metrics.loss"] == pytest.approx(0.01)
    assert frame.loc[0, "params.depth"] == "3"


def test_history_full_and_max_points(pg: str) -> None:
    with mlops.start_run("hist") as run:
        for step in range(3000):
            mlops.log_metric("loss", float(step))
        for i in range(500):  # few steps, many points: the rank-sampling path
            mlops.log_metric("dense", float(i), step=i // 100)
        mlops.log_metric("special", math.nan, step=0)
        mlops.log_metric("special", math.inf, step=1)
    loaded = mlops.get_run(run.run_id)
    full = loaded.history("loss")
    assert len(full) == 3000 and list(full["step"][:3]) == [0, 1, 2]
    sampled = loaded.history("loss", max_points=100)
    assert 90 <= len(sampled) <= 100
    assert sampled["step"].iloc[0] == 0 and sampled["step"].iloc[-1] == 2999
    dense = loaded.history("dense", max_points=20)
    assert 2 <= len(dense) <= 20
    assert dense["value"].iloc[0] == 0.0 and dense["value"].iloc[-1] == 499.0
    special = list(loaded.history("special")["value"])
    assert math.isnan(special[0]) and special[1] == math.inf


def test_filters_and_order(pg: str) -> None:
    for name, acc, opt in (("a", 0.9, "sgd"), ("b", 0.7, "adam"), ("c", 0.95, "sgd")):
        with mlops.start_run(name, params={"opt": opt}, tags={"t": name.upper()}):
            mlops.log_metric("acc", acc)
    names = lambda frame: list(frame["name"])  # noqa: E731
    assert names(mlops.runs(filter="metrics.acc > 0.8", order_by="metrics.acc DESC")) == ["c", "a"]
    assert names(mlops.runs(filter="params.opt = 'sgd' and tags.t != 'A'")) == ["c"]
    assert names(mlops.runs(filter="params.opt ILIKE 'AD%'")) == ["b"]
    assert names(mlops.runs(filter="status = 'finished'", order_by="name", limit=2)) == ["a", "b"]
    assert names(mlops.runs(filter="name IN ('a', 'b')", order_by="params.opt")) == ["b", "a"]
    records, total = mlops.get_store().search_runs(limit=1, offset=1, order_by="name")
    assert total == 3 and [r.name for r in records] == ["b"]
    # free-text search escapes LIKE's wildcards on PostgreSQL too
    for name in ("lr_1", "lrx1", "back\\slash"):
        with mlops.start_run(name):
            pass
    store = mlops.get_store()
    assert [r.name for r in store.search_runs(search="lr_")[0]] == ["lr_1"]
    assert [r.name for r in store.search_runs(search="k\\s")[0]] == ["back\\slash"]
    # ties in start time come back in creation order
    created = []
    for i in range(50):
        with mlops.start_run(f"tight-{i}") as run:
            pass
        created.append(run.run_id)
    tight = mlops.runs(filter="name LIKE 'tight-%'")
    assert tight["run_id"].tolist() == created[::-1]


def test_reaper_on_postgres(pg: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    store = mlops.get_store()
    row = store.new_run_row(
        name="ghost", experiment_id=store.experiment_id("Default"), kind="api", pid=int(proc.stdout)
    )
    store.writer.submit(("run", row, [], []))
    store.flush()
    fresh = Store(pg)
    try:
        assert fresh.get_run(row["run_id"]).status == "KILLED"
    finally:
        fresh.close()


def test_schema_too_new_on_postgres(postgres_store_url: str, tmp_store: str) -> None:
    Store(postgres_store_url).close()
    engine = sa.create_engine(postgres_store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaTooNewError, match="9999_future"):
            Store(postgres_store_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM experiments")).scalar() == 0
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
                "9999_future"
            )
    finally:
        engine.dispose()


def test_several_processes_opening_a_fresh_database_at_once(
    postgres_store_url: str, tmp_store: str
) -> None:
    """Schema creation is serialised (advisory lock): every opener succeeds."""
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        try:
            barrier.wait()
            stores.append(Store(postgres_store_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert len(stores) == 4


def test_nul_characters_are_not_lost_on_postgres(
    pg: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL text cannot hold NUL: a cell printing one (binary output) used to make the
    writer drop the operation, the whole run with it when in the same batch."""
    with mlops.start_run("prints-binary") as run:
        mlops.log_metric("m", 1.0)
        run.update(stdout="binary \x00 output", source="x = '\x00'")
        run.record_cell(
            {
                "position": 0,
                "execution_count": 1,
                "cell_id": None,
                "source": "print('\x00')",
                "start_time": 0,
                "duration_ms": 1.0,
                "status": "FINISHED",
                "error": None,
            }
        )
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert loaded.metrics == {"m": 1.0}
    assert loaded.stdout == "binary \ufffd output" and loaded.source == "x = '\ufffd'"
    assert loaded.cells["source"].tolist() == ["print('\ufffd')"]
    assert "the store refused" not in capfd.readouterr().err
    # keys, names and values given by the caller are refused up front, on every store
    with pytest.raises(mlops.InvalidParameterError, match="NUL"):
        mlops.start_run("nul\x00name")
    with mlops.start_run(), pytest.raises(mlops.InvalidParameterError, match="NUL"):
        mlops.log_param("p", "a\x00b")


def test_processes_creating_the_same_experiment_at_once(pg: str) -> None:
    """Two first runs of a new experiment in two processes raced: on PostgreSQL both read
    "no such experiment", both inserted, and the loser got a raw IntegrityError."""
    stores = [Store(pg, reap=False) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    ids: dict[str, set[str]] = {f"raced-{i}": set() for i in range(10)}
    errors: list[BaseException] = []

    def create(store: Store) -> None:
        for name in ids:  # ten rounds: the race is likely in at least one
            barrier.wait()
            try:
                ids[name].add(store.experiment_id(name))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=create, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert not errors, errors
    assert all(len(found) == 1 for found in ids.values()), ids
