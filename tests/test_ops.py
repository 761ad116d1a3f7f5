"""The queued operations (``jupyter_mlops.store.ops``): one NamedTuple per kind, in the layouts
of the journal's format (docs/journal.md), queued and journaled as plain tuples."""

from __future__ import annotations

import marshal
import math
import re
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.store import Store
from jupyter_mlops.store.journal import read_records
from jupyter_mlops.store.ops import (
    ARTIFACT,
    BY_KIND,
    CELL,
    KINDS,
    METRIC,
    PARAMS,
    POINT,
    POINTS,
    RUN,
    TAGS,
    UPDATE,
    Artifact,
    Cell,
    MetricPoint,
    Params,
    Points,
    RunCreated,
    RunUpdate,
    Tags,
    describe,
    op_run_id,
    ops_weight,
    readable,
    split_by_weight,
    typed,
    unpack_points,
)
from jupyter_mlops.tracking import fluent

DOC = Path(__file__).resolve().parents[1] / "docs" / "journal.md"
RUN_ID = "a" * 32


def test_every_kind_has_the_layout_the_journal_documents() -> None:
    assert set(BY_KIND) == KINDS
    rows = dict(re.findall(r'`\("(\w+)", ([^`]*)\)`', DOC.read_text()))
    assert set(rows) == KINDS
    for kind, cls in BY_KIND.items():
        documented = [
            part.strip() for part in re.sub(r"\{[^}]*\}|\[[^]]*\]", "x", rows[kind]).split(",")
        ]
        assert len(cls._fields) == 1 + len(documented), (kind, documented, cls._fields)
        assert cls._fields[0] == "kind"


def test_operations_are_queued_and_journaled_as_plain_tuples(tmp_store: str) -> None:
    store = Store(tmp_store)
    try:
        writer = store.writer
        row = store.new_run_row(name="typed", experiment_id=store.experiment_id("e"), kind="api")
        ops = [
            RunCreated(RUN, row, [("lr", "0.1")], [("team", "x")], None),
            Params(PARAMS, row["run_id"], [("epochs", "3")]),
            Tags(TAGS, row["run_id"], [("stage", "a")]),
            MetricPoint(METRIC, row["run_id"], "loss", 0.5, 1_700_000_000_000, 0),
            Cell(
                CELL,
                row["run_id"],
                {"position": 0, "source": "x = 1", "start_time": 1, "status": "ok"},
            ),
            Artifact(ARTIFACT, row["run_id"], "model.txt", 7, 1_700_000_000_000),
            RunUpdate(UPDATE, row["run_id"], {"status": "FINISHED", "end_time": 1}),
        ]
        for op in ops:
            writer.submit(op)
        queued = list(writer.queue)[-len(ops) :]
        # marshal (the journal's encoding) takes exact tuples only, not NamedTuples
        assert all(type(op) is tuple for op in queued)
        with pytest.raises(ValueError, match="unmarshallable"):
            marshal.dumps(ops[:1], 4)
        assert marshal.loads(marshal.dumps(queued, 4)) == [tuple(op) for op in ops]
        store.flush()
        journaled = [op for record in read_records(writer.journal_path, None) for op in record.ops]
        assert journaled[-len(ops) :] == [tuple(op) for op in ops]
        run = store.get_run(row["run_id"])
        assert (run.status, run.params, run.tags) == (
            "FINISHED",
            {"lr": "0.1", "epochs": "3"},
            {"team": "x", "stage": "a"},
        )
        assert [c.source for c in run.cells] == ["x = 1"]
    finally:
        store.close()


def test_log_metric_queues_points_of_its_series_before_the_runs_next_operation(
    tmp_store: str,
) -> None:
    mlops.set_store(tmp_store)
    with mlops.start_run("points", capture=False, live=False) as run:
        queue = fluent.get_store().writer.queue
        mlops.log_metric("loss", 0.25, step=4)
        mlops.log_metric("loss", math.nan, step=-(2**63))
        mlops.log_metric("acc", 1, step=2**63 - 1)
        mlops.set_tag("after", "points")  # the points logged before it are queued first
        kinds = [op[0] for op in queue]
        assert kinds[-3:] == [POINTS, POINTS, TAGS] and type(queue[-3]) is tuple
        loss = typed(queue[-3])
        assert isinstance(loss, Points) and (loss.run_id, loss.key) == (run.run_id, "loss")
        (step, value, stamp), (step2, value2, _) = unpack_points(loss.data)
        assert (step, value, step2, math.isnan(value2)) == (4, 0.25, -(2**63), True)
        assert abs(stamp - run.start_time) < 60_000
        assert unpack_points(typed(queue[-2]).data)[0][:2] == (2**63 - 1, 1.0)
    stored = mlops.get_run(run.run_id)
    assert stored.metrics == {"acc": 1.0, "loss": 0.25}  # the latest: the highest step
    assert list(stored.history("loss")["step"]) == [-(2**63), 4]


def test_describe_and_readable_name_the_calls_of_a_points_operation() -> None:
    data = POINT.pack(3, 0.5, 10) + POINT.pack(7, math.inf, 11)
    op = (POINTS, RUN_ID, "loss", data)
    assert describe(op) == f"2 log_metric('loss', ...) calls, step 3 to 7, in run {RUN_ID}"
    assert readable(op) == (POINTS, RUN_ID, "loss", [(3, 0.5, 10), (7, math.inf, 11)])
    assert ops_weight([op, (TAGS, RUN_ID, [])]) == 3


def test_describe_names_the_call_and_survives_malformed_operations() -> None:
    row = {"run_id": RUN_ID, "name": "n", "parent_run_id": None}
    assert describe((RUN, row, [], [])) == f"start_run(name='n', run_id='{RUN_ID}', parent=None)"
    assert describe((METRIC, RUN_ID, "loss", math.inf, 1, 3)) == (
        f"log_metric('loss', inf, step=3) in run {RUN_ID}"
    )
    assert describe((PARAMS, RUN_ID, [("lr", "1")])) == f"log_params({{'lr': '1'}}) in run {RUN_ID}"
    assert (
        describe((ARTIFACT, RUN_ID, "a/b.txt", 3, 1)) == f"log_artifact('a/b.txt') in run {RUN_ID}"
    )
    long = describe((UPDATE, RUN_ID, {"stdout": "x" * 500}))
    assert long.endswith("...'}") and len(long) < 200
    assert describe(("nonsense", 1)) == "('nonsense', 1)"
    assert describe((METRIC, RUN_ID)) == f"('m', '{RUN_ID}')"
    assert op_run_id((RUN, row, [], [])) == RUN_ID
    assert op_run_id((TAGS, RUN_ID, [])) == RUN_ID


def test_split_by_weight_cuts_in_order_and_keeps_a_heavy_operation_whole() -> None:
    points = (POINTS, RUN_ID, "x", POINT.pack(0, 0.0, 0) * 5)
    tag = (TAGS, RUN_ID, [])
    ops = [tag, points, tag, tag, points, tag]
    parts = split_by_weight(ops, 3)
    assert [op for part in parts for op in part] == ops
    assert [ops_weight(part) for part in parts] == [1, 5, 2, 5, 1]
    assert split_by_weight([tag] * 4, 10) == [[tag] * 4]
