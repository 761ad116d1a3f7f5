"""Four processes logging to one SQLite store at once: no lost rows, no "database is locked"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROCESSES = 4
RUNS_PER_PROCESS = 3
POINTS_PER_RUN = 2500

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    go = Path(sys.argv[1])
    worker = int(sys.argv[2])
    runs, points = int(sys.argv[3]), int(sys.argv[4])
    while not go.exists():  # start together
        time.sleep(0.005)

    import jupyter_mlops as mlops

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


def test_four_processes_logging_to_one_sqlite_store(tmp_path: Path) -> None:
    store = tmp_path / "shared" / "mlops.db"  # fresh: the processes also race to create it
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.update(
        JUPYTER_MLOPS_STORE=str(store),
        JUPYTER_MLOPS_ARTIFACTS=str(tmp_path / "arts"),
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
    time.sleep(0.5)  # let them import; they spin until "go"
    go.touch()
    results = [proc.communicate(timeout=240) for proc in procs]

    for n, (proc, (out, err)) in enumerate(zip(procs, results, strict=True)):
        assert proc.returncode == 0, f"worker {n} failed:\n{err}"
        assert f"done {n}" in out
        assert "database is locked" not in err, err
        assert "giving up" not in err, err
        assert "writer error" not in err, err

    conn = sqlite3.connect(store)
    try:
        runs_total = RUNS_PER_PROCESS * PROCESSES
        assert (
            conn.execute("SELECT COUNT(*) FROM experiments WHERE name = 'shared'").fetchone()[0]
            == 1
        )
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2 * runs_total
        assert (
            conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]
            == 2 * runs_total
        )
        assert conn.execute("SELECT COUNT(*) FROM params").fetchone()[0] == 2 * runs_total
        assert (
            conn.execute("SELECT COUNT(*) FROM tags WHERE key = 'progress'").fetchone()[0]
            == runs_total
        )
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == (
            runs_total * (2 * POINTS_PER_RUN + 1)
        )
        per_series = conn.execute(
            "SELECT r.name, s.key, s.point_count, COUNT(m.id), s.latest_step "
            "FROM metric_series s JOIN runs r ON r.run_id = s.run_id "
            "JOIN metrics m ON m.series_id = s.series_id GROUP BY s.series_id"
        ).fetchall()
        assert len(per_series) == runs_total * 3
        for name, key, point_count, rows, latest_step in per_series:
            expected = 1 if key == "child" else POINTS_PER_RUN
            assert (point_count, rows) == (expected, expected), (name, key)
            assert latest_step == expected - 1, (name, key)
        # each run's points are its own, in step order with no gaps
        steps = conn.execute(
            "SELECT COUNT(DISTINCT m.step), MIN(m.step), MAX(m.step) FROM metrics m "
            "JOIN metric_series s ON s.series_id = m.series_id WHERE s.key = 'loss' "
            "GROUP BY s.series_id"
        ).fetchall()
        assert set(steps) == {(POINTS_PER_RUN, 0, POINTS_PER_RUN - 1)}
    finally:
        conn.close()
