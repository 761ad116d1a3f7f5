"""Journals left behind are applied exactly once: SIGKILLed loggers, two processes opening
the store at once, damaged tails, offline processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.store import Store
from jupyter_mlops.store.journal import list_journals, segments

pytestmark = pytest.mark.slow

# Logs steps 0, 1, 2, ... of metric "x" and writes how far it got to PROGRESS every 1,000
# steps (after the call returned: those points were accepted). PACE: seconds per point.
# That frequent short write is also what a training loop's print does: the loop gives up the
# GIL and takes it back so often that the journal thread alone never got it (the journal was
# still empty at the kill), so logging calls write an overdue journal themselves.
LOGGER = textwrap.dedent(
    """
    import os, sys, time
    import jupyter_mlops as mlops
    progress, pace = sys.argv[1], float(sys.argv[2])
    run = mlops.start_run("victim", capture=False)
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, (run.run_id + " " + str(0).rjust(20)).encode(), 0)
    step = 0
    next_at = time.monotonic()
    while True:
        mlops.log_metric("x", float(step), step=step)
        step += 1
        if step % 1000 == 0:
            os.pwrite(fd, (run.run_id + " " + str(step).rjust(20)).encode(), 0)
        if pace:
            next_at += pace
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    """
)


def _progress(path: Path) -> tuple[str, int]:
    text = path.read_text() if path.exists() else ""
    if len(text.split()) != 2:
        return "", 0
    run_id, count = text.split()
    return run_id, int(count)


def _steps(db: Path, run_id: str) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [
            row[0]
            for row in conn.execute(
                "SELECT m.step FROM metrics m JOIN metric_series s ON s.series_id = m.series_id "
                "WHERE s.run_id = ? ORDER BY m.step",
                (run_id,),
            )
        ]
    finally:
        conn.close()


def _start_logger(tmp_path: Path, pace: float) -> tuple[subprocess.Popen[bytes], Path]:
    progress = tmp_path / "progress"
    proc = subprocess.Popen(
        [sys.executable, "-c", LOGGER, str(progress), str(pace)],
        env={**os.environ, "JUPYTER_MLOPS_LIVE": "0"},
        stdin=subprocess.DEVNULL,
    )
    return proc, progress


def _wait_progress(proc: subprocess.Popen[bytes], progress: Path, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the logger died"
        _, count = _progress(progress)
        if count >= at_least:
            return count
        time.sleep(0.05)
    raise AssertionError(f"the logger did not reach {at_least} points in 120 s")


@pytest.mark.parametrize(("pace", "first"), [(0.0, 200_000), (0.0002, 2_000)])
def test_sigkill_loses_only_the_last_moment(
    tmp_store: str, tmp_path: Path, pace: float, first: int
) -> None:
    """A tight loop (hundreds of thousands of points a second) and a paced one: after a
    SIGKILL and the next opening of the store, every point logged more than a second before
    the kill is stored, once, in order."""
    proc, progress = _start_logger(tmp_path, pace)
    try:
        _wait_progress(proc, progress, first)
        run_id, logged_a_second_before = _progress(progress)
        time.sleep(1.0)
        _, logged_at_kill = _progress(progress)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert logged_at_kill > logged_a_second_before
    store = Store(tmp_store)  # opening replays the dead process's journal
    try:
        assert store.run_status(run_id) == "KILLED"
    finally:
        store.close()
    steps = _steps(Path(tmp_store.removeprefix("sqlite:///")), run_id)
    assert steps == list(range(len(steps))), "points missing in the middle, or twice"
    assert len(steps) >= logged_a_second_before, (
        f"{logged_a_second_before} points were logged a second before the kill, {len(steps)} stored"
    )
    assert not list_journals(Path(tmp_store.removeprefix("sqlite:///") + ".journals"))


CONCURRENT_OPEN = textwrap.dedent(
    """
    import sys, time
    from jupyter_mlops.store import Store
    start_at = float(sys.argv[1])
    while time.time() < start_at:
        time.sleep(0.001)
    Store(sys.argv[2]).close()
    """
)


def test_two_processes_opening_the_store_at_once_replay_a_journal_once(
    tmp_store: str, tmp_path: Path
) -> None:
    db = Path(tmp_store.removeprefix("sqlite:///"))
    offline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import jupyter_mlops as m\n"
            "with m.start_run('offline') as r:\n"
            "    for i in range(20000): m.log_metric('x', i, step=i)\n"
            "print(r.run_id)",
        ],
        env={**os.environ, "JUPYTER_MLOPS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = offline.stdout.strip()
    assert "kept in the journal" in offline.stderr
    [journal] = list_journals(db.parent / (db.name + ".journals"))
    assert not journal.alive
    start_at = time.time() + 3.0  # both are past their imports by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_OPEN, str(start_at), tmp_store],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert sum("wrote 20003 logged operations" in e for e in errors) == 1, (
        errors
    )  # run, capture, end
    assert _steps(db, run_id) == list(range(20000))
    run = mlops.get_run(run_id)
    assert run.status == "FINISHED" and run.metrics["x"] == 19999.0


def test_a_damaged_tail_is_applied_up_to_the_last_whole_record(
    tmp_store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    db = Path(tmp_store.removeprefix("sqlite:///"))
    script = (
        "import jupyter_mlops as m, time\n"
        "r = m.start_run('torn', capture=False)\n"
        "for i in range(1000): m.log_metric('x', i, step=i)\n"
        "m.flush()\n"  # offline: the journal holds these, in one or more records
        "time.sleep(0.3)\n"
        "for i in range(1000, 2000): m.log_metric('x', i, step=i)\n"
        "m.flush()\n"
        "print(r.run_id)\n"
        "import os; os._exit(0)\n"  # no clean end: like a crash
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "JUPYTER_MLOPS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = done.stdout.strip()
    [journal] = list_journals(db.parent / (db.name + ".journals"))
    [(_, segment)] = segments(journal.path)
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # the last record torn
    capfd.readouterr()
    Store(tmp_store).close()
    err = capfd.readouterr().err
    assert "unreadable bytes" in err and "Everything before them was applied" in err
    steps = _steps(db, run_id)
    assert steps and steps == list(range(len(steps))) and len(steps) < 2000
    kept = list(db.parent.glob(f"{db.name}.journals/*.damaged"))
    assert kept, "the damaged segment is kept for inspection"


def test_a_version_1_journal_left_by_an_older_release_is_applied(tmp_store: str) -> None:
    """Version 1 held one ("m", ...) operation per metric point; version 2 packs them."""
    import struct

    from jupyter_mlops.store.journal import JournalWriter, read_records

    store = Store(tmp_store)
    row = store.new_run_row(name="old", experiment_id=store.experiment_id("e"), kind="api")
    root = store.journal_root
    store.close()
    run_id = row["run_id"]
    points = [("m", run_id, "loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(50)]
    journal = JournalWriter(root, tmp_store)
    journal.append([("run", row, [("lr", "0.1")], [])])
    journal.append([*points, ("update", run_id, {"status": "FINISHED", "end_time": 1})])
    journal.close()  # as a process that died: the next store opening applies it
    segment = journal.path / "000001.mlj"
    data = bytearray(segment.read_bytes())
    struct.pack_into("<H", data, 8, 1)  # written by a version-1 release
    segment.write_bytes(bytes(data))
    assert len(list(read_records(journal.path, None))) == 2
    reopened = Store(tmp_store)
    try:
        run = reopened.get_run(run_id)
        assert (run.status, run.params, run.metrics) == ("FINISHED", {"lr": "0.1"}, {"loss": 0.02})
        history = reopened.metric_history(run_id, "loss")
        assert list(history["step"]) == list(range(50))
        assert not journal.path.exists()
    finally:
        reopened.close()
