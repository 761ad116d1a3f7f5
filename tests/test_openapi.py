"""The OpenAPI spec and the server agree: every route documented, every documented path served,
real responses valid against the (closed) schemas, and property-based requests never get a 5xx.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

# pytest_jupyter's fixtures, for this module only. (As a plugin, `pytest_plugins`, its autouse
# fixtures would apply to the whole suite; see tests/test_server.py.) The tests below are plain
# functions that drive the server's loop themselves: the server answers on jp_asyncio_loop
# while schemathesis' blocking requests run in a worker thread.
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.web import RequestHandler

import jupyter_mlops as mlops
from jupyter_mlops.server.handlers import ROUTES

SPEC_PATH = Path(__file__).resolve().parents[1] / "jupyter_mlops" / "server" / "openapi.yaml"
PREFIX = "/jupyter-mlops/api/"
EVENTS = PREFIX + "events"
MAX_EXAMPLES = int(os.environ.get("MLOPS_SCHEMATHESIS_EXAMPLES", "20"))
SLASHED_PARAMETERS = {"key", "path"}


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def template_regex(path: str) -> str:
    """``/jupyter-mlops/api/runs/{run_id}/metrics/{key}`` -> ``runs/([^/]+)/metrics/(.+)``:
    metric keys and artifact paths may hold slashes (and so must end the path)."""
    assert path.startswith(PREFIX), path
    parts = path[len(PREFIX) :].split("/")
    out = []
    for index, part in enumerate(parts):
        if re.fullmatch(r"\{\w+\}", part):
            slashed = part[1:-1] in SLASHED_PARAMETERS
            assert not slashed or index == len(parts) - 1, path
            out.append("(.+)" if slashed else "([^/]+)")
        else:
            out.append(re.escape(part).replace("\\-", "-"))
    return "/".join(out)


# ---------------------------------------------------------------------------------------------
# Static agreement
# ---------------------------------------------------------------------------------------------


def test_run_record_and_spec_agree() -> None:
    """The run record's field lists (store/records.py) are the RunSummary and RunDetail
    schemas: a field added to one and not the other fails here."""
    from dataclasses import fields

    from jupyter_mlops.store.records import RunRecord

    schemas = load_spec()["components"]["schemas"]
    maps = {"params", "metrics", "tags"}
    summary = set(RunRecord.SUMMARY_FIELDS) | maps
    detail = summary | set(RunRecord.DETAIL_FIELDS)
    assert set(schemas["RunSummary"]["properties"]) == summary | {"nonfinite_metrics"}
    assert set(schemas["RunSummary"]["required"]) == summary
    assert set(schemas["RunDetail"]["properties"]) == detail | {"nonfinite_metrics"}
    assert set(schemas["RunDetail"]["required"]) == detail
    # Every field of the record is sent (or listed as not sent), and every field sent is one
    # of the record's (metric_keys is derived from its metrics).
    record_fields = {f.name for f in fields(RunRecord)}
    assert record_fields == (detail - {"metric_keys"}) | set(RunRecord.NOT_SENT)
    # The same types where the record is precise: nullable exactly where the record is.
    nullable = {f.name for f in fields(RunRecord) if "None" in str(f.type) and f.name in summary}
    spec_nullable = {
        name
        for name, prop in schemas["RunSummary"]["properties"].items()
        if isinstance(prop.get("type"), list) and "null" in prop["type"]
    }
    assert spec_nullable == nullable


def test_wire_shapes_are_the_spec(tmp_store: str) -> None:
    """``wire`` builds RunSummary and RunDetail with exactly the spec's keys, NaN included."""
    from jupyter_mlops import wire

    mlops.set_store(tmp_store)
    with mlops.start_run("shape") as run:
        mlops.log_metric("loss", math.nan)
    record = mlops.get_store().get_run(run.run_id)
    schemas = load_spec()["components"]["schemas"]
    assert set(wire.run_summary(record)) == set(schemas["RunSummary"]["properties"])
    assert set(wire.run_detail(record)) == set(schemas["RunDetail"]["properties"])


def test_spec_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(load_spec())


def test_every_route_documented_and_every_path_served() -> None:
    spec = load_spec()
    documented = {template_regex(path): path for path in spec["paths"]}
    served = {pattern: handler for pattern, handler in ROUTES}
    missing = sorted(documented[p] for p in set(documented) - set(served))
    assert set(documented) == set(served), (
        f"undocumented routes: {sorted(set(served) - set(documented))}; "
        f"documented but not served: {missing}"
    )
    for pattern, path in documented.items():
        handler = served[pattern]
        methods = {m.upper() for m in spec["paths"][path] if m != "parameters"}
        implemented = {
            m
            for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if getattr(handler, m.lower()) is not getattr(RequestHandler, m.lower())
        }
        assert methods == implemented, (path, methods, implemented)


