"""The benchmark harness's own logic: the SIGKILL progress ring, the answer checks that keep a
wrong answer from being timed, the table's verdicts and the generated docs
(benchmarks/durability_child.py, common.py, report.py). Timings are never asserted here."""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks import common, durability, durability_child
from benchmarks.report import README_BEGIN, README_END, build_rows, readme_table, update_docs


def _ring(tmp_path: Path) -> tuple[int, mmap.mmap]:
    return durability_child.open_ring(tmp_path / "ring", create=True)


def _publish(ring: mmap.mmap, index: int, count: int, t_ns: int) -> None:
    slot = (
        durability_child.HEADER.size + (index % durability_child.SLOTS) * durability_child.SLOT.size
    )
    durability_child.SLOT.pack_into(ring, slot, count, t_ns, count ^ t_ns)
    durability_child.WORD.pack_into(ring, 0, index + 1)


def test_the_ring_keeps_whole_slots_in_order(tmp_path: Path) -> None:
    fd, ring = _ring(tmp_path)
    try:
        assert durability_child.read_ring(ring) == []
        for index in range(5):
            _publish(ring, index, (index + 1) * 1000, 10_000 + index)
        assert durability_child.read_ring(ring) == [
            (1000, 10_000),
            (2000, 10_001),
            (3000, 10_002),
            (4000, 10_003),
            (5000, 10_004),
        ]
    finally:
        ring.close()
        os.close(fd)


def test_a_slot_torn_by_the_kill_is_skipped_and_one_written_but_not_counted_is_kept(
    tmp_path: Path,
) -> None:
    fd, ring = _ring(tmp_path)
    try:
        for index in range(3):
            _publish(ring, index, (index + 1) * 10, 100 + index)
        # the 4th slot written whole, killed before the header counted it
        slot = durability_child.HEADER.size + 3 * durability_child.SLOT.size
        durability_child.SLOT.pack_into(ring, slot, 40, 103, 40 ^ 103)
        assert durability_child.read_ring(ring)[-1] == (40, 103)
        # the same slot torn: count written, time not yet
        durability_child.SLOT.pack_into(ring, slot, 40, 0, 40 ^ 103)
        assert durability_child.read_ring(ring)[-1] == (30, 102)
    finally:
        ring.close()
        os.close(fd)


def test_the_ring_wraps_around(tmp_path: Path) -> None:
    fd, ring = _ring(tmp_path)
    slots = durability_child.SLOTS
    try:
        for index in range(slots + 10):
            _publish(ring, index, index + 1, 1_000 + index)
        read = durability_child.read_ring(ring)
        assert read[-1] == (slots + 10, 1_000 + slots + 9)
        assert [c for c, _ in read] == sorted(c for c, _ in read)
        assert len(read) == slots - 1  # the oldest counted slot may be being overwritten
    finally:
        ring.close()
        os.close(fd)


def test_count_at_a_time_is_the_newest_slot_not_after_it() -> None:
    slots = [(1000, 10), (2000, 20), (3000, 30)]
    assert durability._count_at(slots, 5) == 0
    assert durability._count_at(slots, 20) == 2000
    assert durability._count_at(slots, 29) == 2000
    assert durability._count_at(slots, 99) == 3000


def _kill(lost: int, recent: int) -> dict[str, Any]:
    return {
        "lost": lost,
        "logged": 1_000_000,
        "lost_pct": lost / 10_000,
        "logged_last_0_2s": recent,
        "kill_after_s": 3.0,
    }


def _row(rows: list[dict[str, Any]], start: str) -> dict[str, Any]:
    (row,) = [r for r in rows if r["benchmark"].startswith(start)]
    return row


