"""``%%remote``: round trips and transfers, side by side with raw jupyter_client and ipyparallel.

A real notebook kernel (started with jupyter_client) loads the extension and times, inside
itself, what a user's cell costs:

- a trivial ``%%remote TARGET`` cell (``pass``) to a warm ``local`` kernel and to a warm kernel
  of a Jupyter Kernel Gateway started here on 127.0.0.1 (with a token); beside it, a raw
  ``execute_request`` of ``pass`` to the same kind of kernel (jupyter_client's
  ``execute_interactive``; the gateway's WebSocket protocol), and ipyparallel's ``%%px`` with
  one engine when ipyparallel is installed;
- a 100 MB numpy array sent to the target and back (``b = a``; median of 5), with the bytes
  moved each way; beside it, ipyparallel's ``push`` + ``pull`` of the same array (once).

    python benchmarks/remote.py [--repeats 50] [--mb 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

if __package__ in (None, ""):  # run as a script: import ``benchmarks`` as a package, and
    # keep this folder off sys.path so its modules never shadow others
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_here)]
    sys.path.insert(0, str(Path(_here).parent))

from benchmarks.report import text_grid  # noqa: E402

TOKEN = "benchmark-token"

KERNEL_SETUP = """
import json, statistics, time
import numpy as np
from jupyter_mlops.magics.remote import CellSink
from jupyter_mlops.remote import run_remote

def _time_magic(magic, line, body, repeats):
    shell = get_ipython()
    for _ in range(5):
        shell.run_cell_magic(magic, line, body)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        shell.run_cell_magic(magic, line, body)
        times.append(time.perf_counter() - start)
    times.sort()
    return {"median_ms": statistics.median(times) * 1e3, "p90_ms": times[int(0.9 * repeats)] * 1e3}

