"""Fixtures shared by the whole test suite.

Only fixtures (and the small private helpers they need) live here. Sections:

1. Stores          -- ``tmp_store``: a fresh SQLite store and artifact directory.
2. PostgreSQL      -- ``postgres_url`` (session) / ``postgres_store_url`` (per test):
                      a real PostgreSQL server started from the installed binaries.
3. Notebooks       -- ``make_notebook``: write a small .ipynb from cell sources.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.components import skip_or_fail as _skip_or_fail
from tests.postgres_server import PostgresServer, create_database, find_pg_bindir

pytest_plugins = ["tests.plugins.lab"]


# ---------------------------------------------------------------------------
# 1. Stores
# ---------------------------------------------------------------------------


@pytest.fixture
def tmp_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty SQLite store in ``tmp_path``; yields its SQLAlchemy URL.

    Also points ``JUPYTER_MLOPS_STORE`` at it and ``JUPYTER_MLOPS_ARTIFACTS`` at
    ``tmp_path / "artifacts"`` so code resolving the store from the environment
    (including subprocesses and kernels started by the test) uses it.
    """
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    monkeypatch.setenv("JUPYTER_MLOPS_STORE", url)
    monkeypatch.setenv("JUPYTER_MLOPS_ARTIFACTS", str(artifacts))
    monkeypatch.delenv("JUPYTER_MLOPS_EXPERIMENT", raising=False)
    monkeypatch.delenv("JUPYTER_MLOPS_PARENT_RUN", raising=False)
    from jupyter_mlops.tracking import fluent

    fluent.reset()  # forget any store/experiment an earlier test in this process used
    yield url
    fluent.reset()


@pytest.fixture
def git_head() -> str | None:
    """The commit checked out in the working directory, or None when it is no git checkout:
    what a run started here must record as its git commit."""
    import subprocess

    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


# ---------------------------------------------------------------------------
# 2. PostgreSQL
#
# One real server per test session (per xdist worker), started by
# tests/postgres_server.py from the installed PostgreSQL binaries (shared with
# the outage benchmark in benchmarks/durability.py).
# ---------------------------------------------------------------------------

_PG_SESSION_DB = "mlops_session"


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[PostgresServer]:
    bindir = find_pg_bindir()
    if bindir is None:
        _skip_or_fail(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl and "
            "no pg_ctl on PATH); install them with `apt-get install postgresql` "
            "or run ./scripts/setup"
        )
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (it may ``pause`` and ``resume`` it: an
    outage), with a database ``mlops`` at ``own_postgres_server.url("mlops")``."""
    bindir = find_pg_bindir()
    if bindir is None:
        _skip_or_fail("PostgreSQL server binaries not found; run ./scripts/setup")
    server = PostgresServer(bindir)
    try:
        server.start()
        create_database(server, "mlops")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(_postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a database on a real PostgreSQL server shared by the session.

    ``postgresql+psycopg://postgres@127.0.0.1:PORT/mlops_session``. Tests that need
    isolation should use ``postgres_store_url`` instead.
    """
    create_database(_postgres_server, _PG_SESSION_DB)
    return _postgres_server.url(_PG_SESSION_DB)


@pytest.fixture
def postgres_store_url(_postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database for this test only.

    The database is dropped afterwards (connections left open are terminated).
    """
    from psycopg import sql

    name = f"mlops_test_{uuid.uuid4().hex[:12]}"
    create_database(_postgres_server, name)
    yield _postgres_server.url(name)
    with _postgres_server.connect() as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


# ---------------------------------------------------------------------------
# 3. Notebooks
# ---------------------------------------------------------------------------


@pytest.fixture
def make_notebook(tmp_path: Path) -> Callable[..., Path]:
    """``make_notebook("name.ipynb", "code", ("code", ["tag"]), ...)`` writes a notebook.

    Each cell is its source, or ``(source, tags)``; returns the notebook's path.
    """
    import nbformat

    def make(name: str, *cells: str | tuple[str, list[str]]) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        for cell in cells:
            source, tags = (cell, []) if isinstance(cell, str) else cell
            node = nbformat.v4.new_code_cell(source)
            if tags:
                node.metadata["tags"] = list(tags)
            notebook.cells.append(node)
        path = tmp_path / name
        nbformat.write(notebook, path)
        return path

    return make
