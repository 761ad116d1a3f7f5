"""The tracking API against a real PostgreSQL server (``postgresql+psycopg://``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import SchemaTooNewError, StoreTimeoutError
from jupyter_mlops.store import Store
from jupyter_mlops.store.schema import SCHEMA_HEAD, metadata
from tests.process_barrier import READY, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg(
    postgres_store_url: str, tmp_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The tracking API pointed at a fresh PostgreSQL database (artifacts and the journal
    in tmp_path)."""
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(tmp_path / "journals"))
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
    # several runs at once (one query for the whole series): as run by run
    with mlops.start_run("hist-2") as other:
        mlops.log_metric("loss", 1.0)
    store = mlops.get_store()
    ids = [run.run_id, other.run_id]
    for max_points in (None, 50, 5000):
        many = store.metric_histories(ids, "loss", max_points)
        for run_id in ids:
            one = store.metric_history(run_id, "loss", max_points)
            assert list(many[run_id]["step"]) == list(one["step"])
            assert list(many[run_id]["value"]) == list(one["value"])


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


def _start_together(
    tmp_path: Path, count: int, script: str, *args: str
) -> list[tuple[int, str, str]]:
    """Run ``script`` in ``count`` processes that start its work at the same instant (a
    barrier at its ``#READY`` line, after its imports: each says it is ready, then spins on a
    go file); returns each one's (exit code, stdout, stderr)."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script.replace("#READY\n", READY.format(go=str(go), n=n))]
            + list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    try:
        wait_ready(go, count, procs)
        go.touch()
        results = [proc.communicate(timeout=240) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return [(proc.returncode, out, err) for proc, (out, err) in zip(procs, results, strict=True)]


OPEN_STORE = """
import sys
from jupyter_mlops.store import Store
#READY
Store(sys.argv[1]).close()
"""


def test_several_processes_opening_a_fresh_database_at_once(
    postgres_store_url: str, tmp_path: Path
) -> None:
    """Schema creation is serialised (advisory lock): every opener, each in a process of its
    own, succeeds, and the schema is created once, at the head revision."""
    results = _start_together(tmp_path, 4, OPEN_STORE, postgres_store_url)
    assert [code for code, _, _ in results] == [0] * 4, [err for _, _, err in results]
    engine = sa.create_engine(postgres_store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (SCHEMA_HEAD,)
            ]
    finally:
        engine.dispose()


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


CREATE_EXPERIMENTS = """
import json, sys
from jupyter_mlops.store import Store
#READY
store = Store(sys.argv[1], reap=False)
print(json.dumps({f"raced-{i}": store.experiment_id(f"raced-{i}") for i in range(10)}))
store.close()
"""


def test_processes_creating_the_same_experiment_at_once(pg: str, tmp_path: Path) -> None:
    """First runs of new experiments in several processes at once: on PostgreSQL each used
    to read "no such experiment", insert it, and the losers got a raw IntegrityError. Every
    process must get the one experiment id of each name."""
    Store(pg, reap=False).close()  # the schema exists: the processes race on the rows
    results = _start_together(tmp_path, 8, CREATE_EXPERIMENTS, pg)
    assert [code for code, _, _ in results] == [0] * 8, [err for _, _, err in results]
    answers = [json.loads(out) for _, out, _ in results]
    assert all(answer == answers[0] for answer in answers), answers
    engine = sa.create_engine(pg)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT name, experiment_id FROM experiments WHERE name LIKE 'raced-%'")
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == answers[0]


def test_a_run_postgresql_refuses_is_isolated_with_its_points_at_once(
    pg: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """A value the API let through and the database refuses (here a run kind longer than
    its column) loses that run only: its 5,000 points are set aside in one step, not one
    transaction each, and the other run's points are all written."""
    store = mlops.get_store()
    good = mlops.start_run("good", capture=False)
    row = store.new_run_row(name="bad", experiment_id=store.experiment_id("e"), kind="k" * 40)
    store.writer.submit(("run", row, [], [], "e"))
    for i in range(5000):
        store.writer.queue.append(("m", row["run_id"], "x", float(i), 0, i))
        good.log_metric("x", float(i), step=i)
    good.end()
    mlops.flush(timeout=120)
    assert len(mlops.get_run(good.run_id).history("x")) == 5000
    err = capfd.readouterr().err
    assert err.count("the store refused start_run(name='bad'") == 1, err
    assert "5000 operation(s) of refused run" in err
    rejected = [json.loads(line) for line in (store.journal_root / "rejected.jsonl").open()]
    assert len(rejected) == 5001 and {r["operation"][1] for r in rejected[1:]} == {row["run_id"]}
    assert "value too long" in rejected[0]["error"]


def test_a_series_spanning_the_whole_step_range_downsamples_on_postgres(pg: str) -> None:
    with mlops.start_run("span") as run:
        for step in (-(2**63), -5, 0, 7, 2**62, 2**63 - 1):
            mlops.log_metric("x", float(step % 1000), step=step)
    history = mlops.get_run(run.run_id).history("x", max_points=4)
    steps = list(history["step"])
    assert steps[0] == -(2**63) and steps[-1] == 2**63 - 1 and len(steps) <= 4


