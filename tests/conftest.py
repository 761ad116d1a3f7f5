"""Fixtures shared by the whole test suite.

Only fixtures (and the small private helpers they need) live here. Sections:

1. Stores          -- ``tmp_store``: a fresh SQLite store and artifact directory.
2. PostgreSQL      -- ``postgres_url`` (session) / ``postgres_store_url`` (per test):
                      a real PostgreSQL server started from the installed binaries.
3. Notebooks       -- ``make_notebook``: write a small .ipynb from cell sources.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.plugins.lab"]


def _in_ci() -> bool:
    """True when running under CI (``CI=true``); missing services then fail, not skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _skip_or_fail(reason: str) -> None:
    """Skip the test locally, but fail it in CI so a broken CI machine is never green."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


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


# ---------------------------------------------------------------------------
# 2. PostgreSQL
#
# One real server per test session (per xdist worker), from the installed
# PostgreSQL binaries (Debian: /usr/lib/postgresql/<version>/bin, newest
# version wins; otherwise pg_ctl on PATH). It listens on 127.0.0.1 on a free
# port, its data directory lives in a temp dir, auth is "trust", superuser
# "postgres". initdb refuses to run as root, so when the tests run as root the
# server runs as the ``postgres`` system user (created by Debian's package)
# through ``runuser``.
# ---------------------------------------------------------------------------

_PG_USER = "postgres"
_PG_SESSION_DB = "mlops_session"


def _find_pg_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres, or None if PostgreSQL is absent."""

    def version_key(path: str) -> tuple[int, ...]:
        # /usr/lib/postgresql/<version>/bin/pg_ctl ; sort "9.6" < "15" < "16" numerically
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version_key)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PostgresServer:
    """A throwaway PostgreSQL cluster driven by initdb/pg_ctl."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        # As root the server runs as `postgres`, which must reach the data dir:
        # /tmp is world-traversable, a root-only $TMPDIR may not be.
        self.basedir = Path(
            tempfile.mkdtemp(prefix="jupyter-mlops-pg-", dir="/tmp" if self.as_root else None)
        )
        self.datadir = self.basedir / "data"
        self.logfile = self.basedir / "postgresql.log"
        self.host = "127.0.0.1"
        self.port = 0
        # Keep the user's PG* variables (PGDATA, PGPORT, ...) away from the server tools.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(LC_ALL="C", LANG="C")
        if self.as_root:
            import pwd

            try:
                pw = pwd.getpwnam(_PG_USER)
            except KeyError:
                raise RuntimeError(
                    "running as root, but there is no 'postgres' system user to run "
                    "PostgreSQL as (Debian's postgresql package creates it)"
                ) from None
            os.chown(self.basedir, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", _PG_USER, "--", *cmd]
            else:
                import shlex

                cmd = ["su", _PG_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        # cwd: the server user must be able to stat its working directory.
        return subprocess.run(
            cmd,
            cwd=self.basedir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        proc = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", _PG_USER,
            "--auth=trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        # Test-only settings: fast and disposable, TCP on loopback, socket in our dir.
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# jupyter-mlops test server\n"
                f"listen_addresses = '{self.host}'\n"
                f"unix_socket_directories = '{self.basedir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )
        # Pick a free port; retry if another process grabbed it in between.
        for _attempt in range(5):
            self.port = _free_port()
            proc = self._run(
                str(self.bindir / "pg_ctl"),
                "start", "-w", "-t", "60",
                "-D", str(self.datadir),
                "-l", str(self.logfile),
                "-o", f"-p {self.port}",
            )  # fmt: skip
            if proc.returncode == 0:
                return
            if "could not bind" not in self._log_tail() and "in use" not in self._log_tail():
                break
        raise RuntimeError(
            f"pg_ctl start failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
            f"--- {self.logfile} ---\n{self._log_tail()}"
        )

    def pause(self) -> None:
        """Stop the server, keeping its data: an outage (``resume`` ends it)."""
        proc = self._run(
            str(self.bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.datadir)
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed:\n{proc.stdout}{proc.stderr}")

    def resume(self) -> None:
        """Start the paused server again on the same port."""
        proc = self._run(
            str(self.bindir / "pg_ctl"),
            "start", "-w", "-t", "60",
            "-D", str(self.datadir),
            "-l", str(self.logfile),
            "-o", f"-p {self.port}",
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed:\n{proc.stdout}{proc.stderr}\n{self._log_tail()}"
            )

    def stop(self) -> None:
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run(
                    str(self.bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.datadir)
                )
        finally:
            shutil.rmtree(self.basedir, ignore_errors=True)

    def connect(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=_PG_USER, dbname=dbname, autocommit=True
        )

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{_PG_USER}@{self.host}:{self.port}/{dbname}"


def _create_database(server: _PostgresServer, name: str) -> None:
    from psycopg import sql

    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_PostgresServer]:
    bindir = _find_pg_bindir()
    if bindir is None:
        _skip_or_fail(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl and "
            "no pg_ctl on PATH); install them with `apt-get install postgresql` "
            "or run ./scripts/setup"
        )
    server = _PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_postgres_server() -> Iterator[_PostgresServer]:
    """A PostgreSQL server of this test's own (it may ``pause`` and ``resume`` it: an
    outage), with a database ``mlops`` at ``own_postgres_server.url("mlops")``."""
    bindir = _find_pg_bindir()
    if bindir is None:
        _skip_or_fail("PostgreSQL server binaries not found; run ./scripts/setup")
    server = _PostgresServer(bindir)
    try:
        server.start()
        _create_database(server, "mlops")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(_postgres_server: _PostgresServer) -> str:
    """SQLAlchemy URL of a database on a real PostgreSQL server shared by the session.

    ``postgresql+psycopg://postgres@127.0.0.1:PORT/mlops_session``. Tests that need
    isolation should use ``postgres_store_url`` instead.
    """
    _create_database(_postgres_server, _PG_SESSION_DB)
    return _postgres_server.url(_PG_SESSION_DB)


@pytest.fixture
def postgres_store_url(_postgres_server: _PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database for this test only.

    The database is dropped afterwards (connections left open are terminated).
    """
    from psycopg import sql

    name = f"mlops_test_{uuid.uuid4().hex[:12]}"
    _create_database(_postgres_server, name)
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
