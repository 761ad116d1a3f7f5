"""Liveness of RUNNING runs, and the reaper that marks the dead ones KILLED.

A RUNNING run carries the host and pid of its process and a heartbeat that the writer bumps
every ``writer.HEARTBEAT_INTERVAL_S``. A run of this host is dead when its process is gone
(or the pid now belongs to a process started after the run); a run of another host, when
neither its heartbeat nor a write has been seen for ``STALE_HEARTBEAT_MS``.
"""

from __future__ import annotations

import socket
from collections.abc import Collection

import psutil
from sqlalchemy import Engine, select, update

from .engine import WRITE
from .ids import now_ms
from .schema import runs

# A RUNNING run on another host whose heartbeat is older than this is considered dead.
STALE_HEARTBEAT_MS = 10 * 60 * 1000

HOST = socket.gethostname()

KILLED_ERROR = "The process running this run died (kernel died, was killed, or lost its host)."


def reap_dead_runs(engine: Engine, alive: Collection[str] = ()) -> list[str]:
    """Mark RUNNING runs whose process is gone (or heartbeat stale) as KILLED, ended at
    their last sign of life. ``alive``: runs this process is logging to (never reaped).
    Returns the ids of the runs marked."""
    stamp = now_ms()
    with engine.connect() as conn:
        candidates = conn.execute(
            select(
                runs.c.run_id,
                runs.c.host,
                runs.c.pid,
                runs.c.start_time,
                runs.c.heartbeat,
                runs.c.last_update_time,
            ).where(runs.c.status == "RUNNING")
        ).all()
    dead = []
    for run_id, host, pid, start_time, heartbeat, last_update in candidates:
        if run_id in alive:
            continue
        # The run ended at its last sign of life: a heartbeat or a committed write.
        last_seen = max(heartbeat, last_update or 0)
        if host == HOST and pid is not None:
            if not process_alive(pid, start_time):
                dead.append((run_id, last_seen))
        elif stamp - last_seen > STALE_HEARTBEAT_MS:
            dead.append((run_id, last_seen))
    if dead:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            for run_id, last_seen in dead:
                conn.execute(
                    update(runs)
                    .where(runs.c.run_id == run_id, runs.c.status == "RUNNING")
                    .values(
                        status="KILLED",
                        end_time=last_seen,
                        last_update_time=stamp,
                        error=KILLED_ERROR,
                    )
                )
    return [run_id for run_id, _ in dead]


def process_alive(pid: int, start_time_ms: int) -> bool:
    """Whether process ``pid`` of this host is still the one that started a run at
    ``start_time_ms``."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # A process that started after the run did is a new process that reused the pid.
        return process.create_time() * 1000 <= start_time_ms + 1000
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
