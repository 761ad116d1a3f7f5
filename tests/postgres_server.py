"""A throwaway PostgreSQL server, from the installed binaries: for the tests' fixtures
(``tests/conftest.py``) and the outage benchmark (``benchmarks/durability.py``).

Debian's binaries (``/usr/lib/postgresql/<version>/bin``, newest version wins; otherwise
``pg_ctl`` on PATH). The server listens on 127.0.0.1 on a free port, its data directory lives
in a temp dir, auth is "trust", superuser "postgres". initdb refuses to run as root, so as
root the server runs as the ``postgres`` system user (created by Debian's package) through
``runuser``. ``pause``/``resume`` stop and start it on the same port, keeping its data: an
outage.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PG_USER = "postgres"


def find_pg_bindir() -> Path | None:
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
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
                pw = pwd.getpwnam(PG_USER)
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
                cmd = ["runuser", "-u", PG_USER, "--", *cmd]
            else:
                import shlex

                cmd = ["su", PG_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
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
            "-U", PG_USER,
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
            self.port = free_port()
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

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=PG_USER, dbname=dbname, autocommit=True
        )

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{dbname}"


def create_database(server: PostgresServer, name: str) -> None:
    from psycopg import sql

    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
