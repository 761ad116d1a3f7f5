"""Git diffs are stored once, however many runs capture them (``store/diffs.py``)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import jupyter_mlops as mlops
from jupyter_mlops.store.engine import _migrations_dir
from jupyter_mlops.tracking import capture, fluent

GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]


@pytest.fixture
def dirty_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run([*GIT, "init", "-q"], cwd=root, check=True)
    (root / "train.py").write_text("lr = 0.1\n")
    subprocess.run([*GIT, "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "first"], cwd=root, check=True)
    (root / "train.py").write_text("lr = 0.2  # first change\n")
    monkeypatch.chdir(root)
    _forget_captures()
    return root


def _forget_captures() -> None:
    """As if the captures' one-second caches had expired."""
    capture._git_cache.clear()
    fluent._capture_cache.clear()


def _db(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"))


def _sweep(count: int) -> list[str]:
    ids = []
    for i in range(count):
        with mlops.start_run(f"r{i}") as run:
            mlops.log_param("i", i)
        ids.append(run.run_id)
    mlops.flush()
    return ids


def test_a_sweep_stores_its_diff_once_and_every_run_reads_it(
    tmp_store: str, dirty_repo: Path
) -> None:
    first = _sweep(5)
    (dirty_repo / "train.py").write_text("lr = 0.3  # second change\n")
    _forget_captures()
    second = _sweep(2)
    for run_id in first:
        git = mlops.get_run(run_id).git
        assert "first change" in git["diff"] and git["dirty"] is True
        assert "diff_sha256" not in git  # records look as they always did
    for run_id in second:
        assert "second change" in mlops.get_run(run_id).git["diff"]
    conn = _db(tmp_store)
    assert conn.execute("SELECT COUNT(*) FROM git_diffs").fetchone()[0] == 2
    stored = [row[0] for row in conn.execute("SELECT git FROM runs")]
    assert len(stored) == 7 and not any("change" in text for text in stored)
    # another process (a new writer) with the same diff adds no second copy
    mlops.set_store(tmp_store)
    _sweep(1)
    assert conn.execute("SELECT COUNT(*) FROM git_diffs").fetchone()[0] == 2


def test_purging_the_last_run_of_a_diff_deletes_it(tmp_store: str, dirty_repo: Path) -> None:
    shared = _sweep(2)
    (dirty_repo / "train.py").write_text("lr = 0.3  # second change\n")
    _forget_captures()
    (alone,) = _sweep(1)
    conn = _db(tmp_store)
    mlops.archive_run(shared[0])
    mlops.purge_run(shared[0])
    assert conn.execute("SELECT COUNT(*) FROM git_diffs").fetchone()[0] == 2  # still used
    mlops.archive_run(alone)
    mlops.purge_run(alone)
    (left,) = conn.execute("SELECT diff FROM git_diffs").fetchone()
    assert "first change" in left
    assert "first change" in mlops.get_run(shared[1]).git["diff"]


def test_a_run_with_its_diff_inline_reads_as_before(tmp_store: str, dirty_repo: Path) -> None:
    (run_id,) = _sweep(1)
    inline = {"commit": "abc", "branch": "main", "dirty": True, "diff": "old style diff"}
    with _db(tmp_store) as conn:
        conn.execute("UPDATE runs SET git = ? WHERE run_id = ?", (json.dumps(inline), run_id))
    assert mlops.get_run(run_id).git["diff"] == "old style diff"


def test_downgrading_puts_each_diff_back_inline(tmp_store: str, dirty_repo: Path) -> None:
    ids = _sweep(2)
    mlops.set_store(None)  # close it: alembic takes the database
    engine = sa.create_engine(tmp_store)
    try:
        with engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(_migrations_dir()))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
    finally:
        engine.dispose()
    conn = _db(tmp_store)
    for run_id in ids:
        (text,) = conn.execute("SELECT git FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        git = json.loads(text)
        assert "first change" in git["diff"] and "diff_sha256" not in git
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'git_diffs'").fetchall()


@pytest.mark.postgres
@pytest.mark.slow
def test_diffs_stored_once_and_purged_on_postgresql(
    postgres_store_url: str,
    tmp_store: str,
    tmp_path: Path,
    dirty_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(tmp_path / "journals"))
    mlops.set_store(postgres_store_url)
    ids = _sweep(3)
    mlops.set_store(postgres_store_url)  # a second writer sends the same diff again
    ids += _sweep(1)
    engine = sa.create_engine(postgres_store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM git_diffs")).scalar() == 1
        assert all("first change" in mlops.get_run(i).git["diff"] for i in ids)
        for run_id in ids:
            mlops.archive_run(run_id)
            mlops.purge_run(run_id)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM git_diffs")).scalar() == 0
    finally:
        engine.dispose()


def test_runs_started_faster_than_captured_share_one_capture(
    tmp_store: str, dirty_repo: Path
) -> None:
    """Runs queued for capture while the capture thread is busy are captured in one call
    (one git read, one environment), each still recording its git state and environment, and
    a package imported before the next capture appears in the runs captured after it."""
    import importlib
    import sys
    import threading
    from importlib import metadata

    with mlops.start_run("first") as first:
        pass
    mlops.flush()
    writer = mlops.get_store().writer
    release = threading.Event()
    writer.submit_call(lambda: (release.wait(30), (first.run_id, {}))[1])
    batch = _sweep_unflushed(20)
    release.set()
    mlops.flush()
    conn = _db(tmp_store)
    rows = conn.execute(
        "SELECT run_id, status, end_time >= start_time, git, environment, last_update_time "
        f"FROM runs WHERE run_id IN ({','.join('?' * len(batch))})",
        batch,
    ).fetchall()
    assert len(rows) == 20
    assert {(r[1], r[2]) for r in rows} == {("FINISHED", 1)}
    assert len({r[4] for r in rows}) == 1 and all(r[4] for r in rows)
    assert conn.execute("SELECT COUNT(*) FROM git_diffs").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM params").fetchone()[0] == 20
    for run_id in batch:
        run = mlops.get_run(run_id)
        assert "first change" in run.git["diff"] and run.environment["packages"]
    # a distribution this process has not imported yet
    names = ("wcwidth", "idna", "pyparsing", "docutils", "pycparser")
    fresh = [n for n in names if n not in sys.modules and importlib.util.find_spec(n)]
    if not fresh:
        pytest.skip(f"{names} imported already: cannot watch one appear")
    (before,) = _sweep_unflushed(1)
    mlops.flush()
    module = importlib.import_module(fresh[0])
    (after,) = _sweep_unflushed(1)
    mlops.flush()
    dist = next(iter(metadata.packages_distributions()[fresh[0]])).lower()
    assert dist not in {k.lower() for k in mlops.get_run(before).environment["packages"]}
    assert dist in {k.lower() for k in mlops.get_run(after).environment["packages"]}
    assert module.__name__ == fresh[0]


def _sweep_unflushed(count: int) -> list[str]:
    ids = []
    for i in range(count):
        with mlops.start_run(f"s{i}", params={"i": i}) as run:
            mlops.log_metric("acc", i / 10)
        ids.append(run.run_id)
    return ids