@pytest.mark.parametrize("outage_s", [30, 180])
def test_a_postgresql_outage_loses_nothing(
    own_postgres_server: Any,
    tmp_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    outage_s: int,
) -> None:
    """PostgreSQL stopped mid-run for 30 s and for 3 minutes, then started again: every
    point logged during the outage arrives, and the user is told once each way."""
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(tmp_path / "journals"))
    mlops.set_store(own_postgres_server.url("mlops"))
    logged = 0
    with mlops.start_run("through-outage", capture=False) as run:
        for _ in range(1000):
            mlops.log_metric("x", float(logged), step=logged)
            logged += 1
        mlops.flush()
        own_postgres_server.pause()
        try:
            end = time.monotonic() + outage_s
            while time.monotonic() < end:  # 1,000 points a second
                for _ in range(100):
                    mlops.log_metric("x", float(logged), step=logged)
                    logged += 1
                time.sleep(0.1)
            with pytest.raises(StoreTimeoutError, match="kept in the journal"):
                mlops.flush(timeout=1)
        finally:
            own_postgres_server.resume()
    mlops.flush(timeout=300)
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert list(loaded.history("x")["step"]) == list(range(logged))
    err = capfd.readouterr().err
    assert err.count("is not accepting writes") == 1, err
    assert err.count("is back; everything logged is written") == 1, err


# Logs 50 points of "loss" (value = step / 2) into run argv[1], then, with argv[2], goes on
# until that file exists (bounded at 60 s).
LOG_RUN = """
import os, sys, time
import jupyter_mlops as mlops
with mlops.start_run(sys.argv[1], capture=False):
    step = 0
    deadline = time.monotonic() + 60
    while step < 50 or (len(sys.argv) > 2 and not os.path.exists(sys.argv[2])
                        and time.monotonic() < deadline):
        mlops.log_metric("loss", step / 2, step=step)
        step += 1
        time.sleep(0.01)
"""


def _get_json(server: Any, path: str) -> Any:
    import urllib.request

    url = f"{server.url}jupyter-mlops/api/{path}"
    request = urllib.request.Request(url, headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return json.load(response)


@pytest.mark.browser
def test_a_team_store_on_postgresql(postgres_store_url: str, tmp_path: Path, browser: Any) -> None:
    """PostgreSQL as a team's store, end to end: processes log into it at once, a Jupyter
    server reads it over REST, the sidebar lists its runs in Chromium, and a run another
    process starts shows up live (RUNNING, then FINISHED) with no reload."""
    from benchmarks.browser import ROW, TAB, click_to_list
    from tests.plugins.lab import require_chromium, screenshot, start_lab

    require_chromium()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.update(
        JUPYTER_MLOPS_STORE=postgres_store_url,
        JUPYTER_MLOPS_ARTIFACTS=str(tmp_path / "artifacts"),
        JUPYTER_MLOPS_JOURNAL=str(tmp_path / "journals"),
        JUPYTER_MLOPS_LIVE="0",
    )

    def log_run(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", LOG_RUN, *args], env=env, stderr=subprocess.PIPE, text=True
        )

    loggers = [log_run(f"team-{n}") for n in range(3)]  # three processes at once
    for proc in loggers:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err

    (tmp_path / "lab").mkdir()
    with start_lab(tmp_path / "lab", "lab-postgres.log", store_url=postgres_store_url) as server:
        listed = _get_json(server, "runs?order_by=name")
        assert [r["name"] for r in listed["runs"]] == ["team-0", "team-1", "team-2"]
        assert listed["total"] == 3 and {r["status"] for r in listed["runs"]} == {"FINISHED"}
        run_id = listed["runs"][0]["run_id"]
        assert _get_json(server, f"runs/{run_id}")["metric_keys"] == ["loss"]
        history = _get_json(server, f"runs/{run_id}/metrics/loss?max_points=10")
        assert history["total_points"] == 50
        assert 2 <= len(history["steps"]) <= 10 and history["steps"][-1] == 49
        assert history["values"] == [step / 2 for step in history["steps"]]

        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        stop = tmp_path / "stop-live"
        live = None
        try:
            page.goto(server.lab_url("lab/workspaces/postgres-team"))
            page.wait_for_selector(TAB, timeout=180_000)
            page.wait_for_load_state("networkidle")
            result = click_to_list(page, 3)
            assert result["count"] == 3, result
            page.evaluate("() => { window.__mlopsNoReload = 'still here'; }")
            live = log_run("team-live", str(stop))
            page.wait_for_selector(
                f'{ROW}[data-status="RUNNING"]:has-text("team-live")', timeout=60_000
            )
            screenshot(page, "sidebar-postgres-live")
            stop.touch()
            page.wait_for_selector(
                f'{ROW}[data-status="FINISHED"]:has-text("team-live")', timeout=60_000
            )
            assert page.evaluate("() => window.__mlopsNoReload") == "still here"
        finally:
            stop.touch()
            if live is not None:
                _, err = live.communicate(timeout=120)
                assert live.returncode == 0, err
            context.close()
        assert _get_json(server, "runs")["total"] == 4
