"""One jupyter-mlops process of the durability benchmarks (benchmarks/durability.py).

Run as a script with ``python -P benchmarks/durability_child.py MODE ...`` and
``PYTHONPATH=<code>``: ``-P`` keeps this folder and the working directory off ``sys.path``,
so ``import jupyter_mlops`` loads the code under test (the current tree, or an older commit
extracted beside it), never another copy. It imports nothing from ``benchmarks``.

Modes (each prints nothing on stdout; results go to ``--out`` as JSON):

- ``logger``: logs steps 0, 1, 2, ... of metric ``x`` into a new run, as fast as it can or at
  ``--rate`` points/s, and publishes its progress every ``--every`` calls in a memory-mapped
  ring of (calls returned, CLOCK_MONOTONIC ns) slots. Killed by the parent (SIGKILL), or, with
  ``--stop-flag``, stops when the parent sets the ring's stop word, then flushes (timed) and
  checks what the store holds.
- ``count``: opens the store (replaying the journals of dead processes, timed) and checks that
  run ``--run`` holds steps exactly 0..n-1 of ``x``.
- ``loop``: ``log_metric`` ``--n`` times in one run: calls/s accepted and durable.
- ``sweep``: ``--n`` runs with 2 params and 1 metric each, until ``flush()`` returns.
"""

from __future__ import annotations

import argparse
import gc
import json
import mmap
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

# The progress ring: a header (slots written, stop word set by the parent), then SLOTS slots
# of (calls returned, t_ns, their xor). A slot is written before the header counts it; the
# xor tells a slot torn by the SIGKILL from a whole one.
HEADER = struct.Struct("<qq")
WORD = struct.Struct("<q")
SLOT = struct.Struct("<qqq")
SLOTS = 65536
RING_BYTES = HEADER.size + SLOTS * SLOT.size


def open_ring(path: Path, create: bool) -> tuple[int, mmap.mmap]:
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    if create:
        os.ftruncate(fd, RING_BYTES)
    return fd, mmap.mmap(fd, RING_BYTES)


def read_ring(ring: mmap.mmap | bytes) -> list[tuple[int, int]]:
    """The whole slots of a ring, oldest first: [(calls returned, t_ns)]."""
    written, _ = HEADER.unpack_from(ring, 0)
    first = max(0, written - SLOTS + 1)  # the oldest counted slot may be being overwritten
    out = []
    for index in range(first, written + 1):  # the slot after the counted ones may be whole
        count, t_ns, check = SLOT.unpack_from(ring, HEADER.size + (index % SLOTS) * SLOT.size)
        if check == count ^ t_ns and t_ns > 0 and (not out or count > out[-1][0]):
            out.append((count, t_ns))
    return out


def _mlops(expected_root: str) -> Any:
    import jupyter_mlops as mlops

    where = str(Path(mlops.__file__).resolve().parent.parent)
    if where != str(Path(expected_root).resolve()):
        raise SystemExit(f"imported jupyter_mlops from {where}, expected {expected_root}")
    return mlops


def _value(step: int) -> float:
    return 1.0 / (1.0 + step * 1e-3)


def logger(args: argparse.Namespace) -> dict[str, Any]:
    mlops = _mlops(args.code)
    mlops.set_store(args.store)
    run = mlops.start_run(name="victim", capture=False)
    log_metric = run.log_metric
    fd, ring = open_ring(Path(args.progress), create=False)
    Path(args.progress + ".run").write_text(run.run_id)
    every, rate = args.every, args.rate
    pack_slot, pack_count, unpack_count = SLOT.pack_into, WORD.pack_into, WORD.unpack_from
    clock, sleep = time.monotonic_ns, time.sleep
    stop_flag = args.stop_flag
    published = 0
    step = 0
    start = clock()
    while True:
        log_metric("x", _value(step), step)
        step += 1
        if step % every == 0:
            now = clock()
            pack_slot(ring, HEADER.size + (published % SLOTS) * SLOT.size, step, now, step ^ now)
            published += 1
            pack_count(ring, 0, published)
            if stop_flag and unpack_count(ring, 8)[0]:
                break
            if rate:
                delay = start + step * 1_000_000_000 // rate - clock()
                if delay > 0:
                    sleep(delay / 1e9)
    # Only with --stop-flag: the parent asked to stop (the store is back). Time the flush.
    stopped = clock()
    mlops.flush(timeout=3600)
    flushed = clock()
    logged = step
    steps = mlops.get_store().metric_history(run.run_id, "x")["step"]
    result = _check_steps(steps, None)  # the parent compares the count with `logged`
    os.close(fd)
    return {
        **result,
        "logged": logged,
        "stopped_ns": stopped,
        "flushed_ns": flushed,
        "flush_s": (flushed - stopped) / 1e9,
        "run_id": run.run_id,
    }


def _check_steps(steps: Any, expected: int | None) -> dict[str, Any]:
    import numpy as np

    n = len(steps)
    exact = bool(n == 0 or (steps == np.arange(n)).all())
    if not exact:
        unique = len(np.unique(steps))
        raise SystemExit(
            f"stored steps are not exactly 0..{n - 1}: {n} points, {unique} distinct, "
            f"max {int(steps.max())}"
        )
    if expected is not None and n != expected:
        raise SystemExit(f"{n} points stored, {expected} logged")
    return {"stored": n}