def test_documented_errors_use_the_error_schema() -> None:
    spec = load_spec()
    error = spec["components"]["schemas"]["Error"]
    assert "message" in error["required"] and "reason" in error["properties"]


# ---------------------------------------------------------------------------------------------
# Against a running server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def jp_base_url() -> str:
    return "/lab%40base/"


@pytest.fixture
def seeded(tmp_store: str, tmp_path: Path) -> dict[str, str]:
    mlops.set_store(tmp_store)
    artifact = tmp_path / "sub dir" / "weights.bin"
    artifact.parent.mkdir()
    artifact.write_bytes(b"\x00\x01binary")
    with mlops.start_run(
        name="parent", experiment="spec", params={"lr": 0.1}, tags={"t": "1"}
    ) as parent:
        for step in range(50):
            mlops.log_metric("loss/train", 1 / (step + 1), step=step)
        mlops.log_metric("odd", math.nan)
        mlops.log_metric("odd", -math.inf)
        mlops.log_artifact(artifact.parent)
        with mlops.start_run(name="child", experiment="spec", params={"lr": 0.2}) as child:
            mlops.log_metric("acc", 0.5)
    with pytest.raises(RuntimeError), mlops.start_run(name="failed", experiment="other"):
        raise RuntimeError("x")
    mlops.flush()
    return {"store": tmp_store, "parent": parent.run_id, "child": child.run_id}


@pytest.fixture
def jp_server_config(seeded: dict[str, str]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOps": {"store_url": seeded["store"]},
    }


@pytest.fixture
def live_server(
    jp_serverapp: Any,
    http_server: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> dict[str, Any]:
    """Base URL (the spec's paths are appended to it) and auth headers of the running server."""
    return {
        "base_url": f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}",
        "headers": dict(jp_auth_header),
        "token": jp_auth_header["Authorization"].split()[-1],
    }


def _schema() -> Any:
    import schemathesis

    return schemathesis.openapi.from_path(SPEC_PATH).exclude(path=EVENTS)


