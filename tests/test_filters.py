"""MLflow-style filter and order-by expressions: ``jupyter_mlops.store.filters``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from jupyter_mlops.exceptions import InvalidFilterError
from jupyter_mlops.store import Store
from jupyter_mlops.store.filters import (
    Identifier,
    compile_filter,
    parse_identifier,
    parse_order_by,
)
from jupyter_mlops.store.ids import now_ms

RUNS = {
    # name: (experiment, status, params, metrics, tags)
    "sgd-fast": (
        "exp-a",
        "FINISHED",
        {"lr": "0.1", "opt": "sgd"},
        {"acc": 0.91, "val loss": 0.3},
        {"team": "vision"},
    ),
    "sgd-slow": (
        "exp-a",
        "FAILED",
        {"lr": "0.01", "opt": "sgd"},
        {"acc": 0.75, "val loss": 0.8},
        {"team": "nlp"},
    ),
    "adam": (
        "exp-b",
        "FINISHED",
        {"lr": "0.001", "opt": "adam"},
        {"acc": 0.97},
        {"team": "vision", "note": "it's good"},
    ),
    "nan-run": ("exp-b", "KILLED", {"opt": "adam"}, {"acc": math.nan}, {}),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("filters") / "mlops.db"
    s = Store(str(path))
    stamp = now_ms()
    for offset, (name, (experiment, status, params, metrics, tags)) in enumerate(RUNS.items()):
        row = s.new_run_row(name=name, experiment_id=s.experiment_id(experiment), kind="api")
        row.update(status=status, start_time=stamp + offset, end_time=stamp + 100)
        s.writer.submit(("run", row, list(params.items()), list(tags.items())))
        for key, value in metrics.items():
            s.writer.submit(("m", row["run_id"], key, value, stamp, 0))
    s.flush()
    yield s
    s.close()


def names(store: Store, expression: str | None = None, order_by=None) -> list[str]:
    records, _ = store.search_runs(filter=expression, order_by=order_by)
    return [r.name for r in records]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metrics.acc > 0.9", {"sgd-fast", "adam"}),
        ("metrics.acc >= 0.91 and metrics.acc < 0.95", {"sgd-fast"}),
        ("metric.acc <= 0.75", {"sgd-slow"}),
        ("metrics.`val loss` < 0.5", {"sgd-fast"}),
        ("metrics.acc != 0.75", {"sgd-fast", "adam"}),
        ("metrics.`val loss` IS NULL", {"adam", "nan-run"}),
        ("metrics.`val loss` IS NOT NULL", {"sgd-fast", "sgd-slow"}),
        ("params.lr = '0.1'", {"sgd-fast"}),
        ("params.lr = 0.1", {"sgd-fast"}),  # a number compares with the param as a number
        ("params.lr < 0.05", {"sgd-slow", "adam"}),
        ('params.opt = "adam"', {"adam", "nan-run"}),
        ("params.opt != 'adam'", {"sgd-fast", "sgd-slow"}),
        ("params.lr IN ('0.1', '0.01')", {"sgd-fast", "sgd-slow"}),
        ("params.lr IS NULL", {"nan-run"}),
        ("params.opt LIKE 'sg%'", {"sgd-fast", "sgd-slow"}),
        ("params.opt ILIKE 'ADA%'", {"adam", "nan-run"}),
        ("params.opt NOT LIKE 'sg%'", {"adam", "nan-run"}),
        ("tags.team = 'vision' and params.opt = 'sgd'", {"sgd-fast"}),
        ("tags.note = 'it''s good'", {"adam"}),
        ("tags.note = 'it\\'s good'", {"adam"}),
        ("status = 'FINISHED'", {"sgd-fast", "adam"}),
        ("status = 'finished'", {"sgd-fast", "adam"}),
        ("attributes.status IN ('FAILED', 'KILLED')", {"sgd-slow", "nan-run"}),
        ("name LIKE 'sgd%'", {"sgd-fast", "sgd-slow"}),
        ("run_name = 'adam'", {"adam"}),
        ("experiment = 'exp-b'", {"adam", "nan-run"}),
        ("experiment LIKE 'exp-%' AND metrics.acc > 0.8", {"sgd-fast", "adam"}),
        ("kind = 'api'", set(RUNS)),
        ("parent_run_id IS NULL", set(RUNS)),
        ("", set(RUNS)),
        ("   ", set(RUNS)),
    ],
)
def test_filter(store: Store, expression: str, expected: set[str]) -> None:
    assert set(names(store, expression)) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("metrics.acc > 0.9 or metrics.acc < 0.1", "only 'and'"),
        ("colour = 'red'", "Unknown run attribute 'colour'"),
        ("metrics.acc > 'high'", "numeric"),
        ("metrics.acc LIKE '9%'", "numeric"),
        ("params.lr > '0.1'", "compares as a number"),
        ("metrics.acc", "Missing comparison"),
        ("metrics.acc >", "Missing value"),
        ("metrics.acc > 0.9 and", "ends with 'and'"),
        ("params.lr IN '0.1'", "IN must be followed"),
        ("params.lr IN ()", "empty"),
        ("params.lr IN ('a', 'b'", "Unclosed"),
        ("status IS 'x'", "NULL"),
        ("0.5 < metrics.acc", "Expected a key"),
        ("metrics.acc ~ 3", "Cannot parse"),
        ("metrics. > 3", "Missing key"),
        ("params.lr = sgd", "Expected a value"),
    ],
)
def test_bad_filter_is_a_clear_error(store: Store, expression: str, message: str) -> None:
    with pytest.raises(InvalidFilterError, match=message.replace("(", r"\(")):
        compile_filter(expression)
    with pytest.raises(InvalidFilterError):
        store.search_runs(filter=expression)


def test_order_by(store: Store) -> None:
    assert names(store, "metrics.acc IS NOT NULL", "metrics.acc DESC")[:3] == [
        "adam",
        "sgd-fast",
        "sgd-slow",
    ]
    assert names(store, "params.lr IS NOT NULL", ["params.lr ASC"]) == [
        "adam",
        "sgd-slow",
        "sgd-fast",
    ]
    assert names(store, None, "name") == sorted(RUNS)
    assert names(store, None, "experiment DESC, name DESC") == [
        "nan-run",
        "adam",
        "sgd-slow",
        "sgd-fast",
    ]
    # default: newest first
    assert names(store) == list(reversed(RUNS))
    # runs without the key sort last either way
    assert names(store, None, "metrics.`val loss` DESC")[-2:] in (
        ["adam", "nan-run"],
        ["nan-run", "adam"],
    )
    with pytest.raises(InvalidFilterError):
        names(store, None, "bogus DESC")


def test_parse_identifier_and_order_by() -> None:
    assert parse_identifier("metrics.acc") == Identifier("metric", "acc")
    assert parse_identifier("params.`my key.x`") == Identifier("param", "my key.x")
    assert parse_identifier("tag.team") == Identifier("tag", "team")
    assert parse_identifier("start_time") == Identifier("attribute", "start_time")
    assert parse_identifier("metrics.a.b") == Identifier("metric", "a.b")
    terms = parse_order_by("metrics.acc DESC, start_time asc,, name")
    assert [(t.ident.key, t.descending) for t in terms] == [
        ("acc", True),
        ("start_time", False),
        ("name", False),
    ]
    assert parse_order_by(None) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("status = 'DONE'", "Unknown status 'DONE'"),
        ("status != 'finshed'", "Unknown status 'finshed'"),
        ("status IN ('FINISHED', 'OK')", "Unknown status 'OK'"),
    ],
)
def test_a_misspelt_status_is_an_error_not_an_empty_result(
    store: Store, expression: str, message: str
) -> None:
    with pytest.raises(InvalidFilterError, match=message):
        store.search_runs(filter=expression)
    # the right spellings, in any case, still work
    assert store.search_runs(filter="status = 'finished'")[1] == 2
    assert store.search_runs(filter="status IN ('killed', 'FAILED')")[1] == 2


@pytest.mark.parametrize("order_by", [5, ["start_time", 3], {"a": 1}, b"name"])
def test_order_by_of_the_wrong_type_is_a_clear_error(order_by: object) -> None:
    with pytest.raises(InvalidFilterError, match="order_by takes strings"):
        parse_order_by(order_by)  # type: ignore[arg-type]


@pytest.mark.parametrize("expression", [5, ["metrics.acc > 1"], b"metrics.acc > 1"])
def test_filter_of_the_wrong_type_is_a_clear_error(expression: object) -> None:
    with pytest.raises(InvalidFilterError, match="filter must be a string"):
        compile_filter(expression)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("start_time > 'yesterday'", "start_time is a time"),
        ("end_time = 'x'", "end_time is a time"),
        ("start_time LIKE '17%'", "start_time is a time"),
        ("name > 5", "name is text"),
        ("name = 5", "name is text"),
        ("run_id = 5", "run_id is text"),
        ("experiment = 5", "experiment is text"),
        ("user IN (1, 'a')", "user is text"),
    ],
)
def test_comparisons_across_types_are_errors_on_every_store(
    store: Store, expression: str, message: str
) -> None:
    """PostgreSQL fails these queries ("operator does not exist: bigint > character
    varying") where SQLite quietly matches nothing: both now say what is wrong."""
    with pytest.raises(InvalidFilterError, match=message):
        store.search_runs(filter=expression)


def test_numbers_are_exact_and_huge_ones_still_compare(store: Store) -> None:
    assert compile_filter("start_time > 12345678901234567")  # no float rounding on parse
    from jupyter_mlops.store.filters import _value

    assert _value("number", "12345678901234567") == 12345678901234567
    assert _value("number", "99999999999999999999999") == 1e23  # beyond BIGINT: a float
    assert store.search_runs(filter="start_time > 99999999999999999999999")[1] == 0
    assert store.search_runs(filter="start_time < 99999999999999999999999")[1] == len(RUNS)


# ---------------------------------------------------------------------------------------------
# The corpus shared with the sidebar's evaluator (labextension/src/filter.ts runs it in jest)
# ---------------------------------------------------------------------------------------------

CORPUS = json.loads((Path(__file__).parent / "data" / "filter_corpus.json").read_text())


def seed_corpus(s: Store) -> None:
    experiment = s.experiment_id("corpus")
    for run in CORPUS["runs"]:
        row = s.new_run_row(name=run["name"], experiment_id=experiment, kind="api")
        row.update(
            status=run["status"],
            start_time=run["start_time"],
            end_time=None if run["status"] == "RUNNING" else run["start_time"] + 1000,
            notebook_path=run["notebook_path"],
        )
        s.writer.submit(("run", row, list(run["params"].items()), list(run["tags"].items())))
        for key, value in run["metrics"].items():
            s.writer.submit(("m", row["run_id"], key, value, run["start_time"], 0))
    s.flush()


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory):
    s = Store(str(tmp_path_factory.mktemp("corpus") / "mlops.db"))
    seed_corpus(s)
    yield s
    s.close()


