"""SQL that differs between SQLite and PostgreSQL: upserts and multi-row inserts.

Rows go in multi-row statements (``INSERT ... VALUES (...), (...), ...``): the database driver
releases the GIL around each statement it runs, and with one statement per row (executemany)
every row waits for a busy cell thread to hand the GIL back (up to the 5 ms switch interval),
so a cell logging in a tight loop starved the writer. Multi-row statements make that once per
chunk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table

# Bound parameters per statement: SQLite before 3.32 allows 999, later 32766; PostgreSQL 65535.
MAX_PARAMS = 999 if sqlite3.sqlite_version_info < (3, 32, 0) else 30_000

_sql_cache: dict[tuple[str, ...], str] = {}


def placeholder(conn: Connection) -> str:
    """The driver's placeholder for a bound parameter (``?`` or ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the connection's driver (rows as plain tuples, no SQLAlchemy per row),
    closed afterwards. SQL run on it takes ``placeholder`` markers."""
    raw = conn.connection.dbapi_connection
    assert raw is not None  # a connection in use has its driver connection
    cursor = raw.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] | None = None,
    update_sql: str | None = None,
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` with multi-row statements.

    With ``conflict`` (the unique columns), a row that exists already is updated with the new
    values of ``update`` (default: every other column), or left alone when ``update`` is
    empty. Rows must then be unique on ``conflict`` within one call (PostgreSQL refuses to
    update a row twice in one statement): see ``last_per_key``.

    Through SQLAlchemy (``exec_driver_sql``), not the driver's cursor: its errors must arrive
    as SQLAlchemy's (OperationalError for a busy or dropped database, which the writer
    retries; IntegrityError/DataError for a bad row, which it isolates).
    """
    if rows:
        insert_flat(
            conn, table, columns, list(chain.from_iterable(rows)),
            conflict=conflict, update=update, update_sql=update_sql,
        )  # fmt: skip


def insert_flat(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    values: list[Any],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] | None = None,
    update_sql: str | None = None,
) -> None:
    """``insert_rows`` for rows given one after the other in one flat list of values (what
    the statements bind): metric points are laid out so by slice assignment, in C, without
    a tuple per row."""
    width = len(columns)
    if not values:
        return
    if len(values) % width:
        raise ValueError(f"{len(values)} values do not make rows of {width} columns")
    per_statement = max(1, min(2_000, MAX_PARAMS // width))
    marker = placeholder(conn)
    quoted = ", ".join(f'"{c}"' for c in columns)
    if conflict:
        targets = ", ".join(f'"{c}"' for c in conflict)
        changed = [c for c in columns if c not in conflict] if update is None else list(update)
        if update_sql:
            tail = f" ON CONFLICT ({targets}) DO UPDATE SET {update_sql}"
        elif changed:
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in changed)
            tail = f" ON CONFLICT ({targets}) DO UPDATE SET {sets}"
        else:
            tail = f" ON CONFLICT ({targets}) DO NOTHING"
    else:
        tail = ""
    row_sql = "(" + ", ".join([marker] * width) + ")"
    step = per_statement * width
    for start in range(0, len(values), step):
        part = tuple(values[start : start + step])
        count = len(part) // width
        key = (table, quoted, tail, marker, str(count))
        sql = _sql_cache.get(key)
        if sql is None:
            sql = f'INSERT INTO "{table}" ({quoted}) VALUES ' + ", ".join([row_sql] * count)
            sql += tail
            _sql_cache[key] = sql
        conn.exec_driver_sql(sql, part)


def in_chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``, for ``IN (...)`` lists: SQLite caps the bound
    parameters of a statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def last_per_key(rows: Sequence[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    """``rows`` with one row per key (the first ``width`` values), the last one winning, in
    first-seen order: what a sequence of upserts would leave behind."""
    latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        latest[row[:width]] = row
    return list(latest.values())


def upsert_row(conn: Connection, table: Table, row: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``row``, or update the existing row with the same ``keys``."""
    columns = list(row)
    insert_rows(conn, table.name, columns, [tuple(row[c] for c in columns)], conflict=keys)


# Evenly spaced step targets from a recursive CTE, one index seek each. Parameters: number of
# points, series id, lo, hi, lo, number of points. SQLite turns an overflowing integer product
# into a float by itself; PostgreSQL raises on BIGINT overflow, so there the arithmetic is
# NUMERIC and the target is cast back to BIGINT (so the step index is still used).
_SEEK_TARGET = {
    "sqlite": "CAST(? AS BIGINT) + (CAST(? AS BIGINT) - CAST(? AS BIGINT)) * t.i "
    "/ (CAST(? AS INTEGER) - 1)",
    "postgresql": "CAST(FLOOR(CAST(? AS NUMERIC) + (CAST(? AS NUMERIC) - CAST(? AS NUMERIC)) "
    "* t.i / (CAST(? AS INTEGER) - 1)) AS BIGINT)",
}

_SEEK_SQL = """
WITH RECURSIVE targets(i) AS (
    SELECT 0 UNION ALL SELECT i + 1 FROM targets WHERE i < CAST(? AS INTEGER) - 1
)
SELECT m.step, m.timestamp, m.value FROM metrics m WHERE m.id IN (
    SELECT (SELECT id FROM metrics
            WHERE series_id = ? AND step >= {target}
            ORDER BY step, id LIMIT 1)
    FROM targets t
) ORDER BY m.step, m.id
"""

_RANK_SQL = """
SELECT step, timestamp, value FROM (
    SELECT step, timestamp, value, ROW_NUMBER() OVER (ORDER BY step, id) - 1 AS rn
    FROM metrics WHERE series_id = ?
) ranked WHERE rn % ? = 0 OR rn = ? - 1 ORDER BY rn
"""


def seek_sql(conn: Connection) -> str:
    """The evenly-spaced-steps query for this connection's driver."""
    target = _SEEK_TARGET.get(conn.dialect.name, _SEEK_TARGET["postgresql"])
    return driver_sql(_SEEK_SQL.format(target=target), placeholder(conn))


def rank_sql(conn: Connection) -> str:
    """The every-n-th-point query (few distinct steps) for this connection's driver."""
    return driver_sql(_RANK_SQL, placeholder(conn))


def driver_sql(sql: str, marker: str) -> str:
    """``sql`` written with ``?`` placeholders, for a driver using ``marker`` instead."""
    if marker == "?":
        return sql
    return sql.replace("%", "%%").replace("?", marker)  # pyformat: a literal % is %%


def update_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """``UPDATE table SET columns... WHERE key = ?`` for each row (the new values, then the
    key), as one driver-level executemany: no per-row work in SQLAlchemy."""
    if not rows:
        return
    marker = placeholder(conn)
    sets = ", ".join(f'"{c}" = {marker}' for c in columns)
    conn.exec_driver_sql(
        f'UPDATE "{table}" SET {sets} WHERE "{key}" = {marker}', [tuple(r) for r in rows]
    )
