"""A kernel SIGKILLed mid-run: the run ends up KILLED, at its last sign of life, and every point
the kernel logged up to a moment before the kill is stored (its journal replayed), once."""

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

# Logs the wall-clock time as the value, until the kernel is killed; after each call has
# returned (the point was accepted), publishes how many points it logged into PROGRESS.
LOOP = """\
import os, time
import jupyter_mlops as mlops
run = mlops.start_run("doomed")
fd = os.open({progress!r}, os.O_WRONLY | os.O_CREAT, 0o644)
i = 0
while True:
    mlops.log_metric("t", time.time(), step=i)
    i += 1
    os.pwrite(fd, str(i).rjust(20).encode(), 0)
    time.sleep(0.02)
"""


def _logged(progress: Path) -> int:
    """How many points the kernel had logged (calls returned) when it last said so."""
    text = progress.read_text() if progress.exists() else ""
    return int(text) if text.strip() else 0


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
        progress = tmp_path / "progress"
        client.execute(LOOP.format(progress=str(progress)))

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
        # What the kernel had logged at least a second and 25 points before the kill: all of
        # it must survive (the journal takes a point within ~0.1 s; the rest is margin for a
        # loaded machine). The precise window is measured by benchmarks/durability.py.
        logged_before = _logged(progress)
        since = time.monotonic()
        while _logged(progress) < logged_before + 25 or time.monotonic() - since < 1.0:
            assert time.monotonic() - since < 120, "the kernel stopped logging"
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        deadline = time.monotonic() + 60
        while km.is_alive():  # also reaps the process
            assert time.monotonic() < deadline, "the kernel survived SIGKILL"
            time.sleep(0.05)
        logged_at_kill = _logged(progress)
    finally:
        client.stop_channels()
    assert logged_at_kill >= logged_before + 25 and logged_before >= count

    store = Store(url)  # opening the store reaps runs whose process died, replays its journal
    try:
        record = store.get_run(run_id)
        assert record.status == "KILLED"
        assert "died" in record.error
        history = store.metric_history(run_id, "t")
        values, steps = history["value"], history["step"]
        stored = len(values)
        # Points logged against points stored: nothing missing in the middle or twice; all
        # logged a second before the kill is there; at most the point in flight (logged, not
        # yet published) more than the kernel said it logged.
        assert list(steps) == list(range(stored))
        assert history["total_points"] == stored
        assert logged_before <= stored <= logged_at_kill + 1, (logged_before, stored)
        assert values.max() <= killed_at
        # the run ended at its last sign of life, not at its start
        assert record.end_time is not None
        assert record.end_time >= int(last * 1000) - 1
        assert record.end_time <= int(killed_at * 1000) + 1000
        assert store.reap_dead_runs() == []  # reaped once
    finally:
        store.close()


# A run that logs nothing and waits for a stop file: only its writer's heartbeat shows it is
# alive. HOST: the host the run says it is on (another machine sharing the store, or ours).
IDLE = """
import os, sys, time
import jupyter_mlops as mlops
stop, host = sys.argv[1], sys.argv[2]
run = mlops.start_run("idle-" + sys.argv[3], capture=False, host=host)
mlops.flush()
deadline = time.monotonic() + 240
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def _runs(db: Path) -> dict[str, tuple[str, int, int | None]]:
    """{name: (status, heartbeat, end_time)} of the idle runs committed so far."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(db, timeout=30)
    try:
        rows = conn.execute(
            "SELECT name, status, heartbeat, end_time FROM runs WHERE name LIKE 'idle-%'"
        ).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    finally:
        conn.close()
    return {name: (status, heartbeat, end) for name, status, heartbeat, end in rows}


def test_heartbeats_of_live_runs_are_refreshed_and_a_stale_one_is_reaped(
    tmp_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three processes run idle runs: one says it is on another host (a machine sharing the
    store, whose pid means nothing here), one on this host, and one on another host that is
    then SIGKILLed. The live runs' heartbeats are refreshed while they log nothing; after the
    kill, the dead run's heartbeat goes stale and the next store opening reaps it, ending it
    at its last heartbeat, while the live runs stay RUNNING."""
    import platform
    import subprocess
    import sys

    from jupyter_mlops.store import reaper
    from jupyter_mlops.store.writer import HEARTBEAT_INTERVAL_S

    db = Path(tmp_store.removeprefix("sqlite:///"))
    stop = tmp_path / "stop"
    cases = {"remote": "other-box", "local": platform.node(), "doomed": "other-box"}
    procs = {
        name: subprocess.Popen([sys.executable, "-c", IDLE, str(stop), host, name])
        for name, host in cases.items()
    }
    try:
        deadline = time.monotonic() + 120
        while len(first := _runs(db)) < len(cases):
            assert time.monotonic() < deadline, f"the runs did not start: {first}"
            time.sleep(0.1)
        # refreshed: each heartbeat moves on, with nothing logged (the writer's alone)
        deadline = time.monotonic() + 6 * HEARTBEAT_INTERVAL_S
        while True:
            now = _runs(db)
            if all(now[f"idle-{n}"][1] > first[f"idle-{n}"][1] for n in cases):
                break
            assert time.monotonic() < deadline, f"heartbeats not refreshed: {first} {now}"
            time.sleep(0.2)
        procs["doomed"].kill()
        procs["doomed"].wait()
        last_beat = _runs(db)["idle-doomed"][1]
        # Stale after 3 heartbeat intervals instead of 10 minutes, so the test waits 30 s:
        # the live runs beat every 10 s and stay inside it.
        stale_ms = int(3 * HEARTBEAT_INTERVAL_S * 1000)
        monkeypatch.setattr(reaper, "STALE_HEARTBEAT_MS", stale_ms)
        deadline = time.monotonic() + stale_ms / 1000 + 120
        while True:
            store = Store(tmp_store)  # opening reaps
            store.close()
            now = _runs(db)
            assert now["idle-remote"][0] == "RUNNING" and now["idle-local"][0] == "RUNNING", now
            if now["idle-doomed"][0] != "RUNNING":
                break
            assert time.monotonic() < deadline, f"the stale run was never reaped: {now}"
            time.sleep(1.0)
        assert now["idle-doomed"][0] == "KILLED"
        assert now["idle-doomed"][2] == now["idle-doomed"][1] == last_beat  # its last beat
        assert time.time() * 1000 - last_beat > stale_ms
    finally:
        stop.touch()
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    final = _runs(db)
    assert final["idle-remote"][0] == final["idle-local"][0] == "FINISHED"
