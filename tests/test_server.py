"""The Jupyter server extension: REST endpoints, auth, path safety, bad input, live events.

A real Jupyter server (pytest_jupyter) with a non-root base URL, its store seeded through the
public tracking API.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import math
import os
import urllib.parse
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

# pytest_jupyter's fixtures (jp_serverapp, jp_fetch, jp_base_url, ...), for this module only
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPInputError
from tornado.simple_httpclient import HTTPStreamClosedError

import jupyter_mlops as mlops

API = "jupyter-mlops/api"
SUMMARY_KEYS = {
    "run_id",
    "name",
    "experiment",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
    "parent_run_id",
    "notebook_path",
    "params",
    "metrics",
    "tags",
    "last_update_time",
    "lifecycle_stage",
    "cell_id",
    "kind",
    "user",
    "host",
}
DETAIL_KEYS = SUMMARY_KEYS | {
    "execution_count",
    "artifact_uri",
    "note",
    "source",
    "cells",
    "git",
    "environment",
    "artifacts",
    "stdout",
    "error",
    "metric_keys",
    "children",
}
SECRET = "TOP-SECRET-CONTENT"


def on_server_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test to completion on pytest_jupyter's loop (the server's).

    pytest_jupyter runs async tests itself only when registered as a plugin
    (``pytest_plugins``), which would also put its autouse fixtures (a fresh event loop
    closed after each test, a ServerApp cleanup) on every test of the suite and break tests
    that drive their own loop (Playwright). So its fixtures are imported into this module,
    which scopes them here, and this decorator does the running.
    """
    signature = inspect.signature(test)
    own_loop = "jp_asyncio_loop" in signature.parameters

    @functools.wraps(test)
    def run(**kwargs: Any) -> None:
        loop = kwargs["jp_asyncio_loop"] if own_loop else kwargs.pop("jp_asyncio_loop")
        loop.run_until_complete(test(**kwargs))

    parameters = list(signature.parameters.values())
    if not own_loop:
        parameters.append(inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY))
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return run


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def jp_base_url() -> str:
    return "/lab%40base/"


@pytest.fixture
def seeded(tmp_store: str, tmp_path: Path) -> dict[str, Any]:
    """Three runs in two experiments: metrics (with slashes, spaces, NaN), params, tags,
    artifacts (nested, spaces), a child run; plus secrets planted next to the artifacts."""
    mlops.set_store(tmp_store)
    files = tmp_path / "files"
    (files / "sub dir").mkdir(parents=True)
    (files / "model.txt").write_text("weights")
    (files / "sub dir" / "notes 1.txt").write_text("nested notes")
    with mlops.start_run(
        name="sgd", experiment="exp-a", params={"lr": 0.1, "opt": "sgd"}, tags={"team": "x"}
    ) as first:
        for step in range(1000):
            mlops.log_metric("acc", step / 1000, step=step)
        mlops.log_metric("loss/train", 0.5)
        mlops.log_metric("val loss", math.nan)
        mlops.log_metric("val loss", 1.5)
        mlops.log_metric("val loss", math.inf)
        mlops.log_artifact(files / "model.txt")
        mlops.log_artifact(files / "sub dir")
        with mlops.start_run(name="step-1", experiment="exp-a") as child:
            mlops.log_metric("acc", 0.2)
    with mlops.start_run(name="adam", experiment="exp-a", params={"lr": 0.01, "opt": "adam"}):
        mlops.log_metric("acc", 0.95)
        mlops.log_metric("nan metric", math.nan)
    second = mlops.active_run()
    assert second is None
    with pytest.raises(ZeroDivisionError), mlops.start_run(name="broken", experiment="exp-b"):
        raise ZeroDivisionError("boom")
    mlops.flush()
    runs = mlops.runs()
    ids = {row["name"]: row["run_id"] for _, row in runs.iterrows()}
    artifacts_root = Path(os.environ["JUPYTER_MLOPS_ARTIFACTS"])
    (artifacts_root / "secret.txt").write_text(SECRET)  # one level above each run folder
    (tmp_path / "secret.txt").write_text(SECRET)
    run_folder = artifacts_root / first.run_id
    os.symlink(tmp_path / "secret.txt", run_folder / "link.txt")  # a link leading out
    return {
        "ids": ids,
        "first": first.run_id,
        "child": child.run_id,
        "store": tmp_store,
        "artifacts": artifacts_root,
    }


@pytest.fixture
def jp_server_config(seeded: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "tornado_settings": {"jupyter_mlops_heartbeat_s": 0.5},
        },
        "MLOps": {"store_url": seeded["store"]},
    }


