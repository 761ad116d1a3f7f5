"""Processes logging to one store at once, SQLite (no "database is locked") and PostgreSQL (a
team's shared store): no lost rows; processes opening a fresh SQLite store at the same instant."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.process_barrier import wait_ready

pytestmark = pytest.mark.slow

PROCESSES = 4
RUNS_PER_PROCESS = 3
POINTS_PER_RUN = 2500
OPENERS = 6


WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    go = Path(sys.argv[1])
    worker = int(sys.argv[2])
    runs, points = int(sys.argv[3]), int(sys.argv[4])

    import jupyter_mlops as mlops

    Path(f"{go}.ready-{worker}").touch()  # imported: the barrier counts this process in
    while not go.exists():  # start together
        time.sleep(0.005)

    mlops.set_experiment("shared")  # every process creates the same experiment
    for r in range(runs):
        with mlops.start_run(f"w{worker}-r{r}", params={"worker": worker, "run": r},
                             tags={"pid": os.getpid()}):
            for step in range(points):
                mlops.log_metrics({"loss": 1.0 / (step + 1), "acc": step / points}, step=step)
                if step % 500 == 0:
                    mlops.set_tag("progress", str(step))
                    time.sleep(0.01)  # let the writers interleave
            with mlops.start_run(f"w{worker}-r{r}-child"):
                mlops.log_metric("child", worker)
    mlops.flush()
    print("done", worker)
    """
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_four_processes_logging_to_one_store(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        # a fresh file: the processes also race to create it
        url = f"sqlite:///{tmp_path / 'shared' / 'mlops.db'}"
    else:  # a fresh database: the processes also race to create the schema
        url = request.getfixturevalue("postgres_store_url")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.update(
        JUPYTER_MLOPS_STORE=url,
        JUPYTER_MLOPS_ARTIFACTS=str(tmp_path / "arts"),
        JUPYTER_MLOPS_JOURNAL=str(tmp_path / "journals"),
        PYTHONUNBUFFERED="1",
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(go),
                str(n),
                str(RUNS_PER_PROCESS),
                str(POINTS_PER_RUN),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    wait_ready(go, PROCESSES, procs)  # every process has imported and waits for "go"
    go.touch()
    results = [proc.communicate(timeout=240) for proc in procs]

    for n, (proc, (out, err)) in enumerate(zip(procs, results, strict=True)):
        assert proc.returncode == 0, f"worker {n} failed:\n{err}"
        assert f"done {n}" in out
        assert "database is locked" not in err, err
        assert "refused" not in err and "not accepting writes" not in err, err
        assert "writer error" not in err, err

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            _check_logged(conn)
    finally:
        engine.dispose()


def _check_logged(conn: sa.Connection) -> None:
    """Every run, param, tag and point the workers logged is stored once, in step order."""

    def one(sql: str) -> int:
        return conn.execute(sa.text(sql)).scalar_one()

    runs_total = RUNS_PER_PROCESS * PROCESSES
    assert one("SELECT COUNT(*) FROM experiments WHERE name = 'shared'") == 1
    assert one("SELECT COUNT(*) FROM runs") == 2 * runs_total
    assert one("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'") == 2 * runs_total
    assert one("SELECT COUNT(*) FROM params") == 2 * runs_total
    assert one("SELECT COUNT(*) FROM tags WHERE key = 'progress'") == runs_total
    assert one("SELECT COUNT(*) FROM metrics") == runs_total * (2 * POINTS_PER_RUN + 1)
    per_series = conn.execute(
        sa.text(
            "SELECT r.name, s.key, s.point_count, COUNT(m.id), s.latest_step "
            "FROM metric_series s JOIN runs r ON r.run_id = s.run_id "
            "JOIN metrics m ON m.series_id = s.series_id "
            "GROUP BY s.series_id, r.name, s.key, s.point_count, s.latest_step"
        )
    ).all()
    assert len(per_series) == runs_total * 3
    for name, key, point_count, rows, latest_step in per_series:
        expected = 1 if key == "child" else POINTS_PER_RUN
        assert (point_count, rows) == (expected, expected), (name, key)
        assert latest_step == expected - 1, (name, key)
    # each run's points are its own, in step order with no gaps
    steps = conn.execute(
        sa.text(
            "SELECT COUNT(DISTINCT m.step), MIN(m.step), MAX(m.step) FROM metrics m "
            "JOIN metric_series s ON s.series_id = m.series_id WHERE s.key = 'loss' "
            "GROUP BY s.series_id"
        )
    ).all()
    assert {tuple(row) for row in steps} == {(POINTS_PER_RUN, 0, POINTS_PER_RUN - 1)}


OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jupyter_mlops.store.engine import create_store_engine

    go = Path(sys.argv[1])
    Path(f"{go}.ready-{sys.argv[3]}").touch()  # imported: the barrier counts this process in
    while not go.exists():
        pass  # spin, not sleep: the processes must collide on the WAL switch
    create_store_engine(sys.argv[2])
    """
)


def test_processes_opening_a_fresh_store_at_the_same_instant(tmp_path: Path) -> None:
    """Each opener switches the new file to WAL. Two that collide are deadlocked, and SQLite
    fails one at once with "database is locked", without its busy timeout; it must retry."""
    script = tmp_path / "opener.py"
    script.write_text(OPENER)
    failures = []
    for round_ in range(8):
        go = tmp_path / f"go-{round_}"
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.db'}"
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(go), url, str(n)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(OPENERS)
        ]
        wait_ready(go, OPENERS, procs)  # every process is spinning on the go file
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode:
                failures.append(err.strip().splitlines()[-1])
    assert not failures, failures


def test_wal_switch_waits_out_a_lock_sqlite_reports_at_once(tmp_path: Path) -> None:
    """The same retry, deterministic: with no busy handler, SQLite reports another
    connection's lock at once, as it does in the deadlock above."""
    import threading

    from jupyter_mlops.store.engine import _switch_to_wal

    path = tmp_path / "locked.db"
    sqlite3.connect(path).close()
    locked, release = threading.Event(), threading.Event()

    def hold_exclusive_lock() -> None:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(10)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=hold_exclusive_lock)
    thread.start()
    assert locked.wait(10)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("PRAGMA journal_mode = WAL")  # what the store used to do
        threading.Timer(0.3, release.set).start()
        _switch_to_wal(conn.cursor())
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        release.set()
        thread.join()
        conn.close()