def count(args: argparse.Namespace) -> dict[str, Any]:
    mlops = _mlops(args.code)
    from jupyter_mlops.store import Store

    start = time.perf_counter()
    store = Store(args.store)  # replays dead processes' journals (from the journal on)
    opened = time.perf_counter() - start
    try:
        status = store.run_status(args.run)
        steps = store.metric_history(args.run, "x")["step"]
        result = _check_steps(steps, None)
    finally:
        store.close()
    journals = Path(args.store.removeprefix("sqlite:///") + ".journals")
    left = (
        sorted(p.name for p in journals.iterdir() if not p.name.startswith("."))
        if (journals.is_dir())
        else []
    )
    del mlops
    return {**result, "open_s": opened, "status": status, "journals_left": left}


def loop(args: argparse.Namespace) -> dict[str, Any]:
    mlops = _mlops(args.code)
    mlops.set_store(args.store)
    n = args.n
    values = [_value(i) for i in range(n)]
    with mlops.start_run(name="metrics") as run:
        mlops.log_metric("warmup", 0.0)
        mlops.flush()  # the run row and its capture are committed before timing
        gc.collect()
        start = time.perf_counter_ns()
        for step, value in enumerate(values):
            mlops.log_metric("loss", value, step=step)
        returned = time.perf_counter_ns()
        mlops.flush()
        done = time.perf_counter_ns()
    stored = mlops.get_run(run.run_id)
    if stored.metrics.get("loss") != values[-1]:
        raise SystemExit("the latest logged value was not stored")
    counts = mlops.get_store().metric_point_counts([run.run_id])[run.run_id]
    if counts.get("loss") != n:
        raise SystemExit(f"{counts.get('loss')} points stored, {n} logged")
    return {"n": n, "start_ns": start, "returned_ns": returned, "done_ns": done}


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    mlops = _mlops(args.code)
    mlops.set_store(args.store)
    mlops.set_experiment("sweep")
    capture = bool(args.capture)
    with mlops.start_run(name="warmup", capture=capture):  # imports, first capture
        mlops.log_metric("acc", 0.0)
    mlops.flush()
    gc.collect()
    n = args.n
    lrs = ("0.1", "0.03", "0.01", "0.003")
    start = time.perf_counter_ns()
    for i in range(n):
        with mlops.start_run(
            name=f"run-{i:06d}", params={"lr": lrs[i % 4], "seed": i}, capture=capture
        ):
            mlops.log_metric("acc", (i % 1000) / 1000)
    returned = time.perf_counter_ns()
    mlops.flush(timeout=3600)
    done = time.perf_counter_ns()
    capture_bytes = _check_sweep(mlops, n, capture)
    return {
        "n": n,
        "capture": capture,
        "capture_bytes_per_run": capture_bytes,
        "start_ns": start,
        "returned_ns": returned,
        "done_ns": done,
    }


def _check_sweep(mlops: Any, n: int, capture: bool) -> float:
    """Every run is there, FINISHED, with its 2 params, its metric and (capture on) its
    environment. Returns the mean size of a run's capture (git + environment JSON, bytes)."""
    from sqlalchemy import text

    engine = mlops.get_store().engine
    with engine.connect() as conn:
        sweep_id = conn.execute(
            text("SELECT experiment_id FROM experiments WHERE name = 'sweep'")
        ).scalar_one()
        where = "r.experiment_id = :e AND r.name LIKE 'run-%'"
        runs, finished, captured, capture_bytes = conn.execute(
            text(
                "SELECT COUNT(*), SUM(CASE WHEN r.status = 'FINISHED' THEN 1 ELSE 0 END), "
                "COUNT(r.environment), "
                "AVG(COALESCE(LENGTH(r.git), 0) + COALESCE(LENGTH(r.environment), 0)) "
                f"FROM runs r WHERE {where}"
            ),
            {"e": sweep_id},
        ).one()
        params = conn.execute(
            text(f"SELECT COUNT(*) FROM params p JOIN runs r ON r.run_id = p.run_id WHERE {where}"),
            {"e": sweep_id},
        ).scalar_one()
        metrics = conn.execute(
            text(
                "SELECT COUNT(*) FROM metric_series s JOIN runs r ON r.run_id = s.run_id "
                f"WHERE {where} AND s.key = 'acc' AND s.point_count = 1"
            ),
            {"e": sweep_id},
        ).scalar_one()
    expected = (n, n, n if capture else 0, 2 * n, n)
    got = (runs, finished, captured, params, metrics)
    if got != expected:
        raise SystemExit(
            "(runs, finished, with environment, params, metrics) stored: "
            f"{got}, expected {expected}"
        )
    return float(capture_bytes or 0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="durability_child.py")
    parser.add_argument("mode", choices=("logger", "count", "loop", "sweep"))
    parser.add_argument("--code", required=True, help="the folder jupyter_mlops must load from")
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--progress", help="logger: the progress ring file")
    parser.add_argument("--rate", type=int, default=0, help="logger: points/s (0: tight)")
    parser.add_argument("--every", type=int, default=1000, help="logger: publish every N calls")
    parser.add_argument("--stop-flag", action="store_true", help="logger: stop when asked")
    parser.add_argument("--run", help="count: the run id")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--capture", type=int, default=0)
    args = parser.parse_args()
    result = {"logger": logger, "count": count, "loop": loop, "sweep": sweep}[args.mode](args)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