def _operations(schema: Any) -> list[Any]:
    from schemathesis.core.result import Ok

    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def test_real_responses_match_schemas(
    live_server: dict[str, Any], seeded: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """Seeded data (NaN/inf metrics, nested artifacts, children) through every operation."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = _schema()
    parent, child = seeded["parent"], seeded["child"]
    calls = [
        (PREFIX + "experiments", {}, {}),
        (PREFIX + "runs", {}, {}),
        (
            PREFIX + "runs",
            {},
            {"experiment": "spec", "order_by": "metrics.acc DESC", "limit": 1, "offset": 1},
        ),
        (PREFIX + "runs", {}, {"parent": "none", "status": "FAILED"}),
        (PREFIX + "runs", {}, {"filter": "nonsense >>> 1"}),
        (PREFIX + "runs/{run_id}", {"run_id": parent}, {}),
        (PREFIX + "runs/{run_id}", {"run_id": "nope"}, {}),
        (
            PREFIX + "runs/{run_id}/metrics/{key}",
            {"run_id": parent, "key": "loss/train"},
            {"max_points": 7},
        ),
        (PREFIX + "runs/{run_id}/metrics/{key}", {"run_id": parent, "key": "odd"}, {}),
        (PREFIX + "runs/{run_id}/metrics/{key}", {"run_id": parent, "key": "x"}, {"max_points": 0}),
        (PREFIX + "runs/{run_id}/artifacts", {"run_id": parent}, {}),
        (
            PREFIX + "runs/{run_id}/artifacts/{path}",
            {"run_id": parent, "path": "sub dir/weights.bin"},
            {},
        ),
        (PREFIX + "runs/{run_id}/artifacts/{path}", {"run_id": parent, "path": "%2e%2e/x"}, {}),
        (PREFIX + "compare", {}, {"run_ids": [parent, child]}),
        (PREFIX + "compare", {}, {"run_ids": [parent, "missing"]}),
        (PREFIX + "compare/metrics", {}, {"run_ids": [parent, child], "key": "loss/train"}),
        (PREFIX + "compare/metrics", {}, {"run_ids": [parent], "key": "x", "max_points": 0}),
    ]

    def run_all() -> list[int]:
        codes = []
        for path, path_parameters, query in calls:
            case = schema[path]["GET"].Case(path_parameters=path_parameters, query=query)
            response = case.call(base_url=live_server["base_url"], headers=live_server["headers"])
            case.validate_response(response, checks=checks, headers=live_server["headers"])
            codes.append(response.status_code)
        return codes

    codes = jp_asyncio_loop.run_until_complete(asyncio.to_thread(run_all))
    ok, bad, missing = 200, 400, 404
    assert codes == [ok] * 4 + [bad, ok, missing, ok, ok, bad, ok, ok, bad, ok, missing, ok, bad]


@pytest.mark.timeout(int(os.environ.get("MLOPS_SCHEMATHESIS_TIMEOUT", "120")))
def test_schemathesis_no_server_errors(
    live_server: dict[str, Any], seeded: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """Property-based GETs (valid and invalid input) on every operation: never a 5xx, and
    valid input gets documented, schema-conforming answers."""
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = _schema()
    operations = _operations(schema)
    assert {op.path for op in operations} == set(load_spec()["paths"]) - {EVENTS}
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}

    def fuzz(operation: Any, mode: Any, **fixed: Any) -> None:
        checks = [not_a_server_error]
        if mode == GenerationMode.POSITIVE:
            checks.append(response_schema_conformance)

        @given(case=operation.as_strategy(generation_mode=mode, **fixed))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # the token in both places the spec allows (a generated `token` would be refused)
            response = case.call(
                base_url=live_server["base_url"],
                headers=live_server["headers"],
                params={"token": live_server["token"]},
                timeout=10,
            )
            statuses.setdefault(operation.label, set()).add(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{operation.label} {case.path_parameters} {case.query}: "
                    f"{response.status_code} {response.text[:300]}"
                )
            case.validate_response(response, checks=checks, headers=live_server["headers"])

        check()

    def run_all() -> None:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode)
                if "{run_id}" in operation.path:  # and on a real run, not only on 404s
                    fuzz(operation, mode, path_parameters={"run_id": seeded["parent"]})

    jp_asyncio_loop.run_until_complete(asyncio.to_thread(run_all))
    assert failures == []
    assert set(statuses) == {op.label for op in operations}  # every operation was exercised
    assert any(400 in codes for codes in statuses.values())  # invalid input was tried


def test_schemathesis_stateful(
    live_server: dict[str, Any], seeded: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """Stateful: call sequences that follow the links between operations (a run id from
    ``GET runs`` or ``compare`` into run detail, metrics, artifacts, ``PATCH`` and ``DELETE``;
    archive/restore into ``compare``), with every Schemathesis check on every answer but one:
    ``positive_data_acceptance`` wants a 2xx for any schema-valid string, and a ``filter`` or
    ``order_by`` outside the MLflow grammar (which JSON Schema cannot state) is a documented
    400. The stateful checks (``use_after_free``, ``ensure_resource_availability``) stay on."""
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = _schema()
    machine = schema.as_state_machine()
    # the links Schemathesis found: runs into each per-run operation
    rules = {name for name in dir(machine) if "__" in name and name.isupper() is False}
    assert any("GET_jupyter_mlops_api_runs___200" in r and "run_id_metrics" in r for r in rules)
    assert any("PATCH_jupyter_mlops_api_runs_run_id_" in r for r in rules)
    calls: list[str] = []

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {
                "base_url": live_server["base_url"],
                "headers": live_server["headers"],
                "timeout": 10,
            }

        def after_call(self, response: Any, case: Any) -> None:
            calls.append(f"{case.method} {case.formatted_path} {response.status_code}")

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                headers=live_server["headers"],
                excluded_checks=[positive_data_acceptance],
                transport_kwargs=kwargs,
            )

    def run() -> None:
        Workflow.run(
            settings=settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                database=None,
                derandomize=True,  # the same sequences every run: no luck in what is covered
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )

    jp_asyncio_loop.run_until_complete(asyncio.to_thread(run))
    # sequences really went through a run id taken from an answer
    assert any(re.fullmatch(r"GET \S*/runs/[0-9a-f]{32}(/\S*)? 200", call) for call in calls), calls


def test_405_answers_carry_allow_with_the_spec_methods(
    live_server: dict[str, Any], seeded: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """Every method a path does not take is a 405 whose ``Allow`` lists the methods the spec
    gives that path (RFC 9110; Schemathesis' unsupported-method check found 405s without it)."""
    import requests

    spec = load_spec()
    values = {"run_id": seeded["parent"], "key": "odd", "path": "sub dir/weights.bin"}
    verbs = {"GET", "POST", "PUT", "PATCH", "DELETE"}

    def run_all() -> list[str]:
        problems = []
        for template, item in spec["paths"].items():
            documented = {m.upper() for m in item if m.upper() in verbs}
            path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
            for method in sorted(verbs - documented):
                response = requests.request(
                    method,
                    live_server["base_url"] + path,
                    headers=live_server["headers"],
                    json={} if method in ("POST", "PUT", "PATCH") else None,
                    timeout=10,
                )
                allow = {m.strip() for m in response.headers.get("Allow", "").split(",")}
                if response.status_code != 405 or allow & verbs != documented:
                    problems.append(
                        f"{method} {template}: {response.status_code}, Allow {sorted(allow)}"
                    )
        return problems

    assert jp_asyncio_loop.run_until_complete(asyncio.to_thread(run_all)) == []
