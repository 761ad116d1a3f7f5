"""REST benchmarks: jupyter-mlops' server extension in a real ``jupyter server``, MLflow's
REST API in a real ``mlflow server``, both measured over HTTP from the worker process.

jupyter-mlops: ``python -m jupyter server`` on 127.0.0.1 (a free port, a token, base URL
``/bench/``) with ``JUPYTER_MLOPS_STORE`` pointing at the search benchmark's store (the same
10,000 seeded runs as MLflow's) plus one run holding a ``metric_points``-point metric (the same
curve as the history benchmark). Requests go through one keep-alive ``http.client``
connection with the ``Authorization: token`` header; a timing is one request from sending to
the parsed JSON body.

MLflow: ``mlflow server`` (uvicorn, ``--workers 1`` like the single Jupyter server process, job
execution off so no helper processes compete for the CPU) on MLflow's own search and metrics
stores from the same worker, one server per store, one after the other.

Each answer is checked (the 100 runs in order, the point counts) before it is timed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import (
    SEARCH_FILTER,
    SEARCH_LIMIT,
    SEARCH_ORDER,
    Sizes,
    WrongAnswer,
    check_sampled,
    expected_top,
    log,
    metric_values,
    repeat,
)

BASE_URL = "/bench/"  # a non-root base URL, as under JupyterHub
API = BASE_URL + "jupyter-mlops/api/"
WARMUP = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def query(**params: Any) -> str:
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


class Client:
    """One keep-alive HTTP/1.1 connection; ``call`` returns (parsed JSON, body bytes)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.connects = 0

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.conn.sock is None:
            self.connects += 1
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def call(self, method: str, path: str, body: Any = None) -> tuple[Any, int]:
        status, data = self.raw(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:500]!r}")
        return json.loads(data), len(data)

    def close(self) -> None:
        self.conn.close()


class Server:
    """A server subprocess in a session of its own (stopped as a group), its output in a log."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        ready_path: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name, self.command, self.env = name, command, env
        self.log_path, self.port, self.ready_path = log_path, port, ready_path
        self.headers = headers or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.start_s: float | None = None

    def start(self) -> Server:
        self.started = time.perf_counter()
        with open(self.log_path, "wb") as handle:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float) -> float:
        """Seconds from start until ``ready_path`` answers 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", self.ready_path, headers=self.headers)
                status = conn.getresponse().status
                if status == 200:
                    self.start_s = time.perf_counter() - self.started
                    return self.start_s
                if status in (401, 403, 404):  # up, but not what we asked for
                    raise RuntimeError(
                        f"{self.name}: GET {self.ready_path} -> {status}:\n{self.log_tail()}"
                    )
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} did not answer within {timeout_s:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # our own session: the server and its children
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def running(server: Server, timeout_s: float) -> Iterator[Server]:
    try:
        if server.proc is None:
            server.start()
        server.wait_ready(timeout_s)
        yield server
    finally:
        server.stop()


# -- jupyter-mlops ----------------------------------------------------------------------------


def jupyter_server(store: Path, root: Path) -> tuple[Server, str]:
    """A real ``jupyter server`` serving ``store``; returns (server, token)."""
    token = secrets.token_hex(24)
    port = free_port()
    for folder in ("notebooks", "runtime", "config"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_MLOPS_STORE": str(store),
            # the server's own runtime/user-config folders: nothing from the user's ~/.jupyter,
            # nothing left in `jupyter server list`; the installed (sys.prefix) config that
            # enables the extension still applies
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "JUPYTER_CONFIG_DIR": str(root / "config"),
        }
    )
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",
        f"--ServerApp.base_url={BASE_URL}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root / 'notebooks'}",
    ]
    headers = {"Authorization": f"token {token}"}
    return Server(
        "jupyter server",
        command,
        env,
        root / "jupyter-server.log",
        port,
        API + "experiments",
        headers,
    ), token


