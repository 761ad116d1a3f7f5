"""``jupyter mlops sync``: offline journals, journals from elsewhere, status, in-use refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlops as mlops

pytestmark = pytest.mark.slow

OFFLINE_SCRIPT = (
    "import jupyter_mlops as m\n"
    "m.set_experiment('train-ride')\n"
    "with m.start_run('offline-{n}', params={{'lr': 0.1}}) as r:\n"
    "    for i in range(100): m.log_metric('loss', 1 / (i + 1), step=i)\n"
    "print(r.run_id)\n"
)


def _log_offline(store: str, n: int, extra_env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT.format(n=n)],
        env={**os.environ, "JUPYTER_MLOPS_STORE": store, "JUPYTER_MLOPS_OFFLINE": "1",
             **(extra_env or {})},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert "are kept in the journal" in done.stderr and "sync" in done.stderr
    return done.stdout.strip()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_offline_runs_are_listed_then_synced_once(tmp_store: str) -> None:
    first, second = _log_offline(tmp_store, 1), _log_offline(tmp_store, 2)
    status = _cli("sync", "--status", "--format", "json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert len(rows) == 2 and {r["state"] for r in rows} == {"waiting for sync"}
    done = _cli("sync")
    assert done.returncode == 0, done.stderr
    assert "Synced 2 journal(s)" in done.stdout
    again = _cli("sync")
    assert again.returncode == 0 and "Nothing to sync" in again.stdout
    for run_id in (first, second):
        run = mlops.get_run(run_id)
        assert run.experiment == "train-ride" and run.status == "FINISHED"
        assert run.params == {"lr": "0.1"} and len(run.history("loss")) == 100
    assert len(mlops.runs(experiment="train-ride")) == 2


def test_a_journal_from_another_machine_goes_to_the_store_named(
    tmp_store: str, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    run_id = _log_offline(str(laptop / "local.db"), 1)
    [journal] = [p for p in (laptop / "local.db.journals").iterdir() if p.is_dir()]
    carried = tmp_path / "usb" / journal.name
    shutil.copytree(journal, carried)
    segment = next(carried.glob("*.mlj"))
    done = _cli("sync", str(segment), "--store", tmp_store)  # a segment names its journal
    assert done.returncode == 0, done.stderr
    assert mlops.get_run(run_id).metrics["loss"] == pytest.approx(0.01)
    assert not carried.exists()  # applied: removed
    # the laptop's own store never saw it
    assert not (laptop / "local.db").exists()


def test_sync_refuses_a_journal_in_use_and_a_path_without_one(
    tmp_store: str, tmp_path: Path
) -> None:
    mlops.set_store(tmp_store, offline=True)
    with mlops.start_run("live"):
        mlops.log_metric("x", 1.0)
        mlops.flush()
        journal = mlops.get_store().writer.journal_path
        busy = _cli("sync", str(journal))
        assert busy.returncode == 2 and "is in use" in busy.stderr, busy.stderr
        assert "Traceback" not in busy.stderr
        status = _cli("sync", "--status")
        assert "logging (process running)" in status.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = _cli("sync", str(empty))
    assert nothing.returncode == 2 and "no journal segments" in nothing.stderr
    missing = _cli("sync", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no journal at" in missing.stderr