@pytest.fixture
def raw_get(http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str]):
    """GET ``<base_url>jupyter-mlops/api/<path>`` with ``path`` sent exactly as given."""

    async def fetch(
        path: str,
        *,
        auth: bool = True,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        headers = {**(jp_auth_header if auth else {}), **(headers or {})}
        try:
            return await http_server_client.fetch(
                f"{jp_base_url}{API}/{path}",
                method=method,
                headers=headers,
                raise_error=False,
                allow_nonstandard_methods=True,
                **kwargs,
            )
        except HTTPClientError as exc:  # pragma: no cover - raise_error=False
            return exc.response

    return fetch


async def get_json(raw_get: Any, path: str, status: int = 200) -> Any:
    response = await raw_get(path)
    assert response.code == status, (path, response.code, response.body[:500])
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def assert_error(raw_get: Any, path: str, codes: tuple[int, ...] = (400,)) -> dict:
    response = await raw_get(path)
    assert response.code in codes, (path, response.code, response.body[:500])
    body = json.loads(response.body)
    assert isinstance(body["message"], str) and body["message"]
    assert "reason" in body
    assert SECRET not in response.body.decode(errors="replace")
    return body


# ---------------------------------------------------------------------------------------------
# Store resolution
# ---------------------------------------------------------------------------------------------


def test_store_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JUPYTER_MLOPS_STORE > the server's c.MLOps.store_url > the usual resolution."""
    import logging

    from traitlets.config import Config

    from jupyter_mlops.config import ARTIFACTS_ENV, STORE_ENV
    from jupyter_mlops.server import make_provider

    class App:
        config = Config(
            {
                "MLOps": {
                    "store_url": str(tmp_path / "configured.db"),
                    "artifacts_url": str(tmp_path / "configured-artifacts"),
                }
            }
        )
        log = logging.getLogger("test")

    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    provider = make_provider(App())
    try:
        store = provider.open()
        assert store.url == f"sqlite:///{tmp_path / 'configured.db'}"
        assert store.artifacts.root_url == str(tmp_path / "configured-artifacts")
    finally:
        provider.close()
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.db"))
    monkeypatch.setenv(ARTIFACTS_ENV, str(tmp_path / "env-artifacts"))
    provider = make_provider(App())
    try:
        store = provider.open()
        assert store.url == f"sqlite:///{tmp_path / 'env.db'}"
        assert store.artifacts.root_url == str(tmp_path / "env-artifacts")
    finally:
        provider.close()


def test_unopenable_store_is_store_error(tmp_path: Path) -> None:
    from jupyter_mlops.exceptions import StoreError
    from jupyter_mlops.server import StoreProvider

    provider = StoreProvider("mysql://nobody@nowhere/db")
    with pytest.raises(StoreError):
        provider.open()
    assert provider.error and provider.store is None


# ---------------------------------------------------------------------------------------------
# Happy paths
# ---------------------------------------------------------------------------------------------


@on_server_loop
async def test_extension_loaded_with_configured_store(jp_serverapp: Any, seeded: dict) -> None:
    provider = jp_serverapp.web_app.settings["jupyter_mlops"]
    assert provider.store is not None
    assert provider.store.url == seeded["store"]


@on_server_loop
async def test_experiments(raw_get: Any) -> None:
    data = await get_json(raw_get, "experiments")
    by_name = {e["name"]: e for e in data["experiments"]}
    assert by_name["exp-a"]["run_count"] == 3  # sgd, its child step-1, adam
    assert by_name["exp-b"]["run_count"] == 1
    for experiment in data["experiments"]:
        assert set(experiment) == {"experiment_id", "name", "creation_time", "run_count"}
        assert isinstance(experiment["creation_time"], int)


@on_server_loop
async def test_runs_list(raw_get: Any, seeded: dict) -> None:
    data = await get_json(raw_get, "runs")
    assert set(data) == {"runs", "total", "offset", "limit"}
    assert (data["total"], data["offset"], data["limit"]) == (4, 0, 100)
    for run in data["runs"]:
        # nonfinite_metrics only when a latest metric value is non-finite
        assert set(run) - {"nonfinite_metrics"} == SUMMARY_KEYS
    by_name = {r["name"]: r for r in data["runs"]}
    sgd = by_name["sgd"]
    assert sgd["params"] == {"lr": "0.1", "opt": "sgd"}
    assert sgd["tags"]["team"] == "x"
    assert sgd["metrics"]["acc"] == pytest.approx(0.999)
    assert sgd["metrics"]["loss/train"] == 0.5
    assert sgd["metrics"]["val loss"] is None  # latest is inf: non-finite -> null
    assert sgd["nonfinite_metrics"] == {"val loss": "Infinity"}  # ... and which one
    assert by_name["adam"]["metrics"]["nan metric"] is None
    assert by_name["adam"]["nonfinite_metrics"] == {"nan metric": "NaN"}
    assert "nonfinite_metrics" not in by_name["broken"]
    assert by_name["broken"]["status"] == "FAILED"
    assert by_name["step-1"]["parent_run_id"] == seeded["first"]


@on_server_loop
async def test_cli_json_is_the_rest_shape(
    raw_get: Any, seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jupyter mlops runs list|show --format json` and REST encode runs alike, NaN and inf
    included: the same keys, the same values, the same nonfinite_metrics (one encoder)."""
    from jupyter_mlops import wire
    from jupyter_mlops.cli.main import main

    rest = (await get_json(raw_get, "runs"))["runs"]
    assert main(["runs", "list", "--format", "json", "--store", seeded["store"]]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli == rest
    sgd = next(r for r in cli if r["name"] == "sgd")
    assert wire.restore_metrics(sgd)["val loss"] == math.inf  # recoverable
    adam = next(r for r in cli if r["name"] == "adam")
    assert math.isnan(wire.restore_metrics(adam)["nan metric"])

    rest_detail = await get_json(raw_get, f"runs/{seeded['first']}")
    assert main(["runs", "show", seeded["first"], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == rest_detail
    assert rest_detail["nonfinite_metrics"] == {"val loss": "Infinity"}


@on_server_loop
async def test_runs_query_parameters(raw_get: Any, seeded: dict) -> None:
    async def names(query: str) -> list[str]:
        data = await get_json(raw_get, f"runs?{query}")
        return [r["name"] for r in data["runs"]]

    assert sorted(await names("experiment=exp-a")) == ["adam", "sgd", "step-1"]
    assert await names("experiment=no-such-experiment") == []
    assert await names("status=FAILED") == ["broken"]
    assert await names("status=finished&experiment=exp-b") == []
    assert sorted(await names("filter=metrics.acc%20%3E%200.5")) == ["adam", "sgd"]
    assert await names("filter=params.opt%20%3D%20'adam'") == ["adam"]
    assert await names("order_by=metrics.acc%20DESC&limit=2") == ["sgd", "adam"]
    assert await names("search=brok") == ["broken"]
    assert await names(f"parent={seeded['first']}") == ["step-1"]
    assert "step-1" not in await names("parent=none")
    assert len(await names("parent=none")) == 3
    page = await get_json(raw_get, "runs?order_by=name&limit=2&offset=1")
    assert [r["name"] for r in page["runs"]] == ["broken", "sgd"]
    assert (page["total"], page["offset"], page["limit"]) == (4, 1, 2)
    assert (await get_json(raw_get, "runs?limit=1000"))["limit"] == 1000


@on_server_loop
async def test_run_detail(raw_get: Any, seeded: dict, git_head: str | None) -> None:
    run = await get_json(raw_get, f"runs/{seeded['first']}")
    assert set(run) == DETAIL_KEYS | {"nonfinite_metrics"}  # its latest "val loss" is inf
    assert run["nonfinite_metrics"] == {"val loss": "Infinity"}
    assert run["name"] == "sgd" and run["status"] == "FINISHED"
    assert run["metric_keys"] == ["acc", "loss/train", "val loss"]
    assert run["children"] == [seeded["child"]]
    paths = {a["path"]: a["size"] for a in run["artifacts"]}
    assert paths["model.txt"] == len("weights")
    assert "sub dir/notes 1.txt" in paths
    # the run was captured in this process: its environment always, and the git state of
    # the working directory whenever it is a git checkout (as the test suite's is)
    assert set(run["environment"]) == {"python", "platform", "host", "user", "pid", "packages"}
    assert run["environment"]["pid"] == os.getpid()
    if git_head is None:
        assert run["git"] is None
    else:
        assert set(run["git"]) == {"commit", "branch", "dirty", "diff"}
        assert run["git"]["commit"] == git_head
    broken = await get_json(raw_get, f"runs/{seeded['ids']['broken']}")
    assert "ZeroDivisionError" in broken["error"]


@on_server_loop
async def test_metric_history(raw_get: Any, seeded: dict) -> None:
    run_id = seeded["first"]
    full = await get_json(raw_get, f"runs/{run_id}/metrics/acc")
    assert set(full) == {"key", "steps", "timestamps", "values", "nonfinite", "total_points"}
    assert full["total_points"] == 1000 and len(full["values"]) == 1000
    assert full["steps"][:3] == [0, 1, 2]
    small = await get_json(raw_get, f"runs/{run_id}/metrics/acc?max_points=10")
    assert 2 <= len(small["steps"]) <= 10 and small["total_points"] == 1000
    assert small["steps"][0] == 0 and small["steps"][-1] == 999
    one = await get_json(raw_get, f"runs/{run_id}/metrics/acc?max_points=1")
    assert one["steps"] == [999]
    # keys with a slash (encoded or not) and with a space
    for path in ("loss%2Ftrain", "loss/train"):
        data = await get_json(raw_get, f"runs/{run_id}/metrics/{path}")
        assert data["key"] == "loss/train" and data["values"] == [0.5]
    spaced = await get_json(raw_get, f"runs/{run_id}/metrics/val%20loss")
    assert spaced["values"] == [None, 1.5, None]
    assert spaced["nonfinite"] == {"0": "NaN", "2": "Infinity"}
    missing = await get_json(raw_get, f"runs/{run_id}/metrics/never-logged")
    assert missing["values"] == [] and missing["total_points"] == 0


@on_server_loop
async def test_artifacts_list_and_download(raw_get: Any, seeded: dict) -> None:
    run_id = seeded["first"]
    data = await get_json(raw_get, f"runs/{run_id}/artifacts")
    paths = [a["path"] for a in data["artifacts"]]
    assert "model.txt" in paths and "sub dir/notes 1.txt" in paths
    response = await raw_get(f"runs/{run_id}/artifacts/model.txt")
    assert response.code == 200 and response.body == b"weights"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "attachment" in response.headers["Content-Disposition"]
    response = await raw_get(f"runs/{run_id}/artifacts/sub%20dir/notes%201.txt")
    assert response.code == 200 and response.body == b"nested notes"
    response = await raw_get(f"runs/{run_id}/artifacts/sub%20dir%2Fnotes%201.txt")
    assert response.code == 200 and response.body == b"nested notes"
    await assert_error(raw_get, f"runs/{run_id}/artifacts/nope.txt", (404,))
    await assert_error(raw_get, f"runs/{run_id}/artifacts/sub%20dir", (404,))
    assert (await get_json(raw_get, f"runs/{seeded['ids']['adam']}/artifacts")) == {"artifacts": []}


@on_server_loop
async def test_compare(raw_get: Any, seeded: dict) -> None:
    ids = seeded["ids"]
    data = await get_json(raw_get, f"compare?run_ids={ids['sgd']},{ids['adam']}")
    assert set(data) == {"runs", "params", "metrics", "differing_params"}
    assert [r["name"] for r in data["runs"]] == ["sgd", "adam"]
    assert data["params"]["lr"] == {ids["sgd"]: "0.1", ids["adam"]: "0.01"}
    assert data["metrics"]["acc"][ids["adam"]] == 0.95
    assert data["metrics"]["nan metric"] == {ids["adam"]: None}
    assert data["differing_params"] == ["lr", "opt"]
    same = await get_json(raw_get, f"compare?run_ids={ids['sgd']}")
    assert same["differing_params"] == []


@on_server_loop
async def test_compare_metrics(raw_get: Any, seeded: dict) -> None:
    """One metric's history of several runs in one answer: each as the per-run endpoint
    answers it (downsampling, NaN/inf), keyed by full run id in the order asked."""
    ids = seeded["ids"]
    sgd, adam, broken = ids["sgd"], ids["adam"], ids["broken"]
    data = await get_json(
        raw_get, f"compare/metrics?run_ids={adam[:20]},{sgd},{broken}&key=acc&max_points=10"
    )
    assert set(data) == {"key", "histories"} and data["key"] == "acc"
    assert list(data["histories"]) == [adam, sgd, broken]
    for run_id in (adam, sgd, broken):
        one = await get_json(raw_get, f"runs/{run_id}/metrics/acc?max_points=10")
        assert data["histories"][run_id] == one
    assert data["histories"][sgd]["total_points"] == 1000
    assert 2 <= len(data["histories"][sgd]["steps"]) <= 10
    assert data["histories"][broken]["values"] == []  # no such metric: empty
    # the default: 1,000 points a run; 1: the latest point; slashes and spaces in keys
    full = await get_json(raw_get, f"compare/metrics?run_ids={sgd}&key=acc")
    assert len(full["histories"][sgd]["steps"]) == 1000
    latest = await get_json(raw_get, f"compare/metrics?run_ids={sgd},{sgd}&key=acc&max_points=1")
    assert list(latest["histories"]) == [sgd] and latest["histories"][sgd]["steps"] == [999]
    spaced = await get_json(raw_get, f"compare/metrics?run_ids={sgd}&key=val%20loss")
    assert spaced["histories"][sgd]["nonfinite"] == {"0": "NaN", "2": "Infinity"}
    slashed = await get_json(raw_get, f"compare/metrics?run_ids={sgd}&key=loss%2Ftrain")
    assert slashed["histories"][sgd]["values"] == [0.5]


@on_server_loop
async def test_metric_reads_take_turns(
    raw_get: Any, seeded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metric-history reads run one at a time (StoreProvider.point_reads): concurrent ones
    hand the GIL back and forth at every row. Other endpoints do not wait for them."""
    import threading
    import time

    from jupyter_mlops.store import Store

    inside, most, lock = [0], [0], threading.Lock()

    def tracked(method: Any) -> Any:
        def read(self: Store, *args: Any) -> Any:
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)  # long enough for the others to start, if they could
            try:
                return method(self, *args)
            finally:
                with lock:
                    inside[0] -= 1

        return read

    monkeypatch.setattr(Store, "metric_histories", tracked(Store.metric_histories))
    monkeypatch.setattr(Store, "metric_history", tracked(Store.metric_history))
    sgd, adam = seeded["ids"]["sgd"], seeded["ids"]["adam"]
    paths = [f"compare/metrics?run_ids={sgd},{adam}&key={key}" for key in ("acc", "loss/train")]
    paths += [f"runs/{sgd}/metrics/acc", "experiments"]
    answers = await asyncio.gather(*(raw_get(path) for path in paths))
    assert [a.code for a in answers] == [200] * 4
    assert most[0] == 1
    assert len(json.loads(answers[0].body)["histories"][sgd]["steps"]) == 1000


def test_point_reads_lock_is_per_event_loop() -> None:
    """An asyncio lock belongs to the loop it first waited on: a provider that outlives its
    loop (tests, a restarted loop) gets a new lock on the next one."""
    from jupyter_mlops.server import StoreProvider

    provider = StoreProvider("sqlite://")

    async def locks() -> tuple[asyncio.Lock, asyncio.Lock]:
        return provider.point_reads(), provider.point_reads()

    first, again = asyncio.run(locks())
    later, _ = asyncio.run(locks())
    assert first is again and later is not first


def test_json_bytes_reads_back_as_json_wrote_it() -> None:
    """The metric endpoints' encoder (orjson): every float back bit for bit, ints past 2**53,
    ``</`` escaped as Tornado escapes it, the non-finite markers as the wire writes them."""
    from jupyter_mlops import wire

    values = [0.1, 1 / 3, -2.5e-300, 1.7976931348623157e308, 5e-324, -0.0, 1e16, 123456789.125]
    history = wire.metric_history(
        "a</script>",
        {
            "step": [0, 2**53 + 1, -(2**62), 3, 4, 5, 6, 7, 8],
            "timestamp": [1764680000123] * 9,
            "value": [*values, math.nan],
            "total_points": 9,
        },
    )
    body = wire.json_bytes({"key": "x", "histories": {"r": history}})
    assert b"</" not in body
    back = json.loads(body)
    assert back == json.loads(json.dumps({"key": "x", "histories": {"r": history}}))
    got = back["histories"]["r"]
    assert got["values"][:-1] == values and got["values"][-1] is None
    assert math.copysign(1, got["values"][5]) == -1  # -0.0 stays negative
    assert got["steps"][1] == 2**53 + 1 and got["nonfinite"] == {"8": "NaN"}


# ---------------------------------------------------------------------------------------------
# Auth, methods
# ---------------------------------------------------------------------------------------------

ENDPOINTS = [
    "experiments",
    "runs",
    "runs/{id}",
    "runs/{id}/metrics/acc",
    "runs/{id}/artifacts",
    "runs/{id}/artifacts/model.txt",
    "compare?run_ids={id}",
    "compare/metrics?run_ids={id}&key=acc",
    "events",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@on_server_loop
async def test_auth_required(raw_get: Any, seeded: dict, endpoint: str) -> None:
    path = endpoint.format(id=seeded["first"])
    response = await raw_get(path, auth=False)
    assert response.code in (401, 403), (path, response.code)
    assert b"weights" not in response.body
    bad = await raw_get(path, auth=False, headers={"Authorization": "token wrong"})
    assert bad.code in (401, 403)


@on_server_loop
async def test_token_query_parameter_accepted(raw_get: Any, jp_auth_header: dict) -> None:
    """Browsers' EventSource and download links cannot send headers: ?token= works too."""
    token = jp_auth_header["Authorization"].split()[-1]
    response = await raw_get(f"runs?limit=1&token={token}", auth=False)
    assert response.code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@on_server_loop
async def test_read_only(raw_get: Any, seeded: dict, method: str) -> None:
    """Only the run-management writes exist (PATCH/DELETE on a run, tested below)."""
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    paths = ["runs", f"runs/{seeded['first']}/artifacts/x", f"runs/{seeded['first']}/artifacts"]
    if method in ("POST", "PUT"):
        paths.append(f"runs/{seeded['first']}")
    for path in paths:
        response = await raw_get(path, method=method, body=body)
        assert response.code == 405, (method, path, response.code)
        # Without credentials (so also without an XSRF token) a write is refused outright.
        response = await raw_get(path, method=method, body=body, auth=False)
        assert response.code in (401, 403), (method, path, response.code)
    assert "deleted" not in (await get_json(raw_get, f"runs/{seeded['first']}"))["name"]


# ---------------------------------------------------------------------------------------------
# Artifact path safety
# ---------------------------------------------------------------------------------------------

TRAVERSALS = [
    "../secret.txt",
    "../../secret.txt",
    "..%2fsecret.txt",
    "..%2F..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%2e%2e/%2e%2e/secret.txt",
    "%2E%2E%2F%2E%2E%2Fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "sub%20dir/../../secret.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..%5csecret.txt",
    "..\\secret.txt",
    "C:%5Cwindows%5Cwin.ini",
    "%00secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@on_server_loop
async def test_artifact_traversal_refused(raw_get: Any, seeded: dict, path: str) -> None:
    await assert_error(raw_get, f"runs/{seeded['first']}/artifacts/{path}", (400, 404))


@pytest.mark.parametrize("run_id", ["%2e%2e", "..", ".", "%2e", "x%2f..%2f.."])
@on_server_loop
async def test_run_id_traversal_refused(raw_get: Any, run_id: str) -> None:
    await assert_error(raw_get, f"runs/{run_id}/artifacts/secret.txt", (400, 404))
    await assert_error(raw_get, f"runs/{run_id}/artifacts", (400, 404))


@on_server_loop
async def test_symlink_out_of_run_folder_refused(raw_get: Any, seeded: dict) -> None:
    assert (seeded["artifacts"] / seeded["first"] / "link.txt").read_text() == SECRET
    await assert_error(raw_get, f"runs/{seeded['first']}/artifacts/link.txt", (400, 404))


# ---------------------------------------------------------------------------------------------
# Bad input -> 4xx JSON, never 500
# ---------------------------------------------------------------------------------------------

BAD_QUERIES = [
    ("runs?limit=-1", 400),
    ("runs?limit=abc", 400),
    ("runs?limit=0", 400),
    ("runs?limit=1001", 400),
    ("runs?limit=1.5", 400),
    ("runs?limit=99999999999999999999999", 400),
    ("runs?offset=-1", 400),
    ("runs?offset=x", 400),
    ("runs?status=BOGUS", 400),
    ("runs?filter=metrics.acc%20%3E%3E%3E%201", 400),
    ("runs?filter=metrics.acc%20%3E", 400),
    ("runs?filter=nosuchattr%20%3D%201", 400),
    ("runs?filter=(((", 400),
    ("runs?filter=name%20LIKE%20'%25s%25d'%20and", 400),  # % in the message: logged safely
    ("runs?order_by=nosuchattr", 400),
    ("runs?filter=start_time%20%3E%20'abc'", 400),  # across types: not a silent "no runs"
    ("runs?filter=name%20LIKE%205", 400),
    ("runs?filter=params.lr%20IN%20()", 400),
    ("runs?order_by=,", 400),
    ("runs?order_by=name%20DESC,", 400),
    ("runs?order_by=,name", 400),
    ("runs?order_by=metrics.%60x%20DESC", 400),  # an unclosed backtick (issue 10)
    ("runs?parent=", 400),  # empty values of arguments that name a value (issue 10)
    ("runs?limit=", 400),
    ("runs/{id}/metrics/acc?max_points=", 400),
    ("runs?filter=" + "a" * 5000, 400),
    ("runs/{id}/metrics/acc?max_points=0", 400),
    ("runs/{id}/metrics/acc?max_points=-5", 400),
    ("runs/{id}/metrics/acc?max_points=abc", 400),
    ("runs/{id}/metrics/acc?max_points=100001", 400),
    ("runs/{id}/metrics/acc%00x", 400),  # PostgreSQL refuses NUL in text: say so up front
    ("runs/ffffffffffffffffffffffffffffffff", 404),
    ("runs/ffffffffffffffffffffffffffffffff/metrics/acc", 404),
    ("runs/ffffffffffffffffffffffffffffffff/artifacts", 404),
    ("runs/ffffffffffffffffffffffffffffffff/artifacts/model.txt", 404),
    ("runs/" + "f" * 300, 404),
    ("compare", 400),
    ("compare?run_ids=", 400),
    ("compare?run_ids={id},,{id}", 400),
    ("compare?run_ids={id},ffffffffffffffffffffffffffffffff", 404),
    ("compare?run_ids=" + ",".join(["a"] * 101 + [str(i) for i in range(101)]), 400),
    ("compare/metrics?key=acc", 400),
    ("compare/metrics?run_ids={id}", 400),
    ("compare/metrics?run_ids={id}&key=", 400),
    ("compare/metrics?run_ids={id},,{id}&key=acc", 400),
    ("compare/metrics?run_ids={id}&key=acc&max_points=0", 400),
    ("compare/metrics?run_ids={id}&key=acc&max_points=100001", 400),
    ("compare/metrics?run_ids={id}&key=acc&max_points=abc", 400),
    ("compare/metrics?run_ids={id},ffffffffffffffffffffffffffffffff&key=acc", 404),
    ("compare/metrics?run_ids=" + ",".join(str(i) for i in range(101)) + "&key=acc", 400),
]


@on_server_loop
async def test_compare_ignores_whitespace_around_run_ids(raw_get: Any, seeded: dict) -> None:
    """`run_ids= ID , ID` names the runs as `ID,ID` does: one rule for run ids (whitespace
    ignored, a unique prefix enough), as in every path (issue 10: it was a 400)."""
    ids = seeded["ids"]
    spaced = await get_json(raw_get, f"compare?run_ids=%20{ids['sgd']}%20,%09{ids['adam'][:16]}%20")
    assert [r["name"] for r in spaced["runs"]] == ["sgd", "adam"]


@pytest.mark.parametrize(("query", "status"), BAD_QUERIES)
@on_server_loop
async def test_bad_input_is_4xx(raw_get: Any, seeded: dict, query: str, status: int) -> None:
    body = await assert_error(raw_get, query.format(id=seeded["first"]), (status,))
    assert body["reason"]


@pytest.mark.parametrize("path", ["", "nope", "runs/x/nope", "runs/x/metrics/", "runs/"])
@on_server_loop
async def test_unknown_api_path_is_json_404(raw_get: Any, path: str) -> None:
    await assert_error(raw_get, path, (404,))
    assert (await raw_get(path, auth=False)).code in (401, 403)


@pytest.mark.parametrize(
    ("query", "status", "quoted"),
    [
        ("runs?limit=5%25", 400, "'5%'"),
        ("runs/a%25b", 404, "'a%b'"),
        ("runs/a%25b/artifacts", 404, "'a%b'"),
        ("no%25such", 404, "'no%such'"),
        ("runs?filter=name%20LIKE%20'%25s%25d'%20and", 400, None),
    ],
)
@on_server_loop
async def test_error_message_quotes_input_verbatim(
    raw_get: Any, seeded: dict, query: str, status: int, quoted: str | None
) -> None:
    """Tornado doubles the % of an HTTPError message without args; the user must see
    what they sent, not ``'5%%'``."""
    body = await assert_error(raw_get, query, (status,))
    assert "%%" not in body["message"], body
    if quoted:
        assert quoted in body["message"], body


@on_server_loop
async def test_filter_on_text_compared_to_number_is_not_500(raw_get: Any) -> None:
    for query, status, names in (
        ("params.lr%20%3E%200.05", 200, ["sgd"]),  # params are text, compared as numbers
        ("metrics.acc%20%3D%20'x'", 400, None),  # a metric is a number: a clear 400
        ("name%20LIKE%20'%25'", 200, ["adam", "broken", "sgd", "step-1"]),
    ):
        response = await raw_get(f"runs?filter={query}")
        assert response.code == status, (query, response.body)
        body = json.loads(response.body)
        if names is None:
            assert body["reason"] == "InvalidFilterError", body
        else:
            assert sorted(r["name"] for r in body["runs"]) == names, body


@on_server_loop
async def test_store_unavailable_is_503(jp_serverapp: Any, raw_get: Any) -> None:
    from jupyter_mlops.exceptions import StoreError

    provider = jp_serverapp.web_app.settings["jupyter_mlops"]

    async def broken() -> Any:
        raise StoreError("database is gone")

    provider.get = broken
    body = await assert_error(raw_get, "runs", (503,))
    assert "gone" in body["message"]


# ---------------------------------------------------------------------------------------------
# Live events (Server-Sent Events)
# ---------------------------------------------------------------------------------------------


def test_poll_once_classifies_changes(tmp_store: str) -> None:
    """created vs updated, metric keys from point counts, nothing twice."""
    import time

    from jupyter_mlops.server.events import PollState, poll_once

    store = mlops.set_store(tmp_store)
    old = mlops.start_run(name="old")
    mlops.log_metric("a", 1.0)
    mlops.flush()
    time.sleep(0.01)
    state = PollState()  # the stream opens after "old" started

    def poll() -> list[tuple[str, Any]]:
        return parse_events("".join(poll_once(store, state)))

    first = poll()
    assert [(e, d["run_id"]) for e, d in first] == [
        ("run_updated", old.run_id),
        ("metrics", old.run_id),
    ]
    assert poll() == []  # nothing changed, nothing sent (despite the look-back window)
    mlops.log_metric("a", 1.0)  # same value again: still new points
    mlops.log_metric("b", 2.0)
    mlops.flush()
    events = poll()
    assert [e for e, _ in events] == ["metrics", "run_updated"]
    assert events[0][1]["keys"] == ["a", "b"]
    mlops.end_run()
    with mlops.start_run(name="new") as new:
        pass
    mlops.flush()
    events = poll()
    assert ("run_updated", old.run_id) in [(e, d["run_id"]) for e, d in events]
    assert ("run_created", new.run_id) in [(e, d["run_id"]) for e, d in events]
    assert not any(e == "metrics" for e, _ in events)
    assert poll() == []


def parse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields and "data" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


@on_server_loop
async def test_event_stream(
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    http_server_client: Any,
    seeded: dict,
) -> None:
    hub = jp_serverapp.web_app.settings["jupyter_mlops_events"]
    received: list[str] = []
    stop = False

    def on_chunk(chunk: bytes) -> None:
        received.append(chunk.decode())
        if stop:
            raise HTTPInputError("test is done")  # the client drops the connection, quietly

    client = AsyncHTTPClient(force_instance=True)
    request = HTTPRequest(
        f"http://127.0.0.1:{jp_http_port}{jp_base_url}{API}/events",
        headers=jp_auth_header,
        streaming_callback=on_chunk,
        request_timeout=60,
        header_callback=lambda line: None,
    )
    fetch = asyncio.ensure_future(client.fetch(request, raise_error=False))

    async def wait_for(predicate: Any, what: str, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.05)):
            if predicate("".join(received)):
                return
            if fetch.done():
                raise AssertionError(f"stream ended early: {fetch.result().code}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {what} in {''.join(received)!r}")

    await wait_for(lambda text: ": connected" in text, "connected comment")
    assert len(hub.subscribers) == 1

    def work() -> str:
        run = mlops.start_run(name="live", experiment="exp-live", params={"p": 1})
        mlops.log_metric("live/acc", 0.5)
        mlops.flush()
        return run.run_id

    run_id = await asyncio.to_thread(work)

    def has(kind: str, predicate: Any = lambda data: True) -> Any:
        return lambda text: any(
            event == kind and data.get("run_id") == run_id and predicate(data)
            for event, data in parse_events(text)
        )

    await wait_for(has("run_created"), "run_created")
    await wait_for(has("metrics", lambda d: "live/acc" in d["keys"]), "metrics")
    created = next(
        d
        for e, d in parse_events("".join(received))
        if e == "run_created" and d["run_id"] == run_id
    )
    assert set(created) == SUMMARY_KEYS and created["status"] == "RUNNING"

    def more() -> None:
        mlops.log_metric("live/acc", 0.75)
        mlops.end_run("FINISHED")
        mlops.flush()

    await asyncio.to_thread(more)
    await wait_for(has("run_updated", lambda d: d["status"] == "FINISHED"), "run_updated")
    await wait_for(lambda text: ": heartbeat" in text, "heartbeat")
    metric_events = [
        d for e, d in parse_events("".join(received)) if e == "metrics" and d["run_id"] == run_id
    ]
    assert metric_events and set(metric_events[0]) == {"run_id", "keys", "last_update_time"}

    # Clean disconnect: the client goes away, the server forgets it and stops polling.
    stop = True
    with contextlib.suppress(HTTPStreamClosedError, HTTPInputError):  # aborted on purpose
        await asyncio.wait_for(fetch, 10)
    for _ in range(100):
        if not hub.subscribers and hub._task is None:
            break
        await asyncio.sleep(0.05)
    assert not hub.subscribers and hub._task is None
    client.close()


@on_server_loop
async def test_event_stream_two_clients_share_one_poller(
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    http_server_client: Any,
    seeded: dict,
) -> None:
    hub = jp_serverapp.web_app.settings["jupyter_mlops_events"]
    streams: list[list[str]] = [[], []]
    stop = False

    def collector(index: int) -> Any:
        def on_chunk(chunk: bytes) -> None:
            streams[index].append(chunk.decode())
            if stop:
                raise HTTPInputError("done")

        return on_chunk

    client = AsyncHTTPClient(force_instance=True)
    fetches = [
        asyncio.ensure_future(
            client.fetch(
                HTTPRequest(
                    f"http://127.0.0.1:{jp_http_port}{jp_base_url}{API}/events",
                    headers=jp_auth_header,
                    streaming_callback=collector(i),
                    request_timeout=60,
                ),
                raise_error=False,
            )
        )
        for i in range(2)
    ]
    for _ in range(200):
        if all(": connected" in "".join(s) for s in streams):
            break
        await asyncio.sleep(0.05)
    assert len(hub.subscribers) == 2
    task = hub._task
    run_id = await asyncio.to_thread(lambda: _one_run("shared"))
    for _ in range(300):
        if all(run_id in "".join(s) for s in streams):
            break
        await asyncio.sleep(0.05)
    assert all(run_id in "".join(s) for s in streams)
    assert hub._task is task  # one poller for both
    stop = True
    for fetch in fetches:
        with contextlib.suppress(HTTPStreamClosedError, HTTPInputError):
            await asyncio.wait_for(fetch, 10)
    for _ in range(100):
        if not hub.subscribers:
            break
        await asyncio.sleep(0.05)
    assert not hub.subscribers
    client.close()


def _one_run(name: str) -> str:
    with mlops.start_run(name=name) as run:
        mlops.log_metric("m", 1.0)
    mlops.flush()
    return run.run_id


# ---------------------------------------------------------------------------------------------
# Run management (PATCH/DELETE runs/{id}, POST runs/archive|restore)
# ---------------------------------------------------------------------------------------------


async def send(raw_get: Any, method: str, path: str, body: Any, status: int = 200, **kw: Any):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await raw_get(path, method=method, body=payload, **kw)
    assert response.code == status, (method, path, response.code, response.body[:500])
    return json.loads(response.body) if response.body else None


@on_server_loop
async def test_edit_run_round_trip(raw_get: Any, seeded: dict) -> None:
    run_id = seeded["ids"]["adam"]
    edited = await send(
        raw_get,
        "PATCH",
        f"runs/{run_id}",
        {"name": "  adam-best ", "note": "# Best\n\n*lr* 0.01", "tags": {"keep": "yes"}},
    )
    assert set(edited) == DETAIL_KEYS | {"nonfinite_metrics"}  # its "nan metric" is NaN
    assert edited["name"] == "adam-best"
    assert edited["note"] == "# Best\n\n*lr* 0.01"
    assert edited["tags"] == {"keep": "yes"}
    assert edited["last_update_time"] > 0
    again = await get_json(raw_get, f"runs/{run_id}")
    assert (again["name"], again["note"], again["tags"]) == (
        "adam-best",
        edited["note"],
        {"keep": "yes"},
    )
    # null removes a tag; "" clears the note; other fields stay as they were
    cleared = await send(raw_get, "PATCH", f"runs/{run_id}", {"tags": {"keep": None}, "note": ""})
    assert cleared["tags"] == {} and cleared["note"] is None and cleared["name"] == "adam-best"
    # the Python API sees the same run
    assert mlops.get_run(run_id).name == "adam-best"


@on_server_loop
async def test_archive_restore_purge_round_trip(raw_get: Any, seeded: dict) -> None:
    first, child = seeded["first"], seeded["child"]

    async def listed(query: str = "") -> set[str]:
        return {r["name"] for r in (await get_json(raw_get, f"runs?{query}"))["runs"]}

    assert (await listed()) == {"sgd", "step-1", "adam", "broken"}
    archived = await send(raw_get, "POST", "runs/archive", {"run_ids": [first]})
    assert archived == {"run_ids": [first, child]}  # the child goes with its parent
    assert (await listed()) == {"adam", "broken"}
    assert (await listed("lifecycle=deleted")) == {"sgd", "step-1"}
    assert (await listed("lifecycle=all")) == {"sgd", "step-1", "adam", "broken"}
    detail = await get_json(raw_get, f"runs/{first}")  # still readable by id
    assert detail["lifecycle_stage"] == "deleted"
    # archiving again changes nothing
    assert await send(raw_get, "POST", "runs/archive", {"run_ids": [first]}) == {"run_ids": []}
    restored = await send(raw_get, "POST", "runs/restore", {"run_ids": [first], "children": False})
    assert restored == {"run_ids": [first]}
    assert (await listed()) == {"sgd", "adam", "broken"}
    assert await send(raw_get, "POST", "runs/restore", {"run_ids": [child]}) == {"run_ids": [child]}
    # purging needs the run archived first: nothing is destroyed in one step
    refused = await send(raw_get, "DELETE", f"runs/{first}", None, 409)
    assert refused["reason"] == "RunLifecycleError" and "archive" in refused["message"].lower()
    assert (seeded["artifacts"] / first / "model.txt").exists()
    await send(raw_get, "POST", "runs/archive", {"run_ids": [first]})
    purged = await send(raw_get, "DELETE", f"runs/{first}", None)
    assert purged == {"run_ids": [first, child]}
    await assert_error(raw_get, f"runs/{first}", (404,))
    await assert_error(raw_get, f"runs/{child}", (404,))
    assert not (seeded["artifacts"] / first).exists()
    assert (await listed("lifecycle=all")) == {"adam", "broken"}


BAD_EDITS = [
    ("PATCH", "runs/{id}", b"not json", 400),
    ("PATCH", "runs/{id}", b"[1, 2]", 400),
    ("PATCH", "runs/{id}", {}, 400),
    ("PATCH", "runs/{id}", {"colour": "red"}, 400),
    ("PATCH", "runs/{id}", {"name": ""}, 400),
    ("PATCH", "runs/{id}", {"name": "   "}, 400),
    ("PATCH", "runs/{id}", {"name": 5}, 400),
    ("PATCH", "runs/{id}", {"name": "x" * 300}, 400),
    ("PATCH", "runs/{id}", {"name": "a\u0000b"}, 400),
    ("PATCH", "runs/{id}", {"note": 5}, 400),
    ("PATCH", "runs/{id}", {"note": "x" * 100_001}, 400),
    ("PATCH", "runs/{id}", {"tags": ["a"]}, 400),
    ("PATCH", "runs/{id}", {"tags": {"a": 1}}, 400),
    ("PATCH", "runs/{id}", {"tags": {"": "x"}}, 400),
    ("PATCH", "runs/nosuchrun", {"name": "x"}, 404),
    ("PATCH", "runs/..", {"name": "x"}, 404),
    ("POST", "runs/archive", {}, 400),
    ("POST", "runs/archive", {"run_ids": []}, 400),
    ("POST", "runs/archive", {"run_ids": "{id}"}, 400),
    ("POST", "runs/archive", {"run_ids": [5]}, 400),
    ("POST", "runs/archive", {"run_ids": ["{id}"], "children": "yes"}, 400),
    ("POST", "runs/archive", {"run_ids": ["{id}"], "extra": 1}, 400),
    ("POST", "runs/archive", {"run_ids": ["{id}", "nosuchrun"]}, 404),
    ("POST", "runs/restore", {"run_ids": ["nosuchrun"]}, 404),
    ("DELETE", "runs/nosuchrun", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_EDITS)
@on_server_loop
async def test_run_management_bad_input(
    raw_get: Any, seeded: dict, method: str, path: str, body: Any, status: int
) -> None:
    run_id = seeded["ids"]["adam"]
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace("{id}", run_id))
    answer = await send(raw_get, method, path.format(id=run_id), body, status)
    assert isinstance(answer["message"], str) and answer["message"]
    # nothing changed, and a failed bulk request archived none of the runs it named
    detail = await get_json(raw_get, f"runs/{run_id}")
    assert (detail["name"], detail["lifecycle_stage"], detail["note"]) == ("adam", "active", None)


@on_server_loop
async def test_runs_lifecycle_parameter_checked(raw_get: Any) -> None:
    body = await assert_error(raw_get, "runs?lifecycle=gone")
    assert "lifecycle" in body["message"]


MUTATIONS = [
    ("PATCH", "runs/{id}", {"name": "hacked"}),
    ("DELETE", "runs/{id}", None),
    ("POST", "runs/archive", {"run_ids": ["{id}"]}),
    ("POST", "runs/restore", {"run_ids": ["{id}"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), MUTATIONS)
@on_server_loop
async def test_run_management_requires_auth(
    raw_get: Any, seeded: dict, method: str, path: str, body: Any
) -> None:
    run_id = seeded["ids"]["adam"]
    payload = json.dumps(body).replace("{id}", run_id).encode() if body else None
    for headers in ({}, {"Authorization": "token wrong"}):
        response = await raw_get(
            path.format(id=run_id), method=method, body=payload, auth=False, headers=headers
        )
        assert response.code in (401, 403), (method, path, response.code)
    detail = await get_json(raw_get, f"runs/{run_id}")
    assert (detail["name"], detail["lifecycle_stage"]) == ("adam", "active")


async def login_cookies(http_server_client: Any, base_url: str, token: str) -> dict[str, str]:
    """Log in with the token through Jupyter's login form, as a browser does: the cookies
    (login and ``_xsrf``) a browser would then send."""
    import http.cookies

    cookies: dict[str, str] = {}

    def keep(response: Any) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            jar = http.cookies.SimpleCookie(header)
            cookies.update({name: morsel.value for name, morsel in jar.items()})

    page = await http_server_client.fetch(f"{base_url}login", raise_error=False)
    keep(page)
    assert "_xsrf" in cookies, page.headers
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    form = urllib.parse.urlencode({"password": token, "_xsrf": cookies["_xsrf"]})
    answer = await http_server_client.fetch(
        f"{base_url}login",
        method="POST",
        body=form,
        headers={"Cookie": cookie},
        follow_redirects=False,
        raise_error=False,
    )
    assert answer.code == 302, (answer.code, answer.body[:300])
    keep(answer)
    return cookies


@pytest.mark.parametrize(("method", "path", "body"), MUTATIONS)
@on_server_loop
async def test_run_management_checks_xsrf_for_cookie_logins(
    raw_get: Any,
    http_server_client: Any,
    jp_base_url: str,
    jp_auth_header: dict,
    seeded: dict,
    method: str,
    path: str,
    body: Any,
) -> None:
    """A browser logged in by cookie must echo the _xsrf cookie: a page on another origin
    that makes the browser send the cookie cannot edit or archive runs."""
    token = jp_auth_header["Authorization"].split()[-1]
    cookies = await login_cookies(http_server_client, jp_base_url, token)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    run_id = seeded["ids"]["adam"]
    if method == "DELETE":  # purging needs an archived run: archive it with the token
        await send(raw_get, "POST", "runs/archive", {"run_ids": [run_id]})
    payload = json.dumps(body).replace("{id}", run_id).encode() if body else None
    url = path.format(id=run_id)
    # the cookie authenticates a GET...
    assert (await raw_get(f"runs/{run_id}", auth=False, headers={"Cookie": cookie})).code == 200
    # ...but not a write without the XSRF header
    refused = await raw_get(
        url, method=method, body=payload, auth=False, headers={"Cookie": cookie}
    )
    assert refused.code == 403, (method, url, refused.code)
    assert (await get_json(raw_get, f"runs/{run_id}"))["name"] == "adam"
    wrong = {"Cookie": cookie, "X-XSRFToken": "forged"}
    assert (await raw_get(url, method=method, body=payload, auth=False, headers=wrong)).code == 403
    right = {"Cookie": cookie, "X-XSRFToken": cookies["_xsrf"]}
    allowed = await raw_get(url, method=method, body=payload, auth=False, headers=right)
    assert allowed.code == 200, (method, url, allowed.code, allowed.body[:300])


# ---------------------------------------------------------------------------------------------
# Limits: c.MLOps.rest_* (docs/configuration.md)
# ---------------------------------------------------------------------------------------------


def test_the_provider_reads_the_rest_limits_and_poll_interval_from_config() -> None:
    from traitlets.config import Config

    from jupyter_mlops.server import StoreProvider

    provider = StoreProvider(
        config=Config({"MLOps": {"rest_max_compare": 3, "events_poll_interval": 2.5}})
    )
    assert provider.tunables.rest_max_compare == 3
    assert provider.tunables.events_poll_interval == 2.5
    assert provider.tunables.rest_max_limit == 1000  # the default


@on_server_loop
async def test_the_configured_limits_are_what_rest_enforces(
    jp_serverapp: Any, raw_get: Any, seeded: dict
) -> None:
    import dataclasses

    provider = jp_serverapp.web_app.settings["jupyter_mlops"]
    assert jp_serverapp.web_app.settings["jupyter_mlops_events"].interval == (
        provider.tunables.events_poll_interval
    )
    ids = seeded["ids"]
    pair = f"compare?run_ids={ids['sgd']},{ids['adam']}"
    await get_json(raw_get, pair)  # two runs: under the default limit of 100
    provider.tunables = dataclasses.replace(
        provider.tunables, rest_max_compare=1, rest_max_limit=2, rest_default_limit=1
    )
    body = await assert_error(raw_get, pair)
    assert "At most 1 runs" in body["message"]
    assert len((await get_json(raw_get, "runs"))["runs"]) == 1  # the default page
    await assert_error(raw_get, "runs?limit=3")
    assert len((await get_json(raw_get, "runs?limit=2"))["runs"]) == 2
