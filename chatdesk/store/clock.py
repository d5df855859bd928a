"""The database's clock as SQL, for every expiry that several processes judge together.

Outbox claims (and their heartbeats) are written and judged by the clock of the database,
never by the local clock of whichever host runs the statement: with two hosts whose clocks
disagree by minutes, a local-clock comparison lets a second daemon think a live claim has
lapsed and re-claim the row (issue 15, "judge expiry by the database's clock").

- PostgreSQL: ``now()`` (the transaction's start on the server; sessions use UTC).
- SQLite: ``strftime('%Y-%m-%d %H:%M:%f', 'now', '+N seconds')`` padded to the microsecond
  text format SQLAlchemy stores ``DateTime`` in (``YYYY-MM-DD HH:MM:SS.ffffff``), so values
  written here and values written from Python compare correctly as text and read back as
  datetimes. SQLite's ``'now'`` is the C library's clock, not Python's ``datetime.now``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, String, func, type_coerce
from sqlmodel import Session

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%f"  # seconds with milliseconds: 'SS.SSS'


def db_later(s: Session, seconds: float = 0.0) -> ColumnElement[datetime]:
    """SQL for "the database's now + ``seconds``" (seconds may be negative; non-finite -> 0).

    Raises nothing; the expression is evaluated by the database when the statement runs."""
    if not math.isfinite(seconds):
        seconds = 0.0
    if s.get_bind().dialect.name == "postgresql":
        if seconds == 0:
            return func.now()
        return func.now() + timedelta(seconds=seconds)
    modifier = f"{seconds:+.6f} seconds"
    text = func.strftime(_SQLITE_FORMAT, "now", modifier, type_=String()).concat("000")
    return type_coerce(text, DateTime())


def db_now(s: Session) -> ColumnElement[datetime]:
    """SQL for the database's current time (see :func:`db_later`)."""
    return db_later(s, 0.0)