def test_verdicts_of_the_durability_rows() -> None:
    mlops = {
        "kill.tight": _kill(lost=50_000, recent=40_000),
        "before.kill.tight": _kill(lost=900_000, recent=10_000),
        "kill.paced_10k": _kill(lost=100, recent=2_000),
        "journal.accepted": {"calls_per_s": 880_000.0, "n": 1_000_000},
        "before.journal.accepted": {"calls_per_s": 1_000_000.0, "n": 1_000_000},
        "journal.durable": {"calls_per_s": 950_000.0, "n": 1_000_000},
        "before.journal.durable": {"calls_per_s": 1_000_000.0, "n": 1_000_000},
        "sweep.small": {"total_s": 0.9, "runs": 10_000, "capture_kb_per_run": 0.0},
        "sweep.small_capture": {"total_s": 1.5, "runs": 10_000, "capture_kb_per_run": 62.0},
        "sweep.large": {"total_s": 9.0, "runs": 50_000, "capture_kb_per_run": 0.0},
        "outage.postgres": {
            "lost": 0,
            "logged": 650_000,
            "outage_s": 60.0,
            "rate_target": 10_000,
            "catch_up_s": 4.2,
            "logged_during_outage": 600_000,
            "first_commit_after_restart_s": 1.5,
            "apply_points_per_s": 240_000.0,
        },
    }
    mlflow = {
        "sweep.small": {
            "total_s": 12.0,
            "runs": 1_000,
            "total_s_at_sweep_runs": 120.0,
            "scaled_to": 10_000,
        },
        "sweep.small_capture": {
            "total_s": 72.0,
            "runs": 1_000,
            "total_s_at_sweep_runs": 720.0,
            "scaled_to": 10_000,
        },
    }
    rows = build_rows(mlops, mlflow)
    tight = _row(rows, "SIGKILL during a tight")
    assert tight["met"] == "NO"  # 50,000 lost > 40,000 logged in the last 0.2 s
    assert tight["jupyter_mlops_text"] == "50,000 of 1,000,000 (5.0%)"
    assert tight["before_text"] == "900,000 of 1,000,000 (90.0%)"
    assert tight["target"] == "<= logged in the last 0.2 s (40,000)"
    assert _row(rows, "SIGKILL during a 10,000")["met"] == "yes"
    assert _row(rows, "SIGKILL during a 100,000")["met"] is None  # not measured
    assert _row(rows, "log_metric loop with the journal, accepted")["met"] == "NO (12.0% slower)"
    assert _row(rows, "log_metric loop with the journal, durable")["met"] == "yes (5.0% slower)"
    small = _row(rows, "10,000 runs with 2 params + 1 metric each, until flushed, capture off")
    assert small["met"] == "yes" and small["ratio"] == 120.0 / 0.9
    assert "MLflow: 1,000 runs measured, per-run time x 10,000" in small["benchmark"]
    captured = _row(rows, "10,000 runs with 2 params + 1 metric each, until flushed, capture on")
    assert captured["met"] == "NO" and "62 kB" in captured["benchmark"]
    assert captured["ratio"] == 720.0 / 1.5
    assert _row(rows, "50,000 runs")["met"] == "yes*"  # below the 100,000 runs of the target
    assert _row(rows, "PostgreSQL stopped 60 s")["met"] == "yes"
    catch_up = _row(rows, "PostgreSQL outage: catch-up")
    assert catch_up["jupyter_mlops_text"] == "4.20 s"
    assert "first commit 1.5 s after the restart, then 240,000 points/s" in catch_up["benchmark"]

    table = readme_table(
        {
            "raw": {"jupyter-mlops": mlops, "MLflow": mlflow},
            "meta": {
                "before": {"commit": "bee9800abc"},
                "versions": {"mlflow": "3.17.2"},
                "date": "2026-12-01T12:50:00+0000",
                "mode": "full",
                "git": {"commit": "0123456789", "dirty": True},
                "cpus": 2,
                "load_average_before": [1.25, 1.0, 1.0],
                "load_average_after": [2.5, 1.5, 1.0],
            },
        }
    )
    assert table.splitlines()[0] == (
        "| benchmark | jupyter-mlops | before (`bee9800`) | MLflow 3.17 | ratio | target | met? |"
    )
    assert "| SIGKILL during a tight log_metric loop" in table
    assert table.splitlines()[-1] == (
        "Run of 2026-12-01 12:50 (full), commit `0123456` with uncommitted changes, 2 CPUs, "
        "1-minute load average 1.2 to 2.5 (before and after the run)."
    )


