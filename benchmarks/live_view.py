"""Live view cost: a log_metric loop with the live widget on vs off, in a real kernel.

The kernel is told it has a widget-capable front end (JUPYTER_MLOPS_LIVE=1); this script is
that front end's stand-in and counts the comm messages the kernel sends it (`comm_msg` on
iopub), i.e. what a browser would receive.

    python benchmarks/live_view.py [--calls 100000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from jupyter_client.manager import start_new_kernel

SETUP = """
import json, time
import jupyter_mlops as mlops
def loop(n):
    start = time.perf_counter()
    for i in range(n):
        mlops.log_metric("loss", 1.0 / (i + 1))
    return time.perf_counter() - start
"""

SUSTAINED = """
with mlops.start_run("bench-sustained", live=True) as run:
    stop = time.perf_counter() + {seconds}
    i = 0
    while time.perf_counter() < stop:
        for _ in range(1000):
            mlops.log_metric("loss", 1.0 / (i + 1))
            i += 1
print(json.dumps({{"calls": i}}))
"""

# A loop that sleeps: the timer thread is not slowed by the GIL, so the throttle alone bounds
# the message rate (a tight loop also slows the timer, which hides a loose throttle).
PACED = """
with mlops.start_run("bench-paced", live=True) as run:
    for i in range(int({seconds} * 100)):
        mlops.log_metric("loss", 1.0 / (i + 1))
        time.sleep(0.01)
"""

CELL = """
with mlops.start_run("bench-{mode}", live={live}) as run:
    elapsed = loop({calls})
    mlops.flush()
    wall = time.perf_counter()
stored = len(mlops.get_run(run.run_id).history("loss"))
print(json.dumps({{"elapsed": elapsed, "stored": stored}}))
"""


class WrongAnswer(RuntimeError):
    """The kernel did not do what was measured: no time is recorded."""


def execute(kc, code: str) -> tuple[list[dict], float]:
    """Run code; return the iopub messages it caused and the wall time until idle."""
    start = time.perf_counter()
    msg_id = kc.execute(code)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages, time.perf_counter() - start


def measure(calls: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, JUPYTER_MLOPS_STORE=f"sqlite:///{tmp}/mlops.db", JUPYTER_MLOPS_LIVE="1"
        )
        km, kc = start_new_kernel(kernel_name="python3", env=env)
        try:
            execute(kc, SETUP)
            execute(kc, CELL.format(mode="warmup", live=True, calls=1000))
            off, on, rates = [], [], []
            for index in range(repeats):
                # alternate which mode goes first, so neither always follows the other
                for live in (False, True) if index % 2 == 0 else (True, False):
                    messages, _ = execute(kc, CELL.format(mode=live, live=live, calls=calls))
                    # One print may reach iopub as several stream messages (its text, then
                    # the newline, when the kernel's output thread flushes in between).
                    text = "".join(
                        m["content"]["text"]
                        for m in messages
                        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
                    )
                    printed = [line for line in text.splitlines() if line.strip()]
                    if not printed:
                        raise WrongAnswer(f"the loop cell printed nothing: {messages[-3:]}")
                    answer = json.loads(printed[-1])
                    if answer["stored"] != calls:
                        raise WrongAnswer(f"{answer['stored']} points stored, {calls} logged")
                    comm = sum(1 for m in messages if m["msg_type"].startswith("comm_"))
                    if not live and comm:
                        raise WrongAnswer(f"live=False sent {comm} comm messages")
                    (on if live else off).append(answer["elapsed"])
            # Steady state: a tight loop for several seconds, every comm message counted
            # (widget creation and the final close included).
            for _ in range(2):
                messages, wall = execute(kc, SUSTAINED.format(seconds=5))
                comm = sum(1 for m in messages if m["msg_type"].startswith("comm_"))
                if not comm:  # the view never drew: a rate of 0 would be no measurement
                    raise WrongAnswer("the live view sent no comm message in a 5 s loop")
                rates.append(comm / wall)
            # Paced loop: the most comm messages in any 1 s window.
            paced = []
            for _ in range(2):
                messages, _ = execute(kc, PACED.format(seconds=5))
                times = sorted(
                    m["header"]["date"].timestamp()
                    for m in messages
                    if m["msg_type"].startswith("comm_")
                )
                if not times:
                    raise WrongAnswer("the live view sent no comm message in a paced loop")
                paced.append(max(sum(1 for t in times if s <= t < s + 1.0) for s in times))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    off_s, on_s = statistics.median(off), statistics.median(on)
    busiest = max(paced) if paced else 0
    return {
        "calls": calls,
        "repeats": repeats,
        "loop_off_s": off_s,
        "loop_on_s": on_s,
        "slowdown_pct": (on_s / off_s - 1) * 100,
        # the loop is short (~40 ms at 100,000 calls): the spread shows how noisy the median is
        "loop_off_min_max_s": [min(off), max(off)],
        "loop_on_min_max_s": [min(on), max(on)],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "messages_per_s_max": max(rates),
        "messages_per_s_median": statistics.median(rates),
        "messages_busiest_second_paced": busiest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    # 15 pairs: one loop is ~40 ms, so a median of 5 moves by 10-20% with one busy moment
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    result = measure(args.calls, args.repeats)
    print(f"{'benchmark':<44}{'value':>12}  target")
    print(f"{'log_metric loop, live off (median s)':<44}{result['loop_off_s']:>12.3f}")
    print(f"{'log_metric loop, live on (median s)':<44}{result['loop_on_s']:>12.3f}")
    print(f"{'slowdown with live view on':<44}{result['slowdown_pct']:>11.1f}%  < 10%")
    print(
        f"{'  loop off / on, min..max (s)':<44}"
        f"{result['loop_off_min_max_s'][0]:.3f}..{result['loop_off_min_max_s'][1]:.3f} / "
        f"{result['loop_on_min_max_s'][0]:.3f}..{result['loop_on_min_max_s'][1]:.3f}"
    )
    print(f"{'  load average (1, 5, 15 min)':<44}{result['load_average']}")
    print(
        f"{'front-end messages/s, 5 s tight loop (max)':<44}{result['messages_per_s_max']:>12.1f}"
        "  <= 10"
    )
    print(
        f"{'front-end messages, busiest 1 s, paced loop':<44}"
        f"{result['messages_busiest_second_paced']:>12}  <= 10"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