def mlops(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """GET runs (sorted, and filtered + sorted) and a downsampled metric history over HTTP."""
    import jupyter_mlops as mlops_api

    store, data = state["search_store"], state["search_data"]
    n_runs, n_points = len(data), sizes.metric_points
    server, token = jupyter_server(store, tmp / "rest-jupyter")
    with contextlib.ExitStack() as stack:
        server.start()
        stack.callback(server.stop)
        # While the server boots: the long metric, into the same store as the 10,000 runs.
        log(
            "jupyter-mlops",
            f"REST: jupyter server starting; logging {n_points:,} points into the search store ...",
        )
        mlops_api.set_store(store)
        mlops_api.set_experiment("rest-history")
        values = metric_values(n_points)
        with mlops_api.start_run(name="rest-history", capture=False) as run:
            for step, value in enumerate(values):
                mlops_api.log_metric("loss", value, step=step)
        mlops_api.flush()
        run_id = run.run_id
        start_s = server.wait_ready(sizes.server_start_timeout_s)
        client = Client(server.port, {"Authorization": f"token {token}"})
        stack.callback(client.close)

        expected = expected_top(data)
        above = sum(1 for _, _, m in data if m["acc"] > 0.5)

        def runs_call(path: str, total: int) -> Any:
            def call() -> tuple[Any, int]:
                return client.call("GET", API + path)

            timing, (body, size) = repeat(call, sizes.rest_repeats, warmup=WARMUP)
            names = [r["name"] for r in body["runs"]]
            if names != expected:
                raise RuntimeError(f"GET {path}: wrong runs or wrong order")
            if body["total"] != total:
                raise RuntimeError(f"GET {path}: total {body['total']}, expected {total}")
            return {
                **timing,
                "runs": n_runs,
                "store_runs": n_runs + 1,
                "returned": len(names),
                "bytes": size,
            }

        sorted_path = "runs?" + query(limit=SEARCH_LIMIT, order_by=SEARCH_ORDER)
        filtered_path = "runs?" + query(
            limit=SEARCH_LIMIT, order_by=SEARCH_ORDER, filter=SEARCH_FILTER
        )
        out["rest.runs_sorted"] = runs_call(sorted_path, n_runs + 1)  # + the history run
        out["rest.runs_filtered"] = runs_call(filtered_path, above)

        history_path = f"runs/{run_id}/metrics/loss?" + query(max_points=sizes.max_points)

        def history_call() -> tuple[Any, int]:
            return client.call("GET", API + history_path)

        timing, (body, size) = repeat(history_call, sizes.rest_repeats, warmup=WARMUP)
        steps = body["steps"]
        if body["total_points"] != n_points:
            raise WrongAnswer(f"GET {history_path}: total_points {body['total_points']}")
        check_sampled(f"GET {history_path}", steps, body["values"], values, sizes.max_points)
        out["rest.history_sampled"] = {
            **timing,
            "points": n_points,
            "returned": len(steps),
            "bytes": size,
        }
        out["rest.server"] = {
            "start_s": start_s,
            "connections": client.connects,
            "requests": 3 * (sizes.rest_repeats + WARMUP),
            "base_url": BASE_URL,
        }
    log(
        "jupyter-mlops",
        f"REST over {n_runs:,} runs: GET runs sorted {out['rest.runs_sorted']['median_ms']:.1f} "
        f"ms, filtered {out['rest.runs_filtered']['median_ms']:.1f} ms; metric history "
        f"max_points={sizes.max_points} of {n_points:,}: "
        f"{out['rest.history_sampled']['median_ms']:.1f} ms (server up in {start_s:.1f} s)",
    )


# -- MLflow -----------------------------------------------------------------------------------


def mlflow_server(db: Path, tmp: Path, name: str) -> Server:
    port = free_port()
    env = dict(os.environ)
    # On (the default), job execution starts a runner and 7 huey consumer processes.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-serve-artifacts",
        "--default-artifact-root",
        (tmp / "mlflow-server-artifacts").as_uri(),
    ]
    return Server(
        f"mlflow server ({name})", command, env, tmp / f"mlflow-server-{name}.log", port, "/health"
    )


def mlflow(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """POST runs/search (sorted, filtered + sorted) and GET get-history-bulk-interval."""
    side = "mlflow"
    db, experiment_id, data = state["search"]
    expected = expected_top(data)
    log(side, f"REST: mlflow server on the search store ({len(data):,} runs) ...")
    with running(mlflow_server(db, tmp, "search"), sizes.server_start_timeout_s) as server:
        client = Client(server.port)
        try:

            def search_call(body: dict[str, Any]) -> dict[str, Any]:
                def call() -> tuple[Any, int]:
                    return client.call("POST", "/api/2.0/mlflow/runs/search", body)

                timing, (answer, size) = repeat(call, sizes.mlflow_rest_repeats, warmup=1)
                names = [r["info"]["run_name"] for r in answer.get("runs", [])]
                if names != expected:
                    raise RuntimeError(f"MLflow runs/search {body}: wrong runs or wrong order")
                return {**timing, "runs": len(data), "returned": len(names), "bytes": size}

            base = {
                "experiment_ids": [experiment_id],
                "order_by": [SEARCH_ORDER],
                "max_results": SEARCH_LIMIT,
            }
            out["rest.runs_sorted"] = search_call(base)
            out["rest.runs_filtered"] = search_call({**base, "filter": SEARCH_FILTER})
            search_start = server.start_s
        finally:
            client.close()

    _, run_id, n = state["history_run"]
    log(side, f"REST: mlflow server on the metrics store ({n:,} points) ...")
    with running(
        mlflow_server(state["history_store"], tmp, "metrics"), sizes.server_start_timeout_s
    ) as server:
        client = Client(server.port)
        path = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?" + query(
            run_ids=run_id, metric_key="loss", max_results=sizes.max_points
        )
        try:
            timing, (answer, size) = repeat(
                lambda: client.call("GET", path), sizes.mlflow_rest_repeats, warmup=1
            )
        finally:
            client.close()
        points = sorted((m["step"], m["value"]) for m in answer.get("metrics", []))
        check_sampled(
            "MLflow get-history-bulk-interval",
            [step for step, _ in points],
            [value for _, value in points],
            metric_values(sizes.mlflow_history_points)[:n],
            sizes.max_points,
        )
        out["rest.history_sampled"] = {
            **timing,
            "points": n,
            "returned": len(points),
            "bytes": size,
        }
        out["rest.server"] = {
            "start_s": search_start,
            "start_s_metrics": server.start_s,
            "workers": 1,
            "job_execution": False,
        }
    log(
        side,
        f"REST: runs/search sorted {out['rest.runs_sorted']['median_ms']:.0f} ms, "
        f"filtered {out['rest.runs_filtered']['median_ms']:.0f} ms; "
        f"get-history-bulk-interval {out['rest.history_sampled']['median_ms']:.0f} ms",
    )