def test_a_wrong_history_records_no_time() -> None:
    """measure_history checks every value (full) and each point's value at its step
    (downsampled) before it records anything."""
    logged = [float(i) * 0.5 for i in range(10_000)]
    steps = list(range(0, 10_000, 20)) + [9_999]

    good_full = (list(range(10_000)), list(logged))
    good_sampled = (steps, [logged[s] for s in steps])
    out = _measure(logged, good_full, good_sampled)
    assert out["history.full"]["points"] == 10_000
    assert out["history.sampled"]["returned"] == len(steps)

    wrong_value = (list(range(10_000)), [*logged[:-1], 0.0])
    missing = (list(range(9_999)), logged[:-1])
    # right count, first and last steps kept, but values from the neighbouring steps
    shifted = (steps, [logged[s + 1] for s in steps[:-1]] + [logged[-1]])
    no_last = (steps[:-1], [logged[s] for s in steps[:-1]])
    clustered = (list(range(500)) + [9_999], [*logged[:500], logged[-1]])
    for full, sampled in (
        (wrong_value, good_sampled),
        (missing, good_sampled),
        (good_full, shifted),
        (good_full, no_last),
        (good_full, clustered),
    ):
        with pytest.raises(common.WrongAnswer):
            _measure(logged, full, sampled)


def _measure(logged: list[float], full: Any, sampled: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    common.measure_history(
        out,
        logged,
        1000,
        full=(lambda: full, 1),
        sampled=(lambda: sampled, 1),
        points=lambda result: result,
    )
    return out


def test_update_docs_rewrites_results_and_the_readme_table_only(tmp_path: Path) -> None:
    report = {
        "raw": {
            "jupyter-mlops": {"sidebar.list": {"median_ms": 420.0, "n": 5, "runs": 10_001}},
            "MLflow": {},
        },
        "meta": {
            "date": "2026-12-01T16:20:00+0000",
            "mode": "full",
            "git": {"commit": "abcdef0123", "dirty": False},
            "cpus": 2,
            "load_average_before": [2.0, 1.5, 1.0],
            "load_average_after": [3.0, 2.0, 1.0],
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "platform": "Linux",
            "versions": {"jupyter_mlops": "0.1.0", "mlflow": "3.17.2"},
            "wall_s": {"jupyter-mlops": 600.0},
            "notes": ["a note"],
        },
    }
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_BEGIN}\nold table\n{README_END}\n\n## Next\n")
    results = tmp_path / "RESULTS.md"
    update_docs(report, results, readme)
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{README_BEGIN}\n| benchmark |")
    assert text.endswith(f"{README_END}\n\n## Next\n")
    assert "old table" not in text
    assert "| sidebar: click to a rendered 10,001-run list" in text and "| 420 ms |" in text
    assert "commit `abcdef0`, 2 CPUs, 1-minute load average 2.0 to 3.0" in text
    assert "Do not edit by hand" in results.read_text()
    assert "3.00 / 2.00 / 1.00 after" in results.read_text()
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit):
        update_docs(report, results, readme)


def test_update_docs_fills_the_tables_of_the_separate_scripts(tmp_path: Path) -> None:
    """pipeline.py's and remote.py's rows (measured in the same full run) become the tables
    of docs/pipelines.md and docs/remote.md, and sections of RESULTS.md."""
    report = {
        "raw": {"jupyter-mlops": {}, "MLflow": {}},
        "meta": {
            "date": "2026-12-01T16:20:00+0000",
            "mode": "full",
            "git": {"commit": "abcdef0123", "dirty": False},
            "cpus": 2,
            "load_average_before": [0.5, 0.5, 0.5],
            "load_average_after": [0.7, 0.5, 0.5],
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "platform": "Linux",
            "versions": {},
            "wall_s": {},
            "notes": [],
        },
        "pipeline": {
            "rows": [["benchmark", "jupyter-mlops"], ["cached rerun", "0.61 s"]],
            "note": "Ploomber: not installed.",
        },
        "remote": {"rows": [["benchmark", "%%remote"], ["trivial | cell", "5.1 ms"]]},
    }
    (tmp_path / "docs").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_BEGIN}\nx\n{README_END}\n")
    for doc in ("pipelines.md", "remote.md"):
        (tmp_path / "docs" / doc).write_text(
            f"## Performance\n\n{README_BEGIN}\nold\n{README_END}\n"
        )
    results = tmp_path / "RESULTS.md"
    update_docs(report, results, readme)
    pipelines = (tmp_path / "docs" / "pipelines.md").read_text()
    assert "| cached rerun | 0.61 s |" in pipelines and "old" not in pipelines
    assert "Ploomber: not installed." in pipelines and "commit `abcdef0`" in pipelines
    remote = (tmp_path / "docs" / "remote.md").read_text()
    assert "| trivial \\| cell | 5.1 ms |" in remote
    text = results.read_text()
    assert "## Notebook pipelines" in text and "## `%%remote`" in text
