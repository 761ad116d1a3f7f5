"""Durability benchmarks of the journal (issue 8), against the code before it.

Each measurement runs in fresh processes (``durability_child.py``) that load either the
current tree ("after") or ``jupyter_mlops/`` as it was at the ``--before`` commit, extracted
with ``git archive`` into the worker's temporary folder ("before"):

- ``kill``: a child logs steps 0, 1, 2, ... of one metric, tight or paced, and publishes
  (calls returned, time) in a memory-mapped ring every ~1 ms of logging; this process SIGKILLs
  it after ``kill_after_s`` seconds, then a fresh process opens the store (replaying the
  journal), checks the stored steps are exactly 0..n-1 and counts them. Lost = logged at the
  kill - stored; the target is lost <= the points logged in the last 0.2 s before the kill.
- ``journal``: the 1,000,000-call ``log_metric`` loop, after and before, alternating in
  fresh processes: accepted and durable calls/s (median of ``journal_pairs``).
- ``sweep``: N runs with 2 params and 1 metric each, until ``flush()`` returns, with the
  run's capture (git, environment) off and on (the default).
- ``outage``: a throwaway PostgreSQL server (``tests/postgres_server.py``); a child logs at a
  steady rate, the server is stopped for ``outage_s`` and started again, the child stops and
  flushes; every point must be stored, and the catch-up time is from the restart until the
  flush returned.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import durability_child as child
from .common import CLEAR_ENV, REPO_ROOT, SET_ENV, Sizes, log, loop_rates

SIDE = "jupyter-mlops"
CHILD = Path(child.__file__).resolve()
# (result name, points/s; 0 = as fast as the loop goes)
KILL_RATES = (("tight", 0), ("paced_100k", 100_000), ("paced_10k", 10_000))
RECENT_S = 0.2  # the README's promise: at most the last ~0.2 s of points
CHILD_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Code:
    """The ``jupyter_mlops`` a child process loads: ``root`` holds the package."""

    label: str  # "after" (the current tree) or "before"
    root: Path

    def key(self, name: str) -> str:
        """The result name: ``kill.tight`` after, ``before.kill.tight`` before."""
        return name if self.label == "after" else f"before.{name}"


AFTER = Code("after", REPO_ROOT)


def before_code(rev: str, tmp: Path) -> tuple[Code, str]:
    """``jupyter_mlops/`` at ``rev``, extracted (``git archive``) into ``tmp``; and the full
    commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = tmp / f"before-{commit[:12]}"
    if not (root / "jupyter_mlops" / "__init__.py").exists():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit, "jupyter_mlops"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
    return Code("before", root), commit


def codes(state: dict[str, Any], tmp: Path, out: dict[str, Any]) -> list[Code]:
    """The current tree, and the ``--before`` commit's code unless there is none
    (``state["before_rev"]``, set by the worker), extracted on first use."""
    rev = state.get("before_rev")
    if not rev:
        return [AFTER]
    if "before_code" not in state:
        state["before_code"], commit = before_code(rev, tmp)
        out["before.code"] = {"rev": rev, "commit": commit}
    return [AFTER, state["before_code"]]


def child_env(code: Code, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAR_ENV}
    env.update(SET_ENV)
    env["PYTHONPATH"] = str(code.root)
    env["JUPYTER_MLOPS_LIVE"] = "0"
    env.update(extra or {})
    return env


def _command(code: Code, mode: str, out: Path, **options: Any) -> list[str]:
    command = [sys.executable, "-P", str(CHILD), mode, "--code", str(code.root), "--out", str(out)]
    for name, value in options.items():
        if value is True:
            command.append(f"--{name.replace('_', '-')}")
        elif value is not None and value is not False:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def _result(out: Path, proc: subprocess.Popen[bytes] | subprocess.CompletedProcess[bytes]) -> Any:
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{out.stem}: the child process exited with {proc.returncode}")
    import json

    return json.loads(out.read_text(encoding="utf-8"))


