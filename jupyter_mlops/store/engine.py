"""Opening a store: engine with the right pragmas, schema check and migration.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so that several kernels writing at once wait for each other instead of
failing with "database is locked" (a deferred transaction that reads first cannot be upgraded
to a writer while another writer committed in between, and SQLite does not retry that).
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from ..config import mask_url
from ..exceptions import (
    InvalidStoreURLError,
    SchemaTooNewError,
    StoreError,
    StoreUnreachableError,
)
from .schema import SCHEMA_HEAD

SQLITE_BUSY_TIMEOUT_S = 60.0
WRITE = {"mlops_write": True}


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; raises typed errors naming the (masked) URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidStoreURLError(f"Invalid store URL {mask_url(url)!r}: {exc}") from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(url, parsed.database)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (NoSuchModuleError, ImportError) as exc:
        raise InvalidStoreURLError(
            f"Store URL {mask_url(url)!r} needs a database driver that is not installed: {exc}"
            " (for PostgreSQL: pip install 'jupyter-mlops[postgres]')"
        ) from None
    except ArgumentError as exc:
        raise InvalidStoreURLError(f"Invalid store URL {mask_url(url)!r}: {exc}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        message = reason[0] if reason else type(exc).__name__
        if parsed.password:  # a driver may echo its connection string: never the password
            message = message.replace(str(parsed.password), "***")
        raise StoreUnreachableError(f"Cannot open store {mask_url(url)!r}: {message}") from None
    return engine


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        parent = Path(database).expanduser().resolve().parent
        if not parent.exists():
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnreachableError(
                    f"Cannot create the directory of store {mask_url(url)!r}: {exc}"
                ) from None
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred-only).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("mlops_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the lock.

    Processes opening a fresh store at once all switch it to WAL, which takes an exclusive
    lock. Two that each hold a shared lock and want it are deadlocked, and SQLite fails one
    at once ("database is locked") instead of calling the busy handler. Once the winner has
    switched, the pragma finds WAL and needs no lock, so a short retry succeeds.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory(str(_migrations_dir())).walk_revisions()}


def _migrations_dir() -> Path:
    return Path(__file__).parent / "migrations"


def ensure_schema(engine: Engine, url: str) -> None:
    """Create or upgrade the schema to ``SCHEMA_HEAD``; refuse a newer one without writing."""
    try:
        with engine.connect() as conn:
            revision = current_revision(conn)
    except OperationalError as exc:
        raise StoreUnreachableError(f"Cannot read store {mask_url(url)!r}: {exc.orig}") from None
    if revision == SCHEMA_HEAD:
        return
    if revision is not None and revision not in _known_revisions():
        raise SchemaTooNewError(
            f"Store {mask_url(url)!r} has schema revision {revision!r}, written by a newer "
            f"jupyter-mlops (this one knows up to {SCHEMA_HEAD!r}). Upgrade jupyter-mlops; "
            "nothing was written to the store."
        )
    _upgrade(engine, url)


def _upgrade(engine: Engine, url: str) -> None:
    try:
        _run_migrations(engine)
    except OperationalError as exc:
        # e.g. another application's database that already has a table called "runs": say
        # so, instead of the CREATE TABLE statement and SQLAlchemy's background link.
        raise StoreError(
            f"Cannot create or upgrade the jupyter-mlops tables in store {mask_url(url)!r}: "
            f"{str(exc.orig).strip()}. Is it another application's database? Use a separate "
            "file or database for jupyter-mlops."
        ) from None


def _run_migrations(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            # Two processes opening a fresh database at once must not both create tables.
            conn.execute(text("SELECT pg_advisory_xact_lock(7326510)"))
        if current_revision(conn) == SCHEMA_HEAD:  # another process won the race
            return
        cfg = Config()
        cfg.set_main_option("script_location", str(_migrations_dir()))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
