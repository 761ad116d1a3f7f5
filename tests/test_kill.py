"""A kernel SIGKILLed mid-run: the run ends up KILLED and the metrics flushed so far are kept."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from jupyter_mlops.store import Store

pytestmark = pytest.mark.slow

LOOP = """\
import time
import jupyter_mlops as mlops
run = mlops.start_run("doomed")
i = 0
while True:  # log the wall-clock time as the value, until the kernel is killed
    mlops.log_metric("t", time.time(), step=i)
    i += 1
    time.sleep(0.02)
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, str]]:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.update(JUPYTER_MLOPS_STORE=url, JUPYTER_MLOPS_ARTIFACTS=str(tmp_path / "artifacts"))
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    try:
        yield km, url
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        km.cleanup_resources()


def _progress(db: Path) -> tuple[str | None, int | None, int, float | None, float | None]:
    """(run id, pid, points, first t, last t) of the doomed run as committed so far."""
    if not db.exists():
        return None, None, 0, None, None
    conn = sqlite3.connect(db, timeout=30)
    try:
        run = conn.execute("SELECT run_id, pid FROM runs WHERE name = 'doomed'").fetchone()
        if run is None:
            return None, None, 0, None, None
        count, first, last = conn.execute(
            "SELECT COUNT(*), MIN(m.value), MAX(m.value) FROM metrics m "
            "JOIN metric_series s ON s.series_id = m.series_id WHERE s.run_id = ?",
            (run[0],),
        ).fetchone()
        return run[0], run[1], count, first, last
    except sqlite3.OperationalError:  # tables not created yet
        return None, None, 0, None, None
    finally:
        conn.close()


def test_sigkill_mid_run_is_killed_with_metrics_kept(
    kernel: tuple[KernelManager, str], tmp_path: Path
) -> None:
    km, url = kernel
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        client.execute(LOOP)

        # Let it log for ~3 s, and make sure the writer is keeping up: the newest committed
        # point is less than a second old at the moment we look.
        deadline = time.monotonic() + 120
        while True:
            run_id, pid, count, first, last = _progress(tmp_path / "mlops.db")
            now = time.time()
            if first is not None and last is not None and last - first >= 3.0 and now - last < 1.0:
                break
            assert time.monotonic() < deadline, "the kernel never logged 3 s of metrics"
            time.sleep(0.05)
        assert pid is not None and pid != os.getpid()
        seen_count, seen_last = count, last
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        deadline = time.monotonic() + 60
        while km.is_alive():  # also reaps the process
            assert time.monotonic() < deadline, "the kernel survived SIGKILL"
            time.sleep(0.05)
    finally:
        client.stop_channels()

    store = Store(url)  # opening the store reaps runs whose process died
    try:
        record = store.get_run(run_id)
        assert record.status == "KILLED"
        assert "died" in record.error
        history = store.metric_history(run_id, "t")
        values, steps = history["value"], history["step"]
        # everything committed before the kill is still there, without gaps...
        assert len(values) >= seen_count
        assert list(steps) == list(range(len(steps)))
        assert history["total_points"] == len(values)
        # ...up to the last second before the kill (the writer commits every 0.2 s)
        assert values.max() >= seen_last >= killed_at - 1.0 - (killed_at - now)
        assert values.max() <= killed_at
        # the run ended at its last sign of life, not at its start
        assert record.end_time is not None
        assert record.end_time >= int(seen_last * 1000) - 1
        assert record.end_time <= int(killed_at * 1000) + 1000
        assert store.reap_dead_runs() == []  # reaped once
    finally:
        store.close()
