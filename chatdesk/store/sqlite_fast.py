"""SQLite-only fast paths for sync ingestion: the bulk message insert and the duplicate check.

SQLAlchemy's per-row parameter processing cost more than SQLite's own work when thousands of
messages arrive per second; here rows go straight to the driver's ``executemany``. Times are
written in exactly the text form SQLAlchemy's SQLite ``DateTime`` uses, so both paths store
identical rows (a test compares them). Other engines use the generic Core insert.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

COLUMNS = ("chat_id", "external_id", "author", "text", "created_at", "attachments", "state")
_SQL = (
    f"INSERT INTO message ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (chat_id, external_id) DO NOTHING"
)


def sqlite_time(dt: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores for an aware UTC datetime
    (``YYYY-MM-DD HH:MM:SS.ffffff``, microseconds always written)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(" ", "microseconds")


def _value(column: str, value: object) -> object:
    """A message column as the driver takes it: ``created_at`` in SQLAlchemy's SQLite text form."""
    return sqlite_time(value) if column == "created_at" and isinstance(value, datetime) else value


def _cursor(conn: Connection) -> sqlite3.Cursor:
    """A cursor of the sqlite3 connection under ``conn`` (this module is SQLite-only)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw.cursor()


def insert_messages(conn: Connection, rows: list[dict[str, object]]) -> None:
    values = [tuple(_value(c, r[c]) for c in COLUMNS) for r in rows]
    cursor = _cursor(conn)
    try:
        cursor.executemany(_SQL, values)
    finally:
        cursor.close()


def existing_pairs(conn: Connection, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (chat id, external id) pairs are stored: a row-value IN over the unique index,
    without SQLAlchemy compiling a statement with hundreds of parameters each time."""
    found: set[tuple[int, str]] = set()
    cursor = _cursor(conn)
    try:
        for start in range(0, len(pairs), 400):
            chunk = pairs[start : start + 400]
            marks = ", ".join(["(?, ?)"] * len(chunk))
            flat = [v for pair in chunk for v in pair]
            sql = f"SELECT chat_id, external_id FROM message WHERE (chat_id, external_id) IN (VALUES {marks})"
            found.update((r[0], r[1]) for r in cursor.execute(sql, flat))
    finally:
        cursor.close()
    return found


def update_by_id(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """``UPDATE table SET columns WHERE id = ?`` for many rows; each row is the column values
    followed by the id. Datetimes are written as SQLAlchemy would write them."""
    sql = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"
    values = [tuple(sqlite_time(v) if isinstance(v, datetime) else v for v in row) for row in rows]
    cursor = _cursor(conn)
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()
