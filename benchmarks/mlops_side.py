"""The jupyter-mlops side: each function runs one group of measurements in this process."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from .common import (
    SEARCH_FILTER,
    SEARCH_LIMIT,
    SEARCH_ORDER,
    Sizes,
    WrongAnswer,
    clock,
    expected_top,
    log,
    loop_rates,
    measure_history,
    metric_values,
    repeat,
    search_data,
    stored_points,
    summary,
)
from .shell import make_shell, run_cell

SIDE = "jupyter-mlops"


def _mlops() -> Any:
    import jupyter_mlops as mlops

    return mlops


def empty_run(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``with mlops.start_run(): pass`` -- accepted (returned to the caller) and durable."""
    mlops = _mlops()
    mlops.set_store(tmp / "empty_run.db")
    for _ in range(10):  # warm-up: imports, first git/environment capture, connections
        with mlops.start_run():
            pass
        mlops.flush()

    # One by one with the writer idle, as cells run in a notebook: the timed part is what the
    # cell waits for; the flush after it (timed separately) is the durable cost.
    accepted, durable = [], []
    for _ in range(sizes.empty_runs):
        start = clock()
        with mlops.start_run():
            pass
        returned = clock()
        mlops.flush()
        done = clock()
        accepted.append(returned - start)
        durable.append(done - start)
    records = {"empty_run.accepted": summary(accepted), "empty_run.durable": summary(durable)}

    # Back to back: the writer works while runs keep starting (competes for the GIL).
    each = []
    begin = clock()
    for _ in range(sizes.empty_runs_b2b):
        start = clock()
        with mlops.start_run():
            pass
        each.append(clock() - start)
    loop_end = clock()
    mlops.flush()
    end = clock()
    records["empty_run.back_to_back"] = summary(each)
    n = sizes.empty_runs_b2b
    records["empty_run.sustained"] = {
        "per_run_ms": (end - begin) / 1e6 / n,
        "runs_per_s": n / ((end - begin) / 1e9),
        "loop_s": (loop_end - begin) / 1e9,
        "final_flush_s": (end - loop_end) / 1e9,
        "n": n,
    }
    frame = mlops.runs()
    expected = 10 + sizes.empty_runs + n
    if len(frame) != expected or set(frame["status"]) != {"FINISHED"}:
        raise WrongAnswer(f"expected {expected} FINISHED runs in the store, found {len(frame)}")
    out.update(records)  # checked: now recorded
    log(
        SIDE,
        f"empty run: median {out['empty_run.accepted']['median_ms']:.3f} ms accepted, "
        f"{out['empty_run.durable']['median_ms']:.2f} ms durable",
    )