def run_child(
    code: Code, mode: str, work: Path, env: dict[str, str] | None = None, **options: Any
) -> dict[str, Any]:
    """Run one child to completion (cwd: the repository, a git checkout, as a user's project
    would be); its stderr streams to ours."""
    out = work / f"{mode}-{code.label}-{time.monotonic_ns()}.json"
    done = subprocess.run(
        _command(code, mode, out, **options),
        cwd=REPO_ROOT,
        env=env or child_env(code),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    return _result(out, done)


def _wait_first_slot(proc: subprocess.Popen[bytes], ring: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not child.read_ring(ring):
        if proc.poll() is not None:
            raise RuntimeError(f"the logger exited with {proc.returncode} before logging")
        if time.monotonic() > deadline:
            raise RuntimeError("the logger did not start logging in time")
        time.sleep(0.01)


def _count_at(slots: list[tuple[int, int]], t_ns: int) -> int:
    """Calls returned by time ``t_ns`` (the newest slot at or before it; 0 before the first)."""
    best = 0
    for count, stamp in slots:
        if stamp > t_ns:
            break
        best = count
    return best


def _every(rate: int) -> int:
    """Publish about every millisecond of logging."""
    return 1000 if rate == 0 else max(1, rate // 1000)


def _start_logger(
    code: Code,
    work: Path,
    store: str,
    rate: int,
    env: dict[str, str] | None = None,
    stop_flag: bool = False,
) -> tuple[subprocess.Popen[bytes], Any, int, Path, Path]:
    progress = work / "progress"
    fd, ring = child.open_ring(progress, create=True)
    out = work / "logger.json"
    proc = subprocess.Popen(
        _command(
            code,
            "logger",
            out,
            store=store,
            progress=progress,
            rate=rate,
            every=_every(rate),
            stop_flag=stop_flag,
        ),
        cwd=REPO_ROOT,
        env=env or child_env(code),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return proc, ring, fd, progress, out


class RingMismatch(RuntimeError):
    """More points stored than the progress ring says were logged: a wrong count."""


def _kill_once(code: Code, work: Path, rate: int, kill_after_s: float) -> dict[str, Any]:
    work.mkdir(parents=True)
    store = f"sqlite:///{work / 'mlops.db'}"
    proc, ring, fd, progress, _ = _start_logger(code, work, store, rate)
    try:
        _wait_first_slot(proc, ring)
        first_count, first_t = child.read_ring(ring)[0]
        time.sleep(max(0.0, first_t / 1e9 + kill_after_s - time.monotonic()))
        os.kill(proc.pid, signal.SIGKILL)
        killed_ns = time.monotonic_ns()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    slots = child.read_ring(bytes(ring))
    ring.close()
    os.close(fd)
    logged, last_t = slots[-1]
    recent = logged - _count_at(slots, killed_ns - int(RECENT_S * 1e9))
    run_id = Path(str(progress) + ".run").read_text()
    stored = run_child(code, "count", work, store=store, run=run_id)
    every = _every(rate)
    # The ring is written every `every` calls, so the logger may have made up to every - 1
    # calls more than its last slot says: more stored than that is a wrong count.
    if stored["stored"] > logged + every:
        raise RingMismatch(f"{stored['stored']} points stored, only {logged} logged")
    lost = max(0, logged - stored["stored"])
    logging_s = (last_t - first_t) / 1e9
    return {
        "rate_target": rate,
        "rate": (logged - first_count) / logging_s if logging_s > 0 else None,
        "kill_after_s": kill_after_s,
        "logged": logged,
        "last_published_ms_before_kill": (killed_ns - last_t) / 1e6,
        "publish_every": every,
        "stored": stored["stored"],
        "lost": lost,
        "lost_pct": 100.0 * lost / logged if logged else 0.0,
        "logged_last_0_2s": recent,
        "lost_within_last_0_2s": lost <= recent,
        "open_s": stored["open_s"],
        "status": stored["status"],
        "journals_left": stored["journals_left"],
    }


def kill(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """SIGKILL a tight and two paced ``log_metric`` loops, after and before."""
    for code in codes(state, tmp, out):
        for name, rate in KILL_RATES:
            # A case whose count is wrong records no result; it is run once more (in a fresh
            # folder), and the retry and its reason are kept in the result.
            try:
                result = _kill_once(
                    code, tmp / f"kill-{code.label}-{name}", rate, sizes.kill_after_s
                )
            except RingMismatch as exc:
                log(SIDE, f"SIGKILL {name} ({code.label}): {exc}; running it again")
                result = _kill_once(
                    code, tmp / f"kill-{code.label}-{name}-again", rate, sizes.kill_after_s
                )
                result["retried_after"] = str(exc)
            out[code.key(f"kill.{name}")] = result
            log(
                SIDE,
                f"SIGKILL {name} ({code.label}): {result['logged']:,} logged at "
                f"{result['rate'] or 0:,.0f}/s, {result['stored']:,} stored, "
                f"{result['lost']:,} lost; {result['logged_last_0_2s']:,} logged in the last "
                f"0.2 s; store opened in {result['open_s']:.2f} s",
            )


def journal(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The 1,000,000-call ``log_metric`` loop after vs before, alternating fresh processes."""
    n = sizes.journal_points
    samples: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    work = tmp / "journal"
    work.mkdir()
    for index in range(sizes.journal_pairs):
        order = codes(state, tmp, out)[:: 1 if index % 2 == 0 else -1]
        for code in order:
            store = work / f"loop-{code.label}-{index}.db"
            r = run_child(code, "loop", work, store=store, n=n)
            samples.setdefault(code.label, []).append(
                loop_rates(n, r["start_ns"], r["returned_ns"], r["done_ns"])
            )
    for code in codes(state, tmp, out):
        pairs = samples[code.label]
        for which, index in (("accepted", 0), ("durable", 1)):
            rates = [p[index]["calls_per_s"] for p in pairs]
            out[code.key(f"journal.{which}")] = {
                "calls_per_s": statistics.median(rates),
                "samples": rates,
                "final_flush_s": [p[1]["final_flush_s"] for p in pairs] if index else None,
                "n": n,
            }
    after = out["journal.accepted"]["calls_per_s"], out["journal.durable"]["calls_per_s"]
    text = f"log_metric x {n:,}: after {after[0]:,.0f}/s accepted, {after[1]:,.0f}/s durable"
    if "before.journal.accepted" in out:
        before = (
            out["before.journal.accepted"]["calls_per_s"],
            out["before.journal.durable"]["calls_per_s"],
        )
        text += f"; before {before[0]:,.0f}/s, {before[1]:,.0f}/s"
    log(SIDE, text + f" (median of {sizes.journal_pairs})")


def _sweep_once(code: Code, work: Path, n: int, capture: bool, repeats: int) -> dict[str, Any]:
    totals, loops, sizes = [], [], []
    for index in range(repeats):
        store = work / f"sweep-{code.label}-{n}-{int(capture)}-{index}.db"
        r = run_child(code, "sweep", work, store=store, n=n, capture=int(capture))
        totals.append((r["done_ns"] - r["start_ns"]) / 1e9)
        loops.append((r["returned_ns"] - r["start_ns"]) / 1e9)
        sizes.append(r["capture_bytes_per_run"])
        for path in work.glob(store.name + "*"):  # GBs with capture on in a dirty checkout
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    total = statistics.median(totals)
    return {
        # the git capture holds the working tree's diff (up to 100 kB): its size drives the
        # cost of capture on, so it is recorded
        "capture_kb_per_run": statistics.median(sizes) / 1000,
        "total_s": total,
        "loop_s": statistics.median(loops),
        "per_run_ms": total * 1000 / n,
        "samples_s": totals,
        "runs": n,
        "capture": capture,
    }


def sweep(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """N runs with 2 params and 1 metric each, until flushed; capture off and on."""
    work = tmp / "sweep"
    work.mkdir()
    both = codes(state, tmp, out)
    plan = [
        ("sweep.small", sizes.sweep_runs, False, both),
        ("sweep.small_capture", sizes.sweep_runs, True, both),
        ("sweep.large", sizes.sweep_large_runs, False, [AFTER]),
        ("sweep.large_capture", sizes.sweep_large_runs, True, [AFTER]),
    ]
    for name, n, capture, which in plan:
        for code in which:
            # The small sweep of the current tree is the median of sweep_repeats; the code
            # before (seconds a sweep) and the large sweep are measured once.
            repeats = sizes.sweep_repeats if code is AFTER and name.startswith("sweep.small") else 1
            result = _sweep_once(code, work, n, capture, repeats)
            out[code.key(name)] = result
            log(
                SIDE,
                f"{n:,} runs, capture {'on' if capture else 'off'} ({code.label}): "
                f"{result['total_s']:.2f} s until flushed (loop {result['loop_s']:.2f} s)",
            )


def _committed_points(server: Any, proc: subprocess.Popen[bytes]) -> list[tuple[int, int]]:
    """(time, metric points committed) every 0.1 s until ``proc`` exits."""
    samples: list[tuple[int, int]] = []
    conn = None
    while proc.poll() is None:
        try:
            if conn is None:
                conn = server.connect("mlops")
            count = conn.execute(
                "SELECT COALESCE(SUM(point_count), 0) FROM metric_series"
            ).fetchone()[0]
            now = time.monotonic_ns()
            if not samples or count != samples[-1][1]:
                samples.append((now, int(count)))
        except Exception:  # the server is starting, or the tables are being written
            conn = None
        time.sleep(0.1)
    if conn is not None:
        conn.close()
    return samples


def outage(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """PostgreSQL stopped for ``outage_s`` while a process logs at a steady rate."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.postgres_server import PostgresServer, create_database, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found (apt-get install postgresql, or ./scripts/setup)"
        )
    work = tmp / "outage"
    work.mkdir()
    server = PostgresServer(bindir)
    rate = sizes.outage_rate
    try:
        server.start()
        create_database(server, "mlops")
        env = child_env(AFTER, {"JUPYTER_MLOPS_JOURNAL": str(work / "journals")})
        proc, ring, fd, _, result_file = _start_logger(
            AFTER, work, server.url("mlops"), rate, env=env, stop_flag=True
        )
        try:
            _wait_first_slot(proc, ring)
            time.sleep(sizes.outage_lead_s)
            with server.connect("mlops") as conn:  # committed before the outage
                base = conn.execute("SELECT COALESCE(SUM(point_count), 0) FROM metric_series")
                committed_before = int(base.fetchone()[0])
            down_ns = time.monotonic_ns()
            server.pause()
            stopped_ns = time.monotonic_ns()
            log(SIDE, f"PostgreSQL stopped for {sizes.outage_s} s ...")
            time.sleep(max(0.0, stopped_ns / 1e9 + sizes.outage_s - time.monotonic()))
            server.resume()
            up_ns = time.monotonic_ns()
            child.WORD.pack_into(ring, 8, 1)  # stop logging, flush
            progress = _committed_points(server, proc)
            proc.wait(timeout=CHILD_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result = _result(result_file, proc)
        slots = child.read_ring(bytes(ring))
        ring.close()
        os.close(fd)
    finally:
        server.stop()
    journals = work / "journals"
    left = [p for p in journals.rglob("*") if p.is_file()] if journals.exists() else []
    if left:
        raise RuntimeError(f"journal files left after the flush: {[str(p) for p in left]}")
    first_count, first_t = slots[0]
    during = _count_at(slots, up_ns) - _count_at(slots, down_ns)
    logging_s = (slots[-1][1] - first_t) / 1e9
    record: dict[str, Any] = {
        "outage_s": (up_ns - stopped_ns) / 1e9,
        "stop_s": (stopped_ns - down_ns) / 1e9,
        "rate_target": rate,
        "rate": (slots[-1][0] - first_count) / logging_s if logging_s > 0 else None,
        "logged": result["logged"],
        "logged_during_outage": during,
        "stored": result["stored"],
        "lost": result["logged"] - result["stored"],
        "catch_up_s": None,
        "flush_s": result["flush_s"],
    }
    if result["stored"] > result["logged"]:  # more stored than logged: a wrong answer
        raise RuntimeError(f"{result['stored']} points stored, only {result['logged']} logged")
    if result["stored"] == result["logged"]:  # a catch-up time only when nothing was lost
        record["catch_up_s"] = (result["flushed_ns"] - up_ns) / 1e9
    # How the catch-up went: the first commit after the restart (the writer's retry back-off),
    # then the backlog's apply rate, from the committed point count polled every 0.1 s.
    record["committed_before_outage"] = committed_before
    record["committed_after_restart"] = [[round((t - up_ns) / 1e9, 3), n] for t, n in progress]
    if progress:
        moved = [(t, n) for t, n in progress if n > committed_before]
        if moved:
            first_t, first_n = moved[0]
            last_t, last_n = progress[-1]
            record["first_commit_after_restart_s"] = (first_t - up_ns) / 1e9
            if last_t > first_t:
                record["apply_points_per_s"] = (last_n - first_n) / ((last_t - first_t) / 1e9)
    out["outage.postgres"] = record  # checked (stored <= logged, no journal left)
    r = out["outage.postgres"]
    log(
        SIDE,
        f"PostgreSQL outage of {r['outage_s']:.0f} s: {r['logged']:,} points logged "
        f"({during:,} during the outage), {r['stored']:,} stored, {r['lost']:,} lost; "
        f"caught up {r['flush_s']:.2f} s after the restart (first commit after "
        f"{r.get('first_commit_after_restart_s', float('nan')):.2f} s, then "
        f"{r.get('apply_points_per_s', float('nan')):,.0f} points/s)",
    )