def _transfer(target, mb, repeats=5):
    a = np.ones(int(mb * 1_000_000) // 8)
    run_remote(target, "b = 1", {}, sink=CellSink())  # warm
    times = []
    for _ in range(repeats):
        namespace = {"a": a}
        start = time.perf_counter()
        result = run_remote(target, "b = a", namespace, sink=CellSink())
        times.append(time.perf_counter() - start)
        assert namespace["b"].nbytes == a.nbytes and namespace["b"][-1] == 1.0
        del namespace
    return {"seconds": statistics.median(times), "all_seconds": times, "array_bytes": a.nbytes,
            "sent": result.bytes_sent, "received": result.bytes_received}
"""

IPYPARALLEL = """
import ipyparallel as ipp
_cluster = ipp.Cluster(n=1, log_level=40)
_rc = _cluster.start_and_connect_sync()
_rc.wait_for_engines(1, timeout=120)
_view = _rc[:]
_view.activate()  # registers %%px
_px = _time_magic("px", "--block", "pass", {repeats})
_a = np.ones(int({mb} * 1_000_000) // 8)
_view.push({{"a": _a}}, block=True)
_start = time.perf_counter()
_view.push({{"a": _a}}, block=True)
_back = _view.pull("a", block=True)[0]
_push_pull = time.perf_counter() - _start
assert _back.nbytes == _a.nbytes
_cluster.stop_cluster_sync()
print(json.dumps({{"px": _px, "push_pull_s": _push_pull}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(kc: Any, code: str, timeout: float = 600) -> str:
    """Execute ``code`` in the notebook kernel; its stdout (errors raise)."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{reply['content']['ename']}: {reply['content']['evalue']}")
    return "".join(out)


def raw_kernel_execute(repeats: int) -> dict[str, float]:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        for _ in range(5):
            kc.execute_interactive("pass", output_hook=lambda msg: None)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            kc.execute_interactive("pass", output_hook=lambda msg: None)
            times.append(time.perf_counter() - start)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return summary(times)


def raw_gateway_execute(port: int, repeats: int) -> dict[str, float]:
    from jupyter_mlops.remote.gateway import GatewayChannels, GatewayREST

    channels = GatewayChannels("raw", GatewayREST("raw", f"http://127.0.0.1:{port}", TOKEN))

    def execute() -> None:
        msg_id = channels.send(
            "execute_request",
            {"code": "pass", "silent": False, "store_history": False, "user_expressions": {}},
        )
        replied = idle = False
        while not (replied and idle):
            msg = channels.recv(10)
            if msg is None or msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            replied = replied or kind == "execute_reply"
            idle = idle or (kind == "status" and msg["content"]["execution_state"] == "idle")

    try:
        for _ in range(5):
            execute()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            execute()
            times.append(time.perf_counter() - start)
    finally:
        channels.close()
    return summary(times)


def summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(times) * 1e3,
        "p90_ms": sorted(times)[int(0.9 * len(times))] * 1e3,
    }


def start_gateway(port: int, log: Any) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "kernelgateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={port}",
            "--KernelGatewayApp.port_retries=0",
            f"--KernelGatewayApp.auth_token={TOKEN}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the kernel gateway exited; see its log")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the kernel gateway did not start listening")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args()

    results: dict[str, Any] = {"load_before": os.getloadavg()}
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "gw.log"), "wb") as log:
        gateway = start_gateway(port, log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
        env["JUPYTER_MLOPS_STORE"] = os.path.join(tmp, "mlops.db")
        km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=tmp)
        try:
            run(kc, "%load_ext jupyter_mlops")
            run(kc, KERNEL_SETUP)
            run(kc, f"%remote add gw gateway:http://127.0.0.1:{port} --token {TOKEN}")
            for target in ("local", "gw"):
                out = run(kc, f"print(json.dumps(_time_magic('remote', {target!r}, 'pass', "
                          f"{args.repeats})))")  # fmt: skip
                results[f"remote_{target}"] = json.loads(out)
                out = run(kc, f"print(json.dumps(_transfer({target!r}, {args.mb})))")
                results[f"transfer_{target}"] = json.loads(out)
            try:
                import ipyparallel  # noqa: F401

                out = run(kc, IPYPARALLEL.format(repeats=args.repeats, mb=args.mb))
                results["ipyparallel"] = json.loads(out.strip().splitlines()[-1])
            except ImportError:
                results["ipyparallel"] = None
            except Exception as exc:  # it installs but does not start here: say so
                results["ipyparallel"] = {"error": str(exc)}
            run(kc, "%unload_ext jupyter_mlops")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        results["raw_local"] = raw_kernel_execute(args.repeats)
        try:
            results["raw_gateway"] = raw_gateway_execute(port, args.repeats)
        finally:
            gateway.terminate()
            gateway.wait(30)
    results["load_after"] = os.getloadavg()
    results["mb"] = args.mb
    results["rows"] = rows(results, args.mb)
    print_table(results, args.mb)
    if args.json:
        with open(args.json, "w") as out_file:
            json.dump(results, out_file, indent=2)


def rows(r: dict[str, Any], mb: float) -> list[tuple[str, ...]]:
    """The table, header first: what this script prints and run.py publishes."""

    def ms(entry: dict[str, float] | None) -> str:
        return "-" if not entry or "median_ms" not in entry else f"{entry['median_ms']:.1f} ms"

    def met(entry: dict[str, Any] | None, key: str, limit: float) -> str:
        return "-" if not entry or key not in entry else ("yes" if entry[key] <= limit else "NO")

    px = r.get("ipyparallel") or {}
    px_note = (
        "ipyparallel not installed"
        if r.get("ipyparallel") is None
        else px.get("error", "")[:60]
        if "error" in px
        else ""
    )
    table = [
        ("benchmark", "%%remote", "beside it", "target", "met?"),
        (
            "trivial cell, warm local kernel (median)",
            ms(r["remote_local"]),
            f"raw jupyter_client execute {ms(r['raw_local'])}",
            "<= 15 ms",
            met(r["remote_local"], "median_ms", 15),
        ),
        (
            "trivial cell, warm gateway kernel (median)",
            ms(r["remote_gw"]),
            f"raw gateway WebSocket execute {ms(r['raw_gateway'])}",
            "<= 30 ms",
            met(r["remote_gw"], "median_ms", 30),
        ),
        (
            "trivial cell, ipyparallel %%px --block, 1 engine",
            "-",
            ms(px.get("px")) if "px" in px else px_note,
            "-",
            "-",
        ),
    ]
    for target, label in (("local", "local kernel"), ("gw", "gateway kernel")):
        t = r[f"transfer_{target}"]
        beside = (
            f"ipyparallel push+pull {px['push_pull_s']:.2f} s"
            if target == "local" and "push_pull_s" in px
            else "-"
        )
        table.append(
            (
                f"{mb:g} MB numpy array to the {label} and back",
                f"{t['seconds']:.2f} s (sent {t['sent'] / 1e6:.1f} MB, "
                f"back {t['received'] / 1e6:.1f} MB; array {t['array_bytes'] / 1e6:.1f} MB)",
                beside,
                "<= 2 s" if target == "local" else "-",
                ("yes" if t["seconds"] <= 2 else "NO") if target == "local" else "-",
            )
        )
    return table


def print_table(r: dict[str, Any], mb: float) -> None:
    print(text_grid(rows(r, mb)))
    before, after = r["load_before"], r["load_after"]
    print(f"\nload average {before[0]:.2f} before, {after[0]:.2f} after")


if __name__ == "__main__":
    main()
