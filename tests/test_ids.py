"""Run ids: time-ordered, MLflow's format, strictly increasing within a process."""

from __future__ import annotations

import pytest

from jupyter_mlops.store import ids as ids_module


def test_run_ids_are_time_ordered_mlflow_format_ids() -> None:
    ids = [ids_module.new_run_id() for _ in range(5000)]
    texts = [run_id for run_id, _ in ids]
    assert len(set(texts)) == len(texts)
    for run_id, stamp in ids:
        assert len(run_id) == 32 and run_id == run_id.lower()
        int(run_id, 16)
        assert run_id[12] == "7"  # UUIDv7 version nibble
        assert run_id[16] in "89ab"  # RFC 9562 variant
        assert int(run_id[:12], 16) == stamp  # the id encodes the start millisecond
    # strictly increasing within a process, even for ids minted in the same millisecond
    assert texts == sorted(texts)
    stamps = [stamp for _, stamp in ids]
    assert len(set(stamps)) < len(stamps)
    assert stamps == sorted(stamps)


def test_run_id_counter_overflow_borrows_the_next_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ids_module.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    monkeypatch.setattr(ids_module, "_id_last_ms", 0)
    ids = [ids_module.new_run_id() for _ in range(ids_module._ID_COUNTER_MAX + 3)]
    assert [run_id for run_id, _ in ids] == sorted(run_id for run_id, _ in ids)
    assert ids[0][1] == 1_700_000_000_000 and ids[-1][1] == 1_700_000_000_001