@pytest.fixture
def corpus_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mlops.store import filters

    monkeypatch.setattr(filters, "_now_ms", lambda: CORPUS["now"])


@pytest.mark.parametrize("case", CORPUS["filters"], ids=lambda c: c["filter"])
def test_corpus_filter(corpus_store: Store, corpus_now: None, case: dict) -> None:
    if "error" in case:
        with pytest.raises(InvalidFilterError, match=re.escape(case["error"])):
            corpus_store.search_runs(filter=case["filter"])
        return
    records, _ = corpus_store.search_runs(filter=case["filter"])
    assert sorted(r.name for r in records) == sorted(case["expect"])


@pytest.mark.parametrize("case", CORPUS["searches"], ids=lambda c: c["search"])
def test_corpus_search(corpus_store: Store, case: dict) -> None:
    records, _ = corpus_store.search_runs(search=case["search"])
    assert sorted(r.name for r in records) == sorted(case["expect"])


@pytest.mark.slow
def test_corpus_on_postgresql(postgres_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guarded cast of numeric params is dialect-specific: PostgreSQL answers alike."""
    from jupyter_mlops.store import filters

    monkeypatch.setattr(filters, "_now_ms", lambda: CORPUS["now"])
    s = Store(postgres_store_url)
    try:
        seed_corpus(s)
        for case in CORPUS["filters"]:
            if "error" in case:
                continue
            records, _ = s.search_runs(filter=case["filter"])
            assert sorted(r.name for r in records) == sorted(case["expect"]), case
        for case in CORPUS["searches"]:
            records, _ = s.search_runs(search=case["search"])
            assert sorted(r.name for r in records) == sorted(case["expect"]), case
    finally:
        s.close()


@pytest.mark.parametrize("order_by", ["metrics.`x DESC", "metrics.`x", "metrics.x` ASC", "`name"])
def test_an_unclosed_backtick_is_an_error(order_by: str) -> None:
    """`metrics.`x DESC` once sorted by a metric named '`x' (issue 10: a contract failure)."""
    with pytest.raises(InvalidFilterError, match="Unclosed backtick"):
        parse_order_by(order_by)
    with pytest.raises(InvalidFilterError):
        compile_filter(f"{order_by.split()[0]} > 1")
    # quoted whole, a key with spaces is fine
    assert parse_order_by("metrics.`x y` DESC")[0].ident == Identifier("metric", "x y")