def cell(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """An empty ``%%track`` cell vs an empty plain cell in an IPython InteractiveShell."""
    mlops = _mlops()
    shell = make_shell()
    shell.run_line_magic("load_ext", "jupyter_mlops")
    mlops.set_store(tmp / "cell.db")
    for _ in range(10):
        run_cell(shell, "pass")
        run_cell(shell, "%%track\npass")
        mlops.flush()
    plain = [run_cell(shell, "pass") for _ in range(sizes.cells)]
    accepted, durable = [], []
    for _ in range(sizes.cells):
        start = clock()
        run_cell(shell, "%%track\npass")
        returned = clock()
        mlops.flush()
        done = clock()
        accepted.append(returned - start)
        durable.append(done - start)
    base = summary(plain)
    track, track_durable = summary(accepted), summary(durable)
    frame = mlops.runs()
    if (
        len(frame) != 10 + sizes.cells
        or set(frame["status"]) != {"FINISHED"}
        or not frame["name"].str.startswith("cell [").all()
    ):
        raise WrongAnswer("%%track runs were not all recorded as FINISHED runs of their cell")
    out["cell.plain"] = base
    out["cell.track"] = track
    out["cell.track_durable"] = track_durable
    out["cell.overhead"] = {"median_ms": track["median_ms"] - base["median_ms"], "n": sizes.cells}
    out["cell.overhead_durable"] = {
        "median_ms": track_durable["median_ms"] - base["median_ms"],
        "n": sizes.cells,
    }
    log(
        SIDE,
        f"%%track cell: plain {base['median_ms']:.3f} ms, tracked "
        f"{out['cell.track']['median_ms']:.3f} ms, +flush "
        f"{out['cell.track_durable']['median_ms']:.2f} ms",
    )


def metrics(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``mlops.log_metric`` in a loop: calls/s accepted, and durable including the flush."""
    mlops = _mlops()
    state["history_store"] = tmp / "metrics.db"
    mlops.set_store(state["history_store"])
    n = sizes.metric_points
    values = metric_values(n)
    with mlops.start_run(name="metrics") as run:
        mlops.log_metric("warmup", 0.0)
        mlops.flush()  # the run row and its capture are committed before timing
        gc.collect()
        start = clock()
        for step, value in enumerate(values):
            mlops.log_metric("loss", value, step=step)
        returned = clock()
        mlops.flush()
        done = clock()
    accepted, durable = loop_rates(n, start, returned, done)
    stored = mlops.get_run(run.run_id)
    if stored.metrics.get("loss") != values[-1]:
        raise WrongAnswer("the latest logged value was not stored")
    count = stored_points(state["history_store"], run.run_id, "loss")
    if count != (n, 0, n - 1):
        raise WrongAnswer(f"(points, first step, last step) stored: {count}, {n:,} logged")
    out["metrics.accepted"], out["metrics.durable"] = accepted, durable
    state["history_run"] = run.run_id
    log(
        SIDE,
        f"log_metric: {out['metrics.accepted']['calls_per_s']:,.0f}/s accepted, "
        f"{out['metrics.durable']['calls_per_s']:,.0f}/s durable (N={n:,})",
    )


def search(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``mlops.runs(filter, order_by, limit=100)`` over N runs."""
    mlops = _mlops()
    mlops.set_store(tmp / "search.db")
    mlops.set_experiment("search")
    n = sizes.search_runs
    data = search_data(n)
    state["search_store"], state["search_data"] = tmp / "search.db", data  # for rest()
    log(SIDE, f"seeding {n:,} runs ...")
    start = clock()
    for name, params, values in data:
        # capture=False: seeding; per-run capture cost is what the empty-run rows measure.
        with mlops.start_run(name=name, params=params, capture=False):
            mlops.log_metrics(values)
    returned = clock()
    mlops.flush()
    done = clock()
    out["search.seed"] = {
        "total_s": (done - start) / 1e9,
        "loop_s": (returned - start) / 1e9,
        "n": n,
    }

    def query() -> Any:
        return mlops.runs(filter=SEARCH_FILTER, order_by=SEARCH_ORDER, limit=SEARCH_LIMIT)

    timing, frame = repeat(query, sizes.search_repeats, warmup=1)
    names = list(frame["name"])
    if names != expected_top(data):
        raise WrongAnswer("runs() returned the wrong runs or the wrong order")
    out["search.query"] = {**timing, "runs": n, "returned": len(frame)}
    log(
        SIDE,
        f"runs() over {n:,} runs: median {timing['median_ms']:.1f} ms "
        f"(seeded in {out['search.seed']['total_s']:.1f} s)",
    )


def history(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``get_run(id).history(key)`` full and ``max_points=1000`` of the log_metric run."""
    mlops = _mlops()
    run_id = state.get("history_run")
    if run_id is None:  # run on its own (--only history): log the points first
        metrics(sizes, tmp, {}, state)
        run_id = state["history_run"]
    mlops.set_store(state["history_store"])
    n = sizes.metric_points

    def full() -> Any:
        return mlops.get_run(run_id).history("loss")

    def sampled() -> Any:
        return mlops.get_run(run_id).history("loss", max_points=sizes.max_points)

    measure_history(
        out,
        metric_values(n),
        sizes.max_points,
        full=(full, sizes.history_repeats),
        sampled=(sampled, sizes.sampled_repeats),
        points=lambda frame: (frame["step"].tolist(), frame["value"].tolist()),
        full_warmup=1,
    )
    timing = out["history.sampled"]
    log(
        SIDE,
        f"history of {n:,} points: full {out['history.full']['median_ms']:.0f} ms, "
        f"max_points={sizes.max_points}: {timing['median_ms']:.1f} ms",
    )


def rest(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The REST API of a real ``jupyter server`` over the search store (benchmarks/rest.py)."""
    from . import rest as rest_bench

    if "search_store" not in state:  # run on its own (--only rest): seed the runs first
        search(sizes, tmp, {}, state)
    rest_bench.mlops(sizes, tmp, out, state)


def sidebar(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The sidebar in Chromium on the search store: click to a rendered runs list
    (benchmarks/browser.py)."""
    from . import browser

    if "search_store" not in state:  # run on its own (--only sidebar): seed the runs first
        search(sizes, tmp, {}, state)
    _mlops().flush()
    browser.sidebar(sizes, tmp, out, state)


def sidebar_views(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The sweep and compare views in Chromium: parallel coordinates and brushing of a
    10,000-run sweep, compare of 50 runs x 3 metrics x 1,000 points, the smoothing slider
    (benchmarks/browser.py, on a store of their own)."""
    from . import browser

    browser.sidebar_views(sizes, tmp, out, state)


def live(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The live view in a real kernel: the log_metric loop with it on vs off, and the comm
    messages it sends the front end (benchmarks/live_view.py)."""
    from . import live_view

    result = live_view.measure(sizes.live_calls, sizes.live_repeats)
    out["live.view"] = result
    log(
        SIDE,
        f"live view: loop {result['loop_on_s'] * 1000:.0f} ms on vs "
        f"{result['loop_off_s'] * 1000:.0f} ms off ({result['slowdown_pct']:+.1f}%), "
        f"{result['messages_per_s_max']:.1f} messages/s, busiest paced second "
        f"{result['messages_busiest_second_paced']}",
    )


def kill(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """SIGKILL during tight and paced log_metric loops (benchmarks/durability.py)."""
    from . import durability

    durability.kill(sizes, tmp, out, state)


def journal(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """The journal's cost on the log_metric loop, after vs before (benchmarks/durability.py)."""
    from . import durability

    durability.journal(sizes, tmp, out, state)


def sweep(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """Runs with 2 params and 1 metric each, until flushed (benchmarks/durability.py)."""
    from . import durability

    durability.sweep(sizes, tmp, out, state)


def outage(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """A PostgreSQL outage during logging (benchmarks/durability.py)."""
    from . import durability

    durability.outage(sizes, tmp, out, state)


def version_info() -> dict[str, Any]:
    mlops = _mlops()
    return {"jupyter_mlops": mlops.__version__}


def finish() -> None:
    mlops = _mlops()
    mlops.flush()
